"""Gateway outage: the share of a gateway's calls failing with timeouts, 5xx or connection
errors rises well above its usual level.

The share is measured over a rolling window (it widens on quiet logs until it holds enough
calls) and compared with a trailing baseline of the minutes before it, so a gateway that
always times out now and then does not raise an alarm, and one that fails from the first
line still does. The reported start and end are the first and last failing calls of the
minutes whose own share is above the threshold, not the edges of the window.

A gateway whose logs show no successful call at all (an errors-only log, or errors of a
generic rule family such as `http`) has no share to measure: it gets no outage incident,
and its errors stay findings.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate

from paydiag.diagnose.incidents.common import (
    CONNECTION_RULES,
    INDETERMINATE_CATEGORIES,
    MAX_GATEWAYS,
    MAX_IDS_PER_MINUTE,
    MAX_MINUTES,
    MINUTE,
    SAMPLE_IDS,
    add_capped,
    earliest,
    gateway_label,
    latest,
    merge_keyed,
    minute_of,
    minutes_between,
    order_id,
    percent,
    plural,
    same_kind,
    span_text,
)
from paydiag.diagnose.incidents.model import Detector, Incident, Observation
from paydiag.diagnose.incidents.thresholds import at_least, check, share

STATUS_PAGES = {
    "stripe": "https://status.stripe.com",
    "adyen": "https://status.adyen.com",
    "paypal": "https://www.paypal-status.com",
    "braintree": "https://status.braintreepayments.com",
    "authorize_net": "https://status.authorize.net",
}
# Latency before an outage this many times the baseline is worth saying.
_CREEP_RATIO = 1.5
_MIN_LATENCY_SAMPLES = 5


@dataclass(frozen=True)
class OutageThresholds:
    """When a gateway's failing share is an outage. Defaults in brackets.

    window_minutes: the rolling window the failure share is measured over [5].
    max_window_minutes: on a quiet log the window widens until it holds `min_calls`
        calls, up to this many minutes [30].
    min_calls: calls a window needs before its share means anything [10].
    min_failures: failing calls (timeouts, 5xx, connection errors) a window needs [5].
    min_failure_rate: a share of failing calls that is always an outage [0.25].
    baseline_factor: ... or this many times the baseline share, when that is higher [4].
    baseline_minutes: the trailing history the baseline share is measured over [60].
    merge_gap_minutes: elevated windows this close together are one outage [3].
    latency_lookback_minutes: minutes before an outage whose call latency is compared
        with the baseline, to show latency creeping up before it [10].
    """

    enabled: bool = True
    window_minutes: int = field(default=5, metadata=at_least(1))
    max_window_minutes: int = field(default=30, metadata=at_least(1))
    min_calls: int = field(default=10, metadata=at_least(1))
    min_failures: int = field(default=5, metadata=at_least(1))
    min_failure_rate: float = field(default=0.25, metadata=share())
    baseline_factor: float = field(default=4.0, metadata=at_least(1))
    baseline_minutes: int = field(default=60, metadata=at_least(1))
    merge_gap_minutes: int = field(default=3, metadata=at_least(0))
    latency_lookback_minutes: int = field(default=10, metadata=at_least(1))

    def __post_init__(self) -> None:
        check(self, "incidents.outage")
        if self.max_window_minutes < self.window_minutes:
            raise ValueError(
                "incidents.outage.max_window_minutes: must be at least window_minutes "
                f"({self.window_minutes}), got {self.max_window_minutes}"
            )


@dataclass
class _Minute:
    calls: int = 0
    failures: int = 0
    first_failure: datetime | None = None
    last_failure: datetime | None = None
    ids: dict[str, None] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    ok_ms: float = 0.0  # summed duration of successful calls
    ok_count: int = 0

    def fail(self, observation: Observation) -> None:
        self.failures += 1
        when = observation.time
        if self.first_failure is None or when < self.first_failure:
            self.first_failure = when
        if self.last_failure is None or when > self.last_failure:
            self.last_failure = when
        if (oid := order_id(observation.transaction_ids)) is not None:
            add_capped(self.ids, (oid,), MAX_IDS_PER_MINUTE)
        self.reasons[failure_reason(observation)] += 1

    def merge(self, later: _Minute) -> None:
        self.calls += later.calls
        self.failures += later.failures
        self.first_failure = earliest(self.first_failure, later.first_failure)
        self.last_failure = latest(self.last_failure, later.last_failure)
        add_capped(self.ids, later.ids, MAX_IDS_PER_MINUTE)
        self.reasons.update(later.reasons)
        self.ok_ms += later.ok_ms
        self.ok_count += later.ok_count


def is_outage_failure(observation: Observation) -> bool:
    """A failure the gateway's side or the network produces: the payment's fate is unknown."""
    return observation.failed and (
        observation.category in INDETERMINATE_CATEGORIES
        or observation.rule_id in CONNECTION_RULES
        or (observation.http_status or 0) >= 500
    )


def failure_reason(observation: Observation) -> str:
    if observation.category == "timeout":
        return "timeout"
    if observation.http_status is not None and observation.http_status >= 500:
        return f"HTTP {observation.http_status}"
    if observation.rule_id in CONNECTION_RULES:
        return "connection error"
    return observation.code or "gateway error"


@dataclass(frozen=True)
class _Flag:
    index: int  # the minute whose window is elevated
    window_start: int  # index of the window's first minute
    rate: float
    threshold: float
    baseline: float


class OutageDetector:
    name = "outage"

    def __init__(self, thresholds: OutageThresholds | None = None) -> None:
        self.thresholds = thresholds or OutageThresholds()
        self._gateways: dict[str | None, dict[datetime, _Minute]] = {}
        self._successes: Counter[str | None] = Counter()

    def observe(self, observation: Observation) -> None:
        if not observation.failed:
            self._successes[observation.gateway] += 1
        minutes = self._gateways.get(observation.gateway)
        if minutes is None:
            if len(self._gateways) >= MAX_GATEWAYS:
                return
            minutes = self._gateways[observation.gateway] = {}
        minute = minute_of(observation.time)
        bucket = minutes.get(minute)
        if bucket is None:
            if len(minutes) >= MAX_MINUTES:
                return
            bucket = minutes[minute] = _Minute()
        bucket.calls += 1
        if is_outage_failure(observation):
            bucket.fail(observation)
        elif not observation.failed and observation.duration_ms is not None:
            bucket.ok_ms += observation.duration_ms
            bucket.ok_count += 1

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, OutageDetector)
        self._successes.update(later._successes)
        for gateway, minutes in later._gateways.items():
            mine = self._gateways.get(gateway)
            if mine is None:
                if len(self._gateways) < MAX_GATEWAYS:
                    self._gateways[gateway] = minutes
                continue
            merge_keyed(mine, minutes, MAX_MINUTES, _Minute.merge)

    def incidents(self) -> list[Incident]:
        found: list[Incident] = []
        for gateway, minutes in self._gateways.items():
            if self._successes[gateway] < self.thresholds.min_calls:
                continue  # no successful calls seen: the failing share is unknown
            series = _Series(sorted(minutes.items()), self.thresholds)
            found.extend(series.incident(gateway, span) for span in series.spans())
        return found


class _Series:
    """One gateway's minutes in time order, with prefix sums for fast window totals."""

    def __init__(self, items: list[tuple[datetime, _Minute]], thresholds: OutageThresholds):
        self.t = thresholds
        self.times = [minute for minute, _ in items]
        self.buckets = [bucket for _, bucket in items]
        calls = [b.calls for b in self.buckets]
        fails = [b.failures for b in self.buckets]
        # Minutes already failing a lot are left out of every baseline.
        quiet = [not self._elevated(b, thresholds.min_failure_rate) for b in self.buckets]
        self.calls = [0, *accumulate(calls)]
        self.fails = [0, *accumulate(fails)]
        self.quiet_calls = [
            0,
            *accumulate(c if q else 0 for c, q in zip(calls, quiet, strict=True)),
        ]
        self.quiet_fails = [
            0,
            *accumulate(f if q else 0 for f, q in zip(fails, quiet, strict=True)),
        ]

    @staticmethod
    def _elevated(bucket: _Minute, threshold: float) -> bool:
        return bucket.failures > 0 and bucket.failures >= threshold * bucket.calls

    def _window_start(self, index: int) -> int | None:
        """Index of the first minute of the window ending at `index`, or None (too quiet)."""
        end = self.times[index]
        start = bisect_left(self.times, end - (self.t.window_minutes - 1) * MINUTE)
        if self.calls[index + 1] - self.calls[start] >= self.t.min_calls:
            return start
        widest = self.calls[index + 1] - self.t.min_calls
        if widest < 0:
            return None
        start = bisect_right(self.calls, widest) - 1
        oldest = end - (self.t.max_window_minutes - 1) * MINUTE
        return start if self.times[start] >= oldest else None

    def _flag(self, index: int) -> _Flag | None:
        start = self._window_start(index)
        if start is None:
            return None
        calls = self.calls[index + 1] - self.calls[start]
        fails = self.fails[index + 1] - self.fails[start]
        if fails < self.t.min_failures:
            return None
        history = bisect_left(self.times, self.times[start] - self.t.baseline_minutes * MINUTE)
        base_calls = self.quiet_calls[start] - self.quiet_calls[history]
        base_fails = self.quiet_fails[start] - self.quiet_fails[history]
        baseline = base_fails / base_calls if base_calls >= self.t.min_calls else 0.0
        threshold = max(self.t.min_failure_rate, baseline * self.t.baseline_factor)
        rate = fails / calls
        return _Flag(index, start, rate, threshold, baseline) if rate >= threshold else None

    def spans(self) -> list[list[_Flag]]:
        """Elevated windows, grouped when they are close together."""
        groups: list[list[_Flag]] = []
        gap = (self.t.merge_gap_minutes + 1) * MINUTE
        for index in range(len(self.times)):
            flag = self._flag(index)
            if flag is None:
                continue
            if groups and self.times[index] - self.times[groups[-1][-1].index] <= gap:
                groups[-1].append(flag)
            else:
                groups.append([flag])
        return self._refined(groups)

    def _refined(self, groups: list[list[_Flag]]) -> list[list[_Flag]]:
        """Groups whose failing minutes overlap once the window edges are trimmed, merged."""
        merged: list[list[_Flag]] = []
        previous_end = -1
        for group in groups:
            first, last = self._edges(group)
            if merged and first <= previous_end + self.t.merge_gap_minutes + 1:
                merged[-1].extend(group)
            else:
                merged.append(group)
            previous_end = max(previous_end, last)
        return merged

    def _edges(self, group: list[_Flag]) -> tuple[int, int]:
        """First and last minute of the group whose own share is above the threshold."""
        low = min(flag.window_start for flag in group)
        high = max(flag.index for flag in group)
        threshold = min(flag.threshold for flag in group)
        hot = [i for i in range(low, high + 1) if self._elevated(self.buckets[i], threshold)]
        if not hot:
            hot = [i for i in range(low, high + 1) if self.buckets[i].failures]
        return hot[0], hot[-1]

    def incident(self, gateway: str | None, group: list[_Flag]) -> Incident:
        first, last = self._edges(group)
        buckets = self.buckets[first : last + 1]
        start = buckets[0].first_failure or self.times[first]
        end = buckets[-1].last_failure or self.times[last]
        calls = self.calls[last + 1] - self.calls[first]
        failed = self.fails[last + 1] - self.fails[first]
        ids: dict[str, None] = {}
        reasons: Counter[str] = Counter()
        for bucket in buckets:
            ids.update(bucket.ids)
            reasons.update(bucket.reasons)
        peak = max(max(flag.rate for flag in group), failed / calls)
        baseline = group[0].baseline
        figures: dict[str, float | int | str] = {
            "duration_minutes": minutes_between(start, end),
            "calls": calls,
            "failed_calls": failed,
            "failed_transactions": len(ids),
            "failure_rate": round(failed / calls, 3),
            "peak_failure_rate": round(peak, 3),
            "baseline_failure_rate": round(baseline, 4),
            "failures_by_reason": ", ".join(f"{r} ×{n}" for r, n in reasons.most_common(4)),
        }
        creep = self._latency_before(first)
        if creep is not None:
            figures["latency_baseline_ms"], figures["latency_before_ms"] = creep
        return _describe(gateway, start, end, figures, tuple(ids)[:SAMPLE_IDS], creep)

    def _latency_before(self, first: int) -> tuple[int, int] | None:
        """Mean latency of successful calls in the lookback before the outage, and before that."""
        lookback = self.t.latency_lookback_minutes * MINUTE
        onset = self.times[first]
        before = self._mean_latency(onset - lookback, onset)
        usual = self._mean_latency(
            onset - lookback - self.t.baseline_minutes * MINUTE, onset - lookback
        )
        if before is None or usual is None:
            return None
        return round(usual), round(before)

    def _mean_latency(self, since: datetime, until: datetime) -> float | None:
        low, high = bisect_left(self.times, since), bisect_left(self.times, until)
        total = sum(b.ok_ms for b in self.buckets[low:high])
        count = sum(b.ok_count for b in self.buckets[low:high])
        return total / count if count >= _MIN_LATENCY_SAMPLES else None


