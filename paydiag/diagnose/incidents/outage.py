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

Memory: a MinuteTable row per gateway and minute (16 bytes, 12 more where calls fail), the
failure reasons of each minute (MAX_REASONS distinct ones, the rest counted as "other
reasons") and up to MAX_FAILED_IDS failed transaction IDs; beyond that a sample of them, and
the incident's count of failed transactions is estimated from it (the figures say so).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import TypeGuard

from paydiag.diagnose.incidents.common import (
    CONNECTION_RULES,
    INDETERMINATE_CATEGORIES,
    SAMPLE_IDS,
    gateway_label,
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
    LabelCounts,
    MinuteTable,
    keep_earliest,
    keep_latest,
    micros,
    minute_key,
    minute_start,
    moment_at,
)
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
MAX_FAILED_IDS = 10_000  # failed transaction IDs kept, 100 to 300 bytes each
MAX_REASONS = 16  # distinct failure reasons told apart; the rest are "other reasons"
_OTHER_REASONS = MAX_REASONS
# The columns of a gateway's minute: calls and timed successes (and a float: their summed
# duration in whole microseconds, exact in any order); the extra ones, made for pages where
# calls fail: failures, first and last.
_CALLS, _OK_COUNT = range(2)
_COLUMNS = "++"
_FAILURES, _FIRST, _LAST = range(3)
_EXTRA = "+<>"


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
        self._minutes: MinuteTable[str | None] = MinuteTable(_COLUMNS, floats=1, extra=_EXTRA)
        self._reasons: LabelCounts[str | None] = LabelCounts()
        self._reason_labels: dict[str, int] = {}
        self._ids: IdSample[str | None] = IdSample(MAX_FAILED_IDS)
        self._successes: Counter[str | None] = Counter()

    def observe(self, observation: Observation) -> None:
        gateway = observation.gateway
        if not observation.failed:
            self._successes[gateway] += 1
        minute = minute_key(observation.time)
        found = self._minutes.row(gateway, minute)
        if found is None:
            return
        page, offset = found
        cells, base = page.ints, offset * len(_COLUMNS)
        cells[base + _CALLS] += 1
        if is_outage_failure(observation):
            extra, start = self._minutes.extra(page), offset * len(_EXTRA)
            extra[start + _FAILURES] += 1
            moment = micros(observation.time)
            keep_earliest(extra, start + _FIRST, moment)
            keep_latest(extra, start + _LAST, moment)
            if (oid := order_id(observation.transaction_ids)) is not None:
                self._ids.add(gateway, minute, oid)
            self._reasons.add(gateway, minute, {self._label(failure_reason(observation)): 1})
        elif not observation.failed and _timed(observation.duration_ms):
            page.floats[offset] += round(observation.duration_ms * 1000)  # as MinuteActivity
            cells[base + _OK_COUNT] += 1

    def observe_chunk(self, chunk: ChunkObservations) -> None:
        for _offset, observation in chunk.failures:
            self.observe(observation)
        for group in chunk.activity.minutes.values():
            self._successes[group.gateway] += group.calls
            found = self._minutes.count(group.gateway, group.minute, group.calls)
            if found is None or not group.timed:
                continue
            page, offset = found
            page.floats[offset] += group.total_us
            page.ints[offset * len(_COLUMNS) + _OK_COUNT] += group.timed

    def _label(self, reason: str) -> int:
        label = self._reason_labels.get(reason)
        if label is None:
            if len(self._reason_labels) >= MAX_REASONS:
                return _OTHER_REASONS
            label = self._reason_labels[reason] = len(self._reason_labels)
        return label

    def shift_lines(self, lines: int) -> None:
        """No line numbers are held."""

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, OutageDetector)
        self._successes.update(later._successes)
        self._minutes.merge(later._minutes)
        labels = {label: self._label(reason) for reason, label in later._reason_labels.items()}
        later._reasons.relabel(lambda label: labels.get(label, _OTHER_REASONS))
        self._reasons.merge(later._reasons)
        self._ids.merge(later._ids)

    def incidents(self) -> list[Incident]:
        found: list[Incident] = []
        for gateway in self._minutes:
            if self._successes[gateway] < self.thresholds.min_calls:
                continue  # no successful calls seen: the failing share is unknown
            series = _Series(self._minutes.columns(gateway), self.thresholds)
            found.extend(
                series.incident(gateway, span, self._failed(gateway, series, span))
                for span in series.spans()
            )
        return found

    def _failed(self, gateway: str | None, series: _Series, group: list[_Flag]) -> _Failed:
        """The transactions and reasons of the failures in the group's minutes."""
        first, last = series.edges(group)
        reasons: Counter[str] = Counter()
        names = {label: reason for reason, label in self._reason_labels.items()}
        for minute in series.minutes[first : last + 1]:
            for label, count in self._reasons.get(gateway, minute).items():
                reasons[names.get(label, "other reasons")] += count
        ids = self._ids.between(gateway, series.minutes[first], series.minutes[last])
        return _Failed(tuple(ids)[:SAMPLE_IDS], len(ids), self._ids.one_in, reasons)


