"""Credential and clock problems that no single error line shows.

Sudden onset: authentication, token or signature errors that start at one instant and then
hit (nearly) every request of a gateway. One such error is a finding; every request failing
from 14:02:13 on is a credential change (a rolled key, a token that expired and was not
refreshed, a rotated signing secret), and the instant tells where to look.

Clock skew: signature errors on requests whose own signed timestamp is far from the time
they were logged; the skew is reported, since it is the fix (sync the clock).

A gateway whose logs show no successful call at all has no "every request" to compare
with (an errors-only log): it gets no onset incident, and its errors stay findings.

Memory: a MinuteTable row per gateway, source and minute (12 bytes, 16 more where
authentication fails), the kinds of the
failures per minute, and up to MAX_AUTH_IDS failing transaction IDs, beyond that a sample
(an incident lists the sampled ones).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paydiag.diagnose.incidents.common import (
    AUTH_CATEGORIES,
    MAX_GATEWAYS,
    SAMPLE_IDS,
    add_capped,
    earliest,
    gateway_label,
    latest,
    median,
    merge_keyed,
    order_id,
    plural,
    same_kind,
    span_text,
)
from paydiag.diagnose.incidents.model import ChunkObservations, Detector, Incident, Observation
from paydiag.diagnose.incidents.series import (
    Columns,
    IdSample,
    LabelCounts,
    MinuteTable,
    Page,
    keep_earliest,
    keep_latest,
    micros,
    minute_key,
    moment_at,
)
from paydiag.diagnose.incidents.thresholds import at_least, check, share

_MAX_SKEWS = 2_000  # skews kept per gateway for the median


@dataclass(frozen=True)
class CredentialThresholds:
    """When authentication failures are a credential change or clock skew. Defaults in brackets.

    onset_share: share of a minute's calls failing authentication that counts as "every
        request" [0.8].
    min_failures: authentication failures a sudden-onset incident needs [5].
    skew_seconds: a signed request time this far from the log time is skewed [300]
        (gateways accept a few minutes: Stripe webhooks 5, AWS-style signatures 15).
    min_skewed: skewed signature failures a clock-skew incident needs [3].
    """

    enabled: bool = True
    onset_share: float = field(default=0.8, metadata=share())
    min_failures: int = field(default=5, metadata=at_least(1))
    skew_seconds: float = field(default=300.0, metadata=at_least(1))
    min_skewed: int = field(default=3, metadata=at_least(1))

    def __post_init__(self) -> None:
        check(self, "incidents.credentials")


_Partition = tuple[str | None, str]  # (gateway, source): one integration's credentials
MAX_AUTH_IDS = 2_000  # transaction IDs of authentication failures kept, 100 to 300 bytes each
_KINDS = tuple(sorted(AUTH_CATEGORIES))  # a failure's kind is stored as its index here
# The columns of a minute: calls, first and last success; the extra ones, made for pages
# where authentication fails: failures, skewed failures, first and last failure.
_CALLS, _FIRST_SUCCESS, _LAST_SUCCESS = range(3)
_COLUMNS = "+<>"
_FAILURES, _SKEWED, _FIRST_FAILURE, _LAST_FAILURE = range(4)
_EXTRA = "++<>"


@dataclass(frozen=True, slots=True)
class _Minute:
    """One integration's minute, read back from its table row."""

    partition: _Partition
    minute: int  # minute_key()
    calls: int = 0
    failures: int = 0  # authentication, token and signature errors
    skewed: int = 0
    first_failure: datetime | None = None
    last_failure: datetime | None = None
    first_success: datetime | None = None
    last_success: datetime | None = None

    @classmethod
    def at(cls, partition: _Partition, columns: Columns, index: int) -> _Minute:
        minute, extra = columns.minutes[index], columns.extra
        return cls(
            partition,
            minute,
            columns.ints[_CALLS][index],
            extra[_FAILURES][index],
            extra[_SKEWED][index],
            moment_at(minute, extra[_FIRST_FAILURE][index]),
            moment_at(minute, extra[_LAST_FAILURE][index]),
            moment_at(minute, columns.ints[_FIRST_SUCCESS][index]),
            moment_at(minute, columns.ints[_LAST_SUCCESS][index]),
        )


@dataclass
class _Skews:
    count: int = 0
    seconds: list[float] = field(default_factory=list)
    largest: float = 0.0
    first: datetime | None = None
    last: datetime | None = None
    ids: dict[str, None] = field(default_factory=dict)

    def add(self, observation: Observation, skew: float) -> None:
        self.count += 1
        if len(self.seconds) < _MAX_SKEWS:
            self.seconds.append(skew)
        if abs(skew) > abs(self.largest):
            self.largest = skew
        when = observation.time
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)
        if (oid := order_id(observation.transaction_ids)) is not None:
            add_capped(self.ids, (oid,), SAMPLE_IDS)

    def merge(self, later: _Skews) -> None:
        self.count += later.count
        self.seconds.extend(later.seconds[: _MAX_SKEWS - len(self.seconds)])
        if abs(later.largest) > abs(self.largest):
            self.largest = later.largest
        self.first = earliest(self.first, later.first)
        self.last = latest(self.last, later.last)
        add_capped(self.ids, later.ids, SAMPLE_IDS)


