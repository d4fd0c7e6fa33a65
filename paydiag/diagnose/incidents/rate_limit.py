"""Rate-limit bursts: runs of HTTP 429 / throttling errors, with the request rate behind them.

A throttled request now and then is normal traffic shaping; a burst is several in a few
minutes. Each burst is reported with the request rate it reached, compared with the
gateway's usual rate, because that says whether a spike (a batch job, a retry loop) or a
lowered limit caused it.

Memory: a MinuteTable row per gateway and minute (4 bytes, 12 more where calls are
throttled) and up to MAX_THROTTLED_IDS
throttled transaction IDs, beyond that a sample (a burst lists the sampled ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from paydiag.diagnose.incidents.common import (
    SAMPLE_IDS,
    gateway_label,
    median,
    minutes_between,
    order_id,
    percent,
    plural,
    same_kind,
    span_text,
)
from paydiag.diagnose.incidents.model import ChunkObservations, Detector, Incident, Observation
from paydiag.diagnose.incidents.series import (
    Columns,
    IdSample,
    MinuteTable,
    keep_earliest,
    keep_latest,
    micros,
    minute_key,
    moment_at,
)
from paydiag.diagnose.incidents.thresholds import at_least, check


@dataclass(frozen=True)
class RateLimitThresholds:
    """When throttling is a burst. Defaults in brackets.

    min_throttled: throttled requests a burst needs [5].
    merge_gap_minutes: minutes without throttling that still belong to the same burst [2].
    spike_factor: a peak request rate this many times the usual one is called a spike [2].
    """

    enabled: bool = True
    min_throttled: int = field(default=5, metadata=at_least(1))
    merge_gap_minutes: int = field(default=2, metadata=at_least(0))
    spike_factor: float = field(default=2.0, metadata=at_least(1))

    def __post_init__(self) -> None:
        check(self, "incidents.rate_limit")


def is_throttled(observation: Observation) -> bool:
    return observation.failed and (
        observation.category == "rate_limit" or observation.http_status == 429
    )


MAX_THROTTLED_IDS = 2_000  # throttled transaction IDs kept, 100 to 300 bytes each
# The column of a gateway's minute: calls; the extra ones, made for pages with throttling:
# throttled calls, the first and the last.
_CALLS = 0
_COLUMNS = "+"
_THROTTLED, _FIRST, _LAST = range(3)
_EXTRA = "+<>"


class RateLimitDetector:
    name = "rate_limit"

    def __init__(self, thresholds: RateLimitThresholds | None = None) -> None:
        self.thresholds = thresholds or RateLimitThresholds()
        self._minutes: MinuteTable[str | None] = MinuteTable(_COLUMNS, extra=_EXTRA)
        self._ids: IdSample[str | None] = IdSample(MAX_THROTTLED_IDS)

    def observe(self, observation: Observation) -> None:
        gateway = observation.gateway
        minute = minute_key(observation.time)
        found = self._minutes.row(gateway, minute)
        if found is None:
            return
        page, offset = found
        page.ints[offset * len(_COLUMNS) + _CALLS] += 1
        if not is_throttled(observation):
            return
        extra, start = self._minutes.extra(page), offset * len(_EXTRA)
        extra[start + _THROTTLED] += 1
        moment = micros(observation.time)
        keep_earliest(extra, start + _FIRST, moment)
        keep_latest(extra, start + _LAST, moment)
        if (oid := order_id(observation.transaction_ids)) is not None:
            self._ids.add(gateway, minute, oid)

    def observe_chunk(self, chunk: ChunkObservations) -> None:
        for _offset, observation in chunk.failures:
            self.observe(observation)
        for group in chunk.activity.minutes.values():
            self._minutes.count(group.gateway, group.minute, group.calls)

    def shift_lines(self, lines: int) -> None:
        """No line numbers are held."""

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, RateLimitDetector)
        self._minutes.merge(later._minutes)
        self._ids.merge(later._ids)

    def incidents(self) -> list[Incident]:
        found: list[Incident] = []
        for gateway in self._minutes:
            columns = self._minutes.columns(gateway)
            bursts = self._bursts(columns)
            inside = {index for first, last in bursts for index in range(first, last + 1)}
            calls = columns.ints[_CALLS]
            usual = median([float(c) for index, c in enumerate(calls) if index not in inside])
            found.extend(self._incident(gateway, columns, burst, usual) for burst in bursts)
        return found

    def _bursts(self, columns: Columns) -> list[tuple[int, int]]:
        """The indexes of each burst's first and last throttled minute."""
        gap = self.thresholds.merge_gap_minutes + 1
        minutes, throttled = columns.minutes, columns.extra[_THROTTLED]
        groups: list[tuple[int, int]] = []
        last_throttled: int | None = None  # the minute, of the open group
        for index, minute in enumerate(minutes):
            if not throttled[index]:
                continue
            if last_throttled is not None and minute - last_throttled <= gap:
                groups[-1] = (groups[-1][0], index)
            else:
                groups.append((index, index))
            last_throttled = minute
        return [
            (first, last)
            for first, last in groups
            if sum(throttled[first : last + 1]) >= self.thresholds.min_throttled
        ]

    def _incident(
        self, gateway: str | None, columns: Columns, burst: tuple[int, int], usual: float
    ) -> Incident:
        first, last = burst
        minutes, calls = columns.minutes, columns.ints[_CALLS][first : last + 1]
        start = moment_at(minutes[first], columns.extra[_FIRST][first])
        end = moment_at(minutes[last], columns.extra[_LAST][last])
        assert start is not None and end is not None  # both minutes have throttled calls
        throttled = sum(columns.extra[_THROTTLED][first : last + 1])
        requests, peak = sum(calls), max(calls)
        ids = self._ids.between(gateway, minutes[first], minutes[last])
        figures: dict[str, float | int | str] = {
            "duration_minutes": minutes_between(start, end),
            "throttled_requests": throttled,
            "requests": requests,
            "throttled_share": round(throttled / requests, 3),
            "peak_requests_per_minute": peak,
            "peak_requests_per_second": round(peak / 60, 1),
            "usual_requests_per_minute": round(usual, 1),
        }
        sample = tuple(ids)[:SAMPLE_IDS]
        return _describe(gateway, start, end, figures, sample, self.thresholds.spike_factor)