@dataclass(frozen=True)
class _Failed:
    sample: tuple[str, ...]
    transactions: int  # distinct failed transactions in the sample
    sampled_one_in: int
    reasons: Counter[str]


class _Series:
    """One gateway's minutes in time order, with prefix sums for fast window totals."""

    def __init__(self, columns: Columns, thresholds: OutageThresholds):
        self.t = thresholds
        self.minutes = columns.minutes  # minute_key() of each minute seen
        calls = columns.ints[_CALLS]
        self.failures = fails = columns.extra[_FAILURES]
        self.first_failure, self.last_failure = columns.extra[_FIRST], columns.extra[_LAST]
        self.ok_us, self.ok_count = columns.floats[0], columns.ints[_OK_COUNT]
        # Minutes already failing a lot are left out of every baseline.
        rate = thresholds.min_failure_rate
        quiet = [not _elevated(f, c, rate) for c, f in zip(calls, fails, strict=True)]
        self.calls = _prefix_sums(calls)
        self.fails = _prefix_sums(fails)
        self.quiet_calls = _prefix_sums(c if q else 0 for c, q in zip(calls, quiet, strict=True))
        self.quiet_fails = _prefix_sums(f if q else 0 for f, q in zip(fails, quiet, strict=True))

    def _elevated(self, index: int, threshold: float) -> bool:
        calls = self.calls[index + 1] - self.calls[index]
        return _elevated(self.failures[index], calls, threshold)

    def _window_start(self, index: int) -> int | None:
        """Index of the first minute of the window ending at `index`, or None (too quiet)."""
        end = self.minutes[index]
        start = bisect_left(self.minutes, end - (self.t.window_minutes - 1))
        if self.calls[index + 1] - self.calls[start] >= self.t.min_calls:
            return start
        widest = self.calls[index + 1] - self.t.min_calls
        if widest < 0:
            return None
        start = bisect_right(self.calls, widest) - 1
        oldest = end - (self.t.max_window_minutes - 1)
        return start if self.minutes[start] >= oldest else None

    def _flag(self, index: int) -> _Flag | None:
        start = self._window_start(index)
        if start is None:
            return None
        calls = self.calls[index + 1] - self.calls[start]
        fails = self.fails[index + 1] - self.fails[start]
        if fails < self.t.min_failures:
            return None
        history = bisect_left(self.minutes, self.minutes[start] - self.t.baseline_minutes)
        base_calls = self.quiet_calls[start] - self.quiet_calls[history]
        base_fails = self.quiet_fails[start] - self.quiet_fails[history]
        baseline = base_fails / base_calls if base_calls >= self.t.min_calls else 0.0
        threshold = max(self.t.min_failure_rate, baseline * self.t.baseline_factor)
        rate = fails / calls
        return _Flag(index, start, rate, threshold, baseline) if rate >= threshold else None

    def flags(self) -> Iterator[_Flag]:
        """The _flag() of every minute that has one, in order."""
        # A window spans at most max_window_minutes minutes, so as many rows, and a window
        # without min_failures is no flag: rows with too few failures that far back are
        # skipped without looking for their window's start (three in four on a busy log).
        reach, least = self.t.max_window_minutes, self.t.min_failures
        fails, rows = self.fails, len(self.minutes)
        # fails[max(0, index + 1 - reach)] for every index: the failures before the reach.
        before = array("q", bytes(8 * min(rows, reach))) + fails[1 : max(1, rows - reach + 1)]
        for index, (through, earlier) in enumerate(zip(fails[1:], before, strict=True)):
            if through - earlier >= least and (flag := self._flag(index)) is not None:
                yield flag

    def spans(self) -> list[list[_Flag]]:
        """Elevated windows, grouped when they are close together."""
        groups: list[list[_Flag]] = []
        gap = self.t.merge_gap_minutes + 1
        for flag in self.flags():
            if groups and self.minutes[flag.index] - self.minutes[groups[-1][-1].index] <= gap:
                groups[-1].append(flag)
            else:
                groups.append([flag])
        return self._refined(groups)

    def _refined(self, groups: list[list[_Flag]]) -> list[list[_Flag]]:
        """Groups whose failing minutes overlap once the window edges are trimmed, merged."""
        merged: list[list[_Flag]] = []
        previous_end = -1
        for group in groups:
            first, last = self.edges(group)
            if merged and first <= previous_end + self.t.merge_gap_minutes + 1:
                merged[-1].extend(group)
            else:
                merged.append(group)
            previous_end = max(previous_end, last)
        return merged

    def edges(self, group: list[_Flag]) -> tuple[int, int]:
        """First and last minute of the group whose own share is above the threshold."""
        low = min(flag.window_start for flag in group)
        high = max(flag.index for flag in group)
        threshold = min(flag.threshold for flag in group)
        hot = [i for i in range(low, high + 1) if self._elevated(i, threshold)]
        if not hot:
            hot = [i for i in range(low, high + 1) if self.failures[i]]
        return hot[0], hot[-1]

    def incident(self, gateway: str | None, group: list[_Flag], failed_ones: _Failed) -> Incident:
        first, last = self.edges(group)
        start = self._time(first, self.first_failure)
        end = self._time(last, self.last_failure)
        calls = self.calls[last + 1] - self.calls[first]
        failed = self.fails[last + 1] - self.fails[first]
        reasons = failed_ones.reasons
        peak = max(max(flag.rate for flag in group), failed / calls)
        baseline = group[0].baseline
        figures: dict[str, float | int | str] = {
            "duration_minutes": minutes_between(start, end),
            "calls": calls,
            "failed_calls": failed,
            "failed_transactions": failed_ones.transactions * failed_ones.sampled_one_in,
            "failure_rate": round(failed / calls, 3),
            "peak_failure_rate": round(peak, 3),
            "baseline_failure_rate": round(baseline, 4),
            "failures_by_reason": ", ".join(f"{r} ×{n}" for r, n in reasons.most_common(4)),
        }
        if failed_ones.sampled_one_in > 1:
            figures["transactions_sampled_one_in"] = failed_ones.sampled_one_in
        creep = self._latency_before(first)
        if creep is not None:
            figures["latency_baseline_ms"], figures["latency_before_ms"] = creep
        return _describe(gateway, start, end, figures, failed_ones.sample, creep)

    def _time(self, index: int, micros: array[int]) -> datetime:
        """A failure time kept for the minute, or the minute itself."""
        minute = self.minutes[index]
        return moment_at(minute, micros[index]) or minute_start(minute)

    def _latency_before(self, first: int) -> tuple[int, int] | None:
        """Mean latency of successful calls in the lookback before the outage, and before that."""
        lookback = self.t.latency_lookback_minutes
        onset = self.minutes[first]
        before = self._mean_latency(onset - lookback, onset)
        usual = self._mean_latency(onset - lookback - self.t.baseline_minutes, onset - lookback)
        if before is None or usual is None:
            return None
        return round(usual), round(before)

    def _mean_latency(self, since: int, until: int) -> float | None:
        low, high = bisect_left(self.minutes, since), bisect_left(self.minutes, until)
        total_us = sum(self.ok_us[low:high])
        count = sum(self.ok_count[low:high])
        return total_us / 1000 / count if count >= _MIN_LATENCY_SAMPLES else None


def _timed(duration_ms: float | None) -> TypeGuard[float]:
    """A duration as MinuteActivity counts one (no reader yields one below 0)."""
    return duration_ms is not None and duration_ms >= 0


def _elevated(failures: int, calls: int, threshold: float) -> bool:
    return failures > 0 and failures >= threshold * calls


def _prefix_sums(values: Iterable[int]) -> array[int]:
    return array("q", accumulate(values, initial=0))


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
        f"{'about ' if 'transactions_sampled_one_in' in figures else ''}"
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