def is_auth_failure(observation: Observation) -> bool:
    return observation.failed and observation.category in AUTH_CATEGORIES


def skew_seconds(observation: Observation) -> float | None:
    """How far the signed request time is ahead (+) or behind (-) the log time."""
    if observation.request_time is None:
        return None
    return (observation.request_time - observation.time).total_seconds()


_MAX_PARTITIONS = 4 * MAX_GATEWAYS
_MERGE_GAP = timedelta(minutes=3)


@dataclass
class _Run:
    """Minutes in which (nearly) every call of one gateway failed authentication."""

    gateway: str | None
    buckets: list[_Minute]
    # Calls that did not fail authentication before the run, in the source where it began,
    # and the last success among them.
    healthy_before: int
    last_ok_before: datetime | None
    still_failing: bool  # the run lasts to the last minute its source shows
    start: datetime
    end: datetime

    def absorb(self, later: _Run) -> None:
        """The same failure seen in another file (a rotated log, another worker)."""
        self.buckets.extend(later.buckets)
        if later.end >= self.end:
            self.still_failing = later.still_failing
        self.end = max(self.end, later.end)

    @property
    def failures(self) -> int:
        return sum(b.failures for b in self.buckets)

    @property
    def skewed(self) -> int:
        return sum(b.skewed for b in self.buckets)


class CredentialDetector:
    name = "credentials"

    def __init__(self, thresholds: CredentialThresholds | None = None) -> None:
        self.thresholds = thresholds or CredentialThresholds()
        # Per gateway and source: two integrations of one gateway (say its v1 and v2 APIs
        # in two services) have their own credentials.
        self._minutes: MinuteTable[_Partition] = MinuteTable(
            _COLUMNS, extra=_EXTRA, max_keys=_MAX_PARTITIONS
        )
        self._kinds: LabelCounts[_Partition] = LabelCounts()
        self._ids: IdSample[_Partition] = IdSample(MAX_AUTH_IDS)
        self._skews: dict[str | None, _Skews] = {}

    def observe(self, observation: Observation) -> None:
        partition = (observation.gateway, observation.source)
        minute = minute_key(observation.time)
        found = self._minutes.row(partition, minute)
        if found is None:
            return
        page, offset = found
        cells, base = page.ints, offset * len(_COLUMNS)
        cells[base + _CALLS] += 1
        moment = micros(observation.time)
        if not observation.failed:
            keep_earliest(cells, base + _FIRST_SUCCESS, moment)
            keep_latest(cells, base + _LAST_SUCCESS, moment)
            return
        if not is_auth_failure(observation):
            return
        extra, start = self._minutes.extra(page), offset * len(_EXTRA)
        extra[start + _FAILURES] += 1
        keep_earliest(extra, start + _FIRST_FAILURE, moment)
        keep_latest(extra, start + _LAST_FAILURE, moment)
        self._kinds.add(partition, minute, {_KINDS.index(observation.category or ""): 1})
        if (oid := order_id(observation.transaction_ids)) is not None:
            self._ids.add(partition, minute, oid)
        skew = skew_seconds(observation)
        if skew is not None and abs(skew) >= self.thresholds.skew_seconds:
            extra[start + _SKEWED] += 1
            self._skews.setdefault(observation.gateway, _Skews()).add(observation, skew)

    def observe_chunk(self, chunk: ChunkObservations) -> None:
        for _offset, observation in chunk.failures:
            self.observe(observation)
        source = chunk.activity.source
        for group in chunk.activity.minutes.values():
            found = self._minutes.count((group.gateway, source), group.minute, group.calls)
            if found is not None:
                page, offset = found
                cells, base = page.ints, offset * len(_COLUMNS)
                keep_earliest(cells, base + _FIRST_SUCCESS, group.first)
                keep_latest(cells, base + _LAST_SUCCESS, group.last)

    def shift_lines(self, lines: int) -> None:
        """No line numbers are held."""

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, CredentialDetector)
        self._minutes.merge(later._minutes)
        self._kinds.merge(later._kinds)
        self._ids.merge(later._ids)
        merge_keyed(self._skews, later._skews, MAX_GATEWAYS, _Skews.merge)

    def incidents(self) -> list[Incident]:
        healthy = {
            gateway
            for gateway, source in self._minutes
            if any(
                p.ints[o * len(_COLUMNS) + _LAST_SUCCESS] >= 0
                for _, p, o in self._rows(gateway, source)
            )
        }
        runs: dict[str | None, list[_Run]] = {}
        for gateway, source in self._minutes:
            if gateway in healthy:  # without successes, "every request" means nothing
                runs.setdefault(gateway, []).extend(self._runs((gateway, source)))
        found = [
            _onset(run, self._kinds_of, self._ids_of)
            for gateway_runs in runs.values()
            for run in _merged(gateway_runs)
            if run.failures >= self.thresholds.min_failures
            # Failures a skewed clock explains are reported as clock skew instead.
            and run.skewed * 2 < run.failures
        ]
        for gateway, skews in self._skews.items():
            if skews.count >= self.thresholds.min_skewed:
                found.append(_clock_skew(gateway, skews, self.thresholds.skew_seconds))
        return found

    def _rows(self, gateway: str | None, source: str) -> Iterator[tuple[int, Page, int]]:
        return self._minutes.rows((gateway, source))

    def _kinds_of(self, bucket: _Minute) -> Counter[str]:
        counts = self._kinds.get(bucket.partition, bucket.minute)
        return Counter({_KINDS[label]: count for label, count in counts.items()})

    def _ids_of(self, bucket: _Minute) -> dict[str, None]:
        return self._ids.between(bucket.partition, bucket.minute, bucket.minute)

    def _runs(self, partition: _Partition) -> list[_Run]:
        """Runs of minutes of one source where (nearly) every call failed authentication."""
        columns = self._minutes.columns(partition)
        calls, failures = columns.ints[_CALLS], columns.extra[_FAILURES]
        share_ = self.thresholds.onset_share
        spans: list[tuple[int, int]] = []
        start: int | None = None
        for index in range(len(calls) + 1):
            broken = (
                index < len(calls)
                and failures[index] > 0
                and failures[index] >= share_ * calls[index]
            )
            if broken and start is None:
                start = index
            elif not broken and start is not None:
                spans.append((start, index - 1))
                start = None
        runs = []
        for first, last in spans:
            # The minute before may hold the first failures, mixed with the last successes.
            if first > 0 and failures[first - 1]:
                first -= 1
            buckets = [_Minute.at(partition, columns, index) for index in range(first, last + 1)]
            successes = columns.ints[_LAST_SUCCESS]
            last_ok = next((i for i in range(first - 1, -1, -1) if successes[i] >= 0), None)
            runs.append(
                _Run(
                    gateway=partition[0],
                    buckets=buckets,
                    healthy_before=sum(calls[:first]) - sum(failures[:first]),
                    last_ok_before=None
                    if last_ok is None
                    else moment_at(columns.minutes[last_ok], successes[last_ok]),
                    still_failing=last == len(calls) - 1,
                    start=next(b.first_failure for b in buckets if b.first_failure),
                    end=next(b.last_failure for b in reversed(buckets) if b.last_failure),
                )
            )
        return runs