def _severity(peak: float, failed_calls: int, minutes: int) -> str:
    if peak >= 0.5 and (failed_calls >= 20 or minutes >= 10):
        return "critical"
    if peak >= 0.5 or failed_calls >= 20:
        return "high"
    return "medium"


def _describe(
    gateway: str | None,
    start: datetime,
    end: datetime,
    figures: dict[str, float | int | str],
    transactions: tuple[str, ...],
    creep: tuple[int, int] | None,
) -> Incident:
    name = gateway_label(gateway)
    calls, failed = int(figures["calls"]), int(figures["failed_calls"])
    peak, minutes = float(figures["peak_failure_rate"]), int(figures["duration_minutes"])
    summary = (
        f"From {start:%H:%M:%S} to {end:%H:%M:%S} UTC ({plural(minutes, 'minute')}) "
        f"{failed:,} of {calls:,} calls to {name} failed ({figures['failures_by_reason']}), "
        f"peaking at {percent(peak)} against a usual "
        f"{percent(float(figures['baseline_failure_rate']))}; "
        f"{plural(int(figures['failed_transactions']), 'transaction')} affected."
    )
    causes = [
        f"{name} or the network path to it was down or degraded: timeouts, 5xx responses and "
        "connection errors come from the gateway's side or the network, not from your requests.",
        "A partial incident at the provider (one API, one region, one payment method) looks "
        "the same; its status page and support can confirm it.",
        "If your other outbound calls failed at the same time, suspect your own egress (proxy, "
        "NAT gateway, DNS, firewall) before the provider.",
    ]
    if creep is not None and creep[1] >= _CREEP_RATIO * creep[0]:
        causes.insert(
            1,
            f"Latency crept up before it failed: successful calls took {creep[1]:,} ms on "
            f"average in the minutes before, against {creep[0]:,} ms usually; the provider "
            "was degrading before the outage.",
        )
    page = STATUS_PAGES.get(gateway or "")
    fixes = (
        f"Check the provider's status page{f' ({page})' if page else ''} and subscribe to "
        "updates; note the incident reference.",
        "Fail over: route new payments to your secondary gateway or backup merchant account "
        "until the failure rate drops, and switch back once the provider reports recovery.",
        "Offer alternative payment methods at checkout meanwhile (wallets, bank transfer, pay "
        "later) so customers can still pay.",
        "Tell customers: a checkout banner saying payments are delayed and not to pay twice; "
        "give customer service the same message.",
        f"Escalate with a support ticket to {name}: the window "
        f"({start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC), the failed-call count and sample "
        "transaction and request IDs (`paydiag timeline ID LOG...` shows each one's history).",
        "Before retrying a failed payment, look it up at the gateway: a timed-out call may have "
        "gone through; retry only with the same idempotency key.",
        "Afterwards, write a post-incident summary: timeline, impact (failed transactions, "
        "revenue), how fast you failed over, and which alert or automatic failover would have "
        "helped.",
    )
    return Incident(
        kind="gateway_outage",
        gateway=gateway,
        start=start,
        end=end,
        severity=_severity(peak, failed, minutes),
        title=f"Gateway outage: {percent(peak)} of {name} calls failing, {span_text(start, end)}",
        summary=summary,
        fault="gateway",
        figures=figures,
        transactions=transactions,
        causes=tuple(causes),
        fixes=fixes,
    )