def _describe(
    gateway: str | None,
    start: datetime,
    end: datetime,
    figures: dict[str, float | int | str],
    transactions: tuple[str, ...],
    spike_factor: float,
) -> Incident:
    name = gateway_label(gateway)
    throttled, requests = int(figures["throttled_requests"]), int(figures["requests"])
    share_ = float(figures["throttled_share"])
    peak, usual = (
        int(figures["peak_requests_per_minute"]),
        float(figures["usual_requests_per_minute"]),
    )
    rate = f"the request rate peaked at {peak:,}/min ({figures['peak_requests_per_second']}/s)"
    if usual:
        rate += f" against a usual {usual:g}/min"
    summary = (
        f"{name} throttled {throttled:,} of {requests:,} requests ({percent(share_)}) from "
        f"{start:%H:%M:%S} to {end:%H:%M:%S} UTC; {rate}."
    )
    if usual and peak >= spike_factor * usual:
        first_cause = (
            f"A spike of requests: {peak:,}/min against a usual {usual:g}/min. A batch job "
            "(sync, report, backfill), a retry loop without backoff, or a traffic surge."
        )
    else:
        first_cause = (
            "The request rate stayed near its usual level: the limit is lower than assumed "
            "(test-mode keys and some endpoints have lower limits), or many requests hit the "
            "same object at once (lock contention)."
        )
    causes = (
        first_cause,
        "Retries without backoff multiply the load: every throttled request retried at once "
        "is one more request in the same second.",
        "Several workers or services share one account's limit without a shared rate limiter.",
    )
    fixes = (
        "Back off on 429: exponential backoff with jitter, honour the Retry-After header, and "
        "cap the number of retries.",
        "Limit concurrency across all workers with a shared client-side rate limiter or queue "
        "(a token bucket below the provider's limit).",
        "Keep bulk work (syncs, reports, backfills, reconciliation) off checkout's budget: run it "
        "off-peak and throttle it separately.",
        "Cut needless calls: cache reads, use webhooks instead of polling, and list or expand "
        "instead of one call per object.",
        "Retry writes only with the same idempotency key, so a retried create cannot run twice.",
        "If legitimate traffic needs more, ask the provider for a higher limit, with these "
        "figures.",
    )
    severity = "high" if throttled >= 50 or share_ >= 0.25 else "medium"
    return Incident(
        kind="rate_limit_burst",
        gateway=gateway,
        start=start,
        end=end,
        severity=severity,
        title=f"Rate-limit burst: {plural(throttled, 'request')} to {name} throttled, "
        f"{span_text(start, end)}",
        summary=summary,
        fault="merchant_integration",
        figures=figures,
        transactions=transactions,
        causes=causes,
        fixes=fixes,
    )