def _merged(runs: list[_Run]) -> list[_Run]:
    """Runs of one gateway from several sources that overlap in time, as one."""
    merged: list[_Run] = []
    for run in sorted(runs, key=lambda r: r.start):
        if merged and run.start <= merged[-1].end + _MERGE_GAP:
            merged[-1].absorb(run)
        else:
            merged.append(run)
    return merged


_CAUSES = {
    "auth_credentials": (
        "The API key was rolled, revoked or expired at that moment (the gateway dashboard's key "
        "history shows when) and this service still uses the old one.",
        "A deploy or configuration change swapped the key: another environment's key, a "
        "truncated or mis-quoted secret.",
    ),
    "auth_token": (
        "An OAuth access token expired and was not refreshed: the refresh job failed, or the "
        "token is cached longer than its lifetime (`expires_in`).",
        "The refresh token or client secret was revoked or rotated, so refreshing fails too.",
    ),
    "signature": (
        "The signing secret or key was rotated (webhook signing secret, private key, HMAC key) "
        "on one side only.",
        "A deploy changed how the payload is serialised or signed (the signature must cover the "
        "exact bytes sent).",
    ),
}
_FIX = {
    "auth_credentials": "Put the current key in the secret store for every host and restart or "
    "redeploy so every worker reloads it; revoke the old key only afterwards.",
    "auth_token": "Refresh the token before it expires (at `expires_in` minus a margin) and, on "
    "a 401, refresh once and retry; alert when refreshing fails.",
    "signature": "Install the current signing secret or key on both sides (during a rotation, "
    "accept both old and new) and sign the exact bytes you send.",
}
_WHAT = {
    "auth_credentials": "authentication",
    "auth_token": "with an expired or invalid token",
    "signature": "signature verification",
}


