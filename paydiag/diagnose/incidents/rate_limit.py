"""Rate-limit bursts: runs of HTTP 429 / throttling errors, with the request rate behind them.

A throttled request now and then is normal traffic shaping; a burst is several in a few
minutes. Each burst is reported with the request rate it reached, compared with the
gateway's usual rate, because that says whether a spike (a batch job, a retry loop) or a
lowered limit caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from paydiag.diagnose.incidents.common import (
    MAX_GATEWAYS,
    MAX_IDS_PER_MINUTE,
    MAX_MINUTES,
    MINUTE,
    SAMPLE_IDS,
    add_capped,
    earliest,
    gateway_label,
    latest,
    median,
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


@dataclass
class _Minute:
    calls: int = 0
    throttled: int = 0
    first: datetime | None = None
    last: datetime | None = None
    ids: dict[str, None] = field(default_factory=dict)

    def merge(self, later: _Minute) -> None:
        self.calls += later.calls
        self.throttled += later.throttled
        self.first = earliest(self.first, later.first)
        self.last = latest(self.last, later.last)
        add_capped(self.ids, later.ids, MAX_IDS_PER_MINUTE)


class RateLimitDetector:
    name = "rate_limit"

    def __init__(self, thresholds: RateLimitThresholds | None = None) -> None:
        self.thresholds = thresholds or RateLimitThresholds()
        self._gateways: dict[str | None, dict[datetime, _Minute]] = {}

    def observe(self, observation: Observation) -> None:
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
        if not is_throttled(observation):
            return
        bucket.throttled += 1
        when = observation.time
        bucket.first = when if bucket.first is None else min(bucket.first, when)
        bucket.last = when if bucket.last is None else max(bucket.last, when)
        if (oid := order_id(observation.transaction_ids)) is not None:
            add_capped(bucket.ids, (oid,), MAX_IDS_PER_MINUTE)

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, RateLimitDetector)
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
            ordered = sorted(minutes.items())
            bursts = self._bursts(ordered)
            inside = {minute for burst in bursts for minute, _ in burst}
            usual = median([float(b.calls) for m, b in ordered if m not in inside])
            found.extend(self._incident(gateway, burst, usual) for burst in bursts)
        return found

    def _bursts(
        self, ordered: list[tuple[datetime, _Minute]]
    ) -> list[list[tuple[datetime, _Minute]]]:
        """Every minute from a burst's first to its last throttled minute, grouped."""
        gap = (self.thresholds.merge_gap_minutes + 1) * MINUTE
        groups: list[list[tuple[datetime, _Minute]]] = []
        last_throttled: datetime | None = None  # of the open group
        for minute, bucket in ordered:
            if last_throttled is not None and minute - last_throttled <= gap:
                groups[-1].append((minute, bucket))
            elif bucket.throttled:
                groups.append([(minute, bucket)])
            if bucket.throttled:
                last_throttled = minute
        bursts = []
        for group in groups:
            while group and not group[-1][1].throttled:
                group.pop()  # quiet minutes after the last throttled one
            if sum(b.throttled for _, b in group) >= self.thresholds.min_throttled:
                bursts.append(group)
        return bursts

    def _incident(
        self, gateway: str | None, burst: list[tuple[datetime, _Minute]], usual: float
    ) -> Incident:
        buckets = [b for _, b in burst]
        start = next(b.first for b in buckets if b.first is not None)
        end = next(b.last for b in reversed(buckets) if b.last is not None)
        throttled = sum(b.throttled for b in buckets)
        requests = sum(b.calls for b in buckets)
        peak = max(b.calls for b in buckets)
        ids: dict[str, None] = {}
        for bucket in buckets:
            add_capped(ids, bucket.ids, SAMPLE_IDS)
        figures: dict[str, float | int | str] = {
            "duration_minutes": minutes_between(start, end),
            "throttled_requests": throttled,
            "requests": requests,
            "throttled_share": round(throttled / requests, 3),
            "peak_requests_per_minute": peak,
            "peak_requests_per_second": round(peak / 60, 1),
            "usual_requests_per_minute": round(usual, 1),
        }
        return _describe(gateway, start, end, figures, tuple(ids), self.thresholds.spike_factor)


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