def _onset(
    run: _Run,
    kinds_of: Callable[[_Minute], Counter[str]],
    ids_of: Callable[[_Minute], dict[str, None]],
) -> Incident:
    gateway, buckets, start, end = run.gateway, run.buckets, run.start, run.end
    failures = run.failures
    calls = sum(b.calls for b in buckets)
    categories: Counter[str] = Counter()
    ids: dict[str, None] = {}
    for bucket in buckets:
        if bucket.failures:
            categories.update(kinds_of(bucket))
            add_capped(ids, ids_of(bucket), SAMPLE_IDS)
    category = categories.most_common(1)[0][0]
    healthy, last_ok = run.healthy_before, run.last_ok_before
    opening = buckets[0].first_success
    if opening is not None and opening < start:
        last_ok = opening
    still_failing = run.still_failing
    name = gateway_label(gateway)
    what = _WHAT.get(category, "authentication")
    until = "until the log ends" if still_failing else f"until {end:%H:%M:%S} UTC"
    if healthy:
        since = f"From {start:%H:%M:%S} UTC"
        after = f" The last successful call was at {last_ok:%H:%M:%S} UTC." if last_ok else ""
        shape = (
            " A failure that starts at one instant and then hits every request is a credential "
            "change, not a bad request."
        )
    else:
        since, after, shape = "From the start of the log", "", ""
    summary = (
        f"{since} (nearly) every request to {name} failed {what}, {until}: "
        f"{failures:,} of {calls:,} calls.{after}{shape}"
    )
    figures: dict[str, float | int | str] = {
        "failed_calls": failures,
        "calls": calls,
        "successful_calls_before": healthy,
        "still_failing_at_end": "yes" if still_failing else "no",
        "error_kinds": ", ".join(f"{c} ×{n}" for c, n in categories.most_common()),
    }
    if last_ok is not None:
        figures["last_success_before"] = last_ok.isoformat().replace("+00:00", "Z")
    fixes = (
        f"Find what changed at {start:%H:%M:%S} UTC: key rolls or revocations in the gateway "
        "dashboard, deploys, secret-store or configuration changes.",
        _FIX.get(category, _FIX["auth_credentials"]),
        "Retry the failed payments only after the fix, and only with their original idempotency "
        "keys.",
        "Alert on authentication failures: they should be zero, so one minute of them is a signal.",
    )
    return Incident(
        kind="credential_failure",
        gateway=gateway,
        start=start,
        end=end,
        severity="critical" if still_failing or failures >= 20 else "high",
        title=f"Credentials stopped working at {start:%H:%M:%S} UTC: {name} requests fail {what}",
        summary=summary,
        fault="merchant_config",
        figures=figures,
        transactions=tuple(ids),
        causes=_CAUSES.get(category, _CAUSES["auth_credentials"]),
        fixes=fixes,
    )


def _duration(seconds: float) -> str:
    whole = round(abs(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _clock_skew(gateway: str | None, skews: _Skews, tolerance: float) -> Incident:
    assert skews.first is not None and skews.last is not None
    name = gateway_label(gateway)
    typical = median(skews.seconds)
    direction = "ahead of" if typical > 0 else "behind"
    summary = (
        f"{plural(skews.count, 'signature or authentication failure')} of {name} carried a "
        f"request time {_duration(typical)} {direction} the time they were logged (largest "
        f"{_duration(skews.largest)}), from {skews.first:%H:%M:%S} to {skews.last:%H:%M:%S} "
        f"UTC; gateways reject signed requests more than a few minutes off their clock."
    )
    return Incident(
        kind="clock_skew",
        gateway=gateway,
        start=skews.first,
        end=skews.last,
        severity="high",
        title=f"Clock skew: {name} requests signed {_duration(typical)} {direction} the log "
        f"clock, {span_text(skews.first, skews.last)}",
        summary=summary,
        fault="merchant_config",
        figures={
            "skewed_failures": skews.count,
            "median_skew_seconds": round(typical),
            "largest_skew_seconds": round(skews.largest),
            "tolerance_seconds": round(tolerance),
        },
        transactions=tuple(skews.ids),
        causes=(
            "The clock of the host that signs requests is wrong: NTP or chrony not running or "
            "blocked, a VM or container resumed from suspend, hardware clock drift.",
            "The signing code builds the timestamp wrongly: local time labelled as UTC, a time "
            "zone offset, or a timestamp cached or taken long before the request is sent.",
        ),
        fixes=(
            "Sync the clock on every host that signs requests (NTP/chrony; check with "
            "`timedatectl status` or `chronyc tracking`) and alert on drift.",
            "Take the signature's timestamp in UTC at send time, never from local time or a "
            "cached value.",
            "Sign retried or queued requests again when they are sent instead of reusing the "
            "first signature.",
            "If the logging host's clock is the wrong one, fix it too: every time in these logs "
            "is off by the same amount.",
        ),
    )
