"""Latency of gateway calls where the logs give durations: slow calls and latency creep.

Durations go into log-scale histograms (5% wide buckets), one per gateway and one per
minute, so p50/p95/p99 cost the same for a thousand calls or a billion. Only successful
calls count: a failed call's duration is usually the client's timeout, which the outage
detector reports.

Slow calls: calls above `slow_call_ms`, with the gateway's p50/p95/p99.
Latency creep: the median of a rolling window rises well above the median of the minutes
before it, as it often does before an outage.

Memory: the per-gateway histograms are small (a few hundred buckets at most). The
per-minute ones are packed, 4 bytes per (minute, bucket) seen, for the minutes a MinuteTable
keeps; beyond MAX_MINUTE_CELLS cells in all (about a week of four busy gateways), every
minute's histogram is made coarser (buckets 10%, then 21% ... wide) until they fit, so creep
is still found on a long log, with medians a little less precise (the incident's figures
give `minute_buckets_percent`). Which level that is depends only on the durations seen, not
on how the input was split.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from paydiag import speedups
from paydiag.diagnose.incidents.common import (
    MAX_GATEWAYS,
    SAMPLE_IDS,
    add_capped,
    add_counts,
    earliest,
    gateway_label,
    latest,
    merge_keyed,
    order_id,
    percent,
    plural,
    same_kind,
    span_text,
)
from paydiag.diagnose.incidents.model import (
    ChunkObservations,
    Detector,
    Incident,
    Observation,
    RowsWanted,
)
from paydiag.diagnose.incidents.series import (
    MAX_LABEL,
    Columns,
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
from paydiag.parse.event import BUCKET_STEP, duration_bucket

MAX_MINUTE_CELLS = 1_000_000  # (minute, bucket) cells of the per-minute histograms, 4 bytes each
_LABEL_BASE = 64  # a bucket's label in the per-minute histograms is bucket + 64
_LOWEST, _HIGHEST = -_LABEL_BASE, MAX_LABEL - _LABEL_BASE  # the buckets labelled as such
# The columns of a gateway's minute: timed calls, first and last of them.
_CALLS, _FIRST, _LAST = range(3)
_COLUMNS = "+<>"
# The C form of LatencyDetector._episodes_walked, where it is built; it takes 64-bit ints,
# and past this many (minutes, samples) every threshold acts alike on any real log.
_creep_episodes = speedups.native("creep_episodes")
_C_INT_CAP = 1 << 40


def bucket_value(index: int) -> float:
    """The middle of a bucket (geometric), within 2.5% of any duration in it."""
    return math.exp((index + 0.5) * BUCKET_STEP)


def label_value(label: int, level: int) -> float:
    """The middle of a per-minute bucket: `label` at `level` spans 2**level buckets."""
    return math.exp(((label << level) - _LABEL_BASE + (1 << level) / 2) * BUCKET_STEP)


def quantile(
    histogram: Mapping[int, int],
    q: float,
    value: Callable[[int], float] = bucket_value,
    total: int | None = None,
) -> float:
    """The `q` quantile of `histogram` (whose count is `total`, when the caller knows it)."""
    if total is None:
        total = sum(histogram.values())
    if not total:
        return 0.0
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return value(index)
    return value(max(histogram))


@dataclass(frozen=True)
class LatencyThresholds:
    """When gateway latency is worth an incident. Defaults in brackets.

    slow_call_ms: a successful call slower than this is slow [5000].
    min_slow_calls: slow calls a gateway needs before they are reported [5].
    min_slow_share: ... and this share of its timed calls [0.01].
    window_minutes: the rolling window whose median is watched for creep [5].
    baseline_minutes: the minutes before the window the median is compared with [60].
    creep_factor: a window median this many times the baseline median is creep [2].
    min_increase_ms: ... and at least this much slower [200].
    min_samples: timed calls the window and the baseline each need [10].
    min_creep_minutes: minutes of creep before it is reported [3].
    merge_gap_minutes: minutes without creep that still belong to one episode [2].
    """

    enabled: bool = True
    slow_call_ms: float = field(default=5000.0, metadata=at_least(1))
    min_slow_calls: int = field(default=5, metadata=at_least(1))
    min_slow_share: float = field(default=0.01, metadata=share())
    window_minutes: int = field(default=5, metadata=at_least(1))
    baseline_minutes: int = field(default=60, metadata=at_least(1))
    creep_factor: float = field(default=2.0, metadata=at_least(1))
    min_increase_ms: float = field(default=200.0, metadata=at_least(0))
    min_samples: int = field(default=10, metadata=at_least(1))
    min_creep_minutes: int = field(default=3, metadata=at_least(1))
    merge_gap_minutes: int = field(default=2, metadata=at_least(0))

    def __post_init__(self) -> None:
        check(self, "incidents.latency")


@dataclass
class _Gateway:
    histogram: dict[int, int] = field(default_factory=dict)  # bucket -> timed calls
    slow: int = 0
    slowest: float = 0.0
    first_slow: datetime | None = None
    last_slow: datetime | None = None
    slow_ids: dict[str, None] = field(default_factory=dict)

    def note_slow(self, duration: float, when: datetime, transaction_ids: tuple[str, ...]) -> None:
        self.slow += 1
        self.slowest = max(self.slowest, duration)
        self.first_slow = min(self.first_slow or when, when)
        self.last_slow = max(self.last_slow or when, when)
        if (oid := order_id(transaction_ids)) is not None:
            add_capped(self.slow_ids, (oid,), SAMPLE_IDS)

    def merge(self, later: _Gateway) -> None:
        add_counts(self.histogram, later.histogram)
        self.slow += later.slow
        self.slowest = max(self.slowest, later.slowest)
        self.first_slow = earliest(self.first_slow, later.first_slow)
        self.last_slow = latest(self.last_slow, later.last_slow)
        add_capped(self.slow_ids, later.slow_ids, SAMPLE_IDS)


@dataclass(frozen=True)
class _Creep:
    index: int
    baseline: float  # median of the baseline, ms
    median: float  # median of the window, ms


class LatencyDetector:
    name = "latency"

    def __init__(self, thresholds: LatencyThresholds | None = None) -> None:
        self.thresholds = thresholds or LatencyThresholds()
        self._gateways: dict[str | None, _Gateway] = {}
        self._minutes: MinuteTable[str | None] = MinuteTable(_COLUMNS)
        self._histograms: LabelCounts[str | None] = LabelCounts()
        self._level = 0  # per-minute buckets are 2**level buckets wide
        # Each gateway's latest minute, counted here until another minute comes (logs are
        # mostly in time order), then packed into `_histograms`.
        self._open: dict[str | None, tuple[int, dict[int, int]]] = {}

    def observe(self, observation: Observation) -> None:
        duration = observation.duration_ms
        if observation.failed or duration is None or duration < 0:
            return
        gateway = observation.gateway
        state = self._state(gateway)
        if state is None:
            return
        bucket = duration_bucket(duration)
        state.histogram[bucket] = state.histogram.get(bucket, 0) + 1
        when = observation.time
        moment = micros(when)
        self._count_minute(gateway, minute_key(when), moment, moment, 1, {bucket: 1})
        if duration >= self.thresholds.slow_call_ms:
            state.note_slow(duration, when, observation.transaction_ids)

    def rows_wanted(self) -> RowsWanted:
        return RowsWanted(slow_ms=self.thresholds.slow_call_ms)

    def observe_chunk(self, chunk: ChunkObservations) -> None:
        # Failures carry no latency this detector uses: only the activity counts.
        batch = chunk.activity
        for group in batch.minutes.values():
            state = self._state(group.gateway) if group.timed else None
            if state is None:
                continue
            add_counts(state.histogram, group.buckets)
            self._count_minute(
                group.gateway,
                group.minute,
                group.timed_first,
                group.timed_last,
                group.timed,
                group.buckets,
            )
        slow_ms = self.thresholds.slow_call_ms
        for row, duration in enumerate(batch.durations):  # the rows kept: slow ones among them
            if duration is not None and duration >= slow_ms:
                state = self._gateways.get(batch.gateways[row])  # its minute made it
                if state is not None:
                    state.note_slow(duration, batch.time(row), batch.transaction_ids[row])

    def _state(self, gateway: str | None) -> _Gateway | None:
        state = self._gateways.get(gateway)
        if state is None and len(self._gateways) < MAX_GATEWAYS:
            state = self._gateways[gateway] = _Gateway()
        return state

    def _count_minute(
        self,
        gateway: str | None,
        minute: int,
        first: int,
        last: int,
        calls: int,
        buckets: dict[int, int],
    ) -> None:
        """`calls` timed calls, between `first` and `last`, in `buckets` (their
        duration_bucket() counts)."""
        found = self._minutes.count(gateway, minute, calls)
        if found is None:
            return
        page, offset = found
        cells, base = page.ints, offset * len(_COLUMNS)
        keep_earliest(cells, base + _FIRST, first)
        keep_latest(cells, base + _LAST, last)
        current = self._open.get(gateway)
        if current is not None and current[0] == minute:
            add_counts(current[1], buckets)
            return
        if current is not None:
            self._pack(gateway, *current)
        # A minute's counts mostly come in one group: copied whole, not added one by one.
        self._open[gateway] = (minute, dict(buckets))

    def _pack(self, gateway: str | None, minute: int, buckets: dict[int, int]) -> None:
        if not self._level and buckets and min(buckets) >= _LOWEST and max(buckets) <= _HIGHEST:
            # The usual minute: a label per bucket, none clamped or halved, so no two meet.
            self._histograms.add(gateway, minute, buckets, _LABEL_BASE)
        else:
            self._histograms.add(gateway, minute, self._labels(buckets))
        self._fit(self._level)

    def _labels(self, buckets: Mapping[int, int]) -> dict[int, int]:
        """`buckets` counted by their labels at the current level."""
        level = self._level
        labels: dict[int, int] = {}
        for bucket, count in buckets.items():
            # min(max(bucket + _LABEL_BASE, 0), MAX_LABEL) >> level, without two calls a bucket
            label = bucket + _LABEL_BASE
            if not 0 <= label <= MAX_LABEL:
                label = 0 if label < 0 else MAX_LABEL
            label >>= level
            labels[label] = labels.get(label, 0) + count
        return labels

    def _pack_open(self) -> None:
        for gateway, current in self._open.items():
            self._pack(gateway, *current)
        self._open.clear()

    def _fit(self, level: int) -> None:
        """Coarsen the per-minute buckets to `level`, and on until they fit their cap."""
        while self._level < level or self._histograms.cells > MAX_MINUTE_CELLS:
            self._level += 1
            self._histograms.coarsen()

    def _histogram(self, gateway: str | None, minute: int) -> Counter[int]:
        return Counter(self._histograms.get(gateway, minute))

    def _value(self, label: int) -> float:
        return label_value(label, self._level)

    def shift_lines(self, lines: int) -> None:
        """No line numbers are held."""

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, LatencyDetector)
        self._pack_open()
        later._pack_open()
        merge_keyed(self._gateways, later._gateways, MAX_GATEWAYS, _Gateway.merge)
        self._minutes.merge(later._minutes)
        level = max(self._level, later._level)
        self._fit(level)
        later._fit(level)
        self._histograms.merge(later._histograms)
        self._fit(level)

    def incidents(self) -> list[Incident]:
        self._pack_open()
        found: list[Incident] = []
        t = self.thresholds
        for gateway, state in self._gateways.items():
            timed = sum(state.histogram.values())
            if state.slow >= t.min_slow_calls and state.slow >= t.min_slow_share * timed:
                found.append(_slow_calls(gateway, state, t.slow_call_ms))
            columns = self._minutes.columns(gateway)
            histogram = partial(self._histogram, gateway)
            for episode in self._episodes(columns.minutes, gateway):
                found.append(self._creep(gateway, state, columns, episode, histogram))
        return found

    def _episodes(self, minutes: array[int], gateway: str | None) -> list[list[_Creep]]:
        """The creeping minutes of `gateway` (indexes into `minutes`, its minutes seen) in
        runs, the runs long enough to report."""
        if _creep_episodes is None:
            counted = self._histograms.minutes(gateway)
            return self._episodes_walked(minutes, _aligned(minutes, counted))
        t = self.thresholds
        rules = (
            *(min(n, _C_INT_CAP) for n in (t.window_minutes, t.baseline_minutes, t.min_samples)),
            *(min(n, _C_INT_CAP) for n in (t.merge_gap_minutes, t.min_creep_minutes)),
            t.creep_factor,
            self._creep_factor(),
            t.min_increase_ms,
        )
        values = [self._value(label) for label in range((MAX_LABEL >> self._level) + 1)]
        found = _creep_episodes(minutes, self._histograms.pages(gateway), values, rules)
        return [[_Creep(*creep) for creep in episode] for episode in found]

    def _episodes_walked(
        self, minutes: array[int], histograms: Iterable[Mapping[int, int]]
    ) -> list[list[_Creep]]:
        """_episodes() in Python: the reference of the C form, and where it is not built."""
        t = self.thresholds
        window, baseline = _Rolling(), _Rolling()
        in_window: deque[int] = deque()
        in_baseline: deque[int] = deque()
        held: dict[int, tuple[Mapping[int, int], int]] = {}  # the minutes in either, and counts
        flagged: set[int] = set()
        episodes: list[list[_Creep]] = []
        for (index, minute), counts in zip(enumerate(minutes), histograms, strict=True):
            held[index] = counts, sum(counts.values())
            window.add(*held[index])
            in_window.append(index)
            while minutes[in_window[0]] <= minute - t.window_minutes:
                old = in_window.popleft()
                if old not in flagged and not self._slow_minute(held[old], baseline):
                    window.move(*held[old], baseline)
                    in_baseline.append(old)
                else:
                    window.remove(*held.pop(old))
            oldest = minute - (t.window_minutes + t.baseline_minutes)
            while in_baseline and minutes[in_baseline[0]] < oldest:
                baseline.remove(*held.pop(in_baseline.popleft()))
            creep = self._creep_at(index, window, baseline)
            if creep is None:
                continue
            flagged.add(index)
            gap = t.merge_gap_minutes + 1
            if episodes and minute - minutes[episodes[-1][-1].index] <= gap:
                episodes[-1].append(creep)
            else:
                episodes.append([creep])
        return [e for e in episodes if len(e) >= t.min_creep_minutes]

    def _creep_at(self, index: int, window: _Rolling, baseline: _Rolling) -> _Creep | None:
        t = self.thresholds
        if window.total < t.min_samples or baseline.total < t.min_samples:
            return None
        before, now = baseline.median(self._value), window.median(self._value)
        if now >= before * self._creep_factor() and now - before >= t.min_increase_ms:
            return _Creep(index, before, now)
        return None

    def _creep_factor(self) -> float:
        """creep_factor, beyond what coarsened buckets alone can show: a median read from
        buckets W times wide moves by W when it crosses one edge, and at level 5 (W = 4.8)
        that made steady traffic look like thousands of creeps on a month of logs."""
        if not self._level:
            return self.thresholds.creep_factor
        return self.thresholds.creep_factor * self._bucket_width()

    def _bucket_width(self) -> float:
        """How many times wider than its lowest value a per-minute bucket's highest is."""
        return math.exp(BUCKET_STEP * (1 << self._level))

    def _slow_minute(self, minute: tuple[Mapping[int, int], int], baseline: _Rolling) -> bool:
        """A minute already far above the baseline stays out of it."""
        if baseline.total < self.thresholds.min_samples:
            return False
        own = quantile(minute[0], 0.5, self._value, minute[1])
        return own >= baseline.median(self._value) * self.thresholds.creep_factor

    def _creep(
        self,
        gateway: str | None,
        state: _Gateway,
        columns: Columns,
        episode: list[_Creep],
        histogram: Callable[[int], Counter[int]],
    ) -> Incident:
        t = self.thresholds
        minutes = columns.minutes
        threshold = min(c.baseline for c in episode) * t.creep_factor
        low = bisect_left(minutes, minutes[episode[0].index] - (t.window_minutes - 1))
        high = episode[-1].index
        medians = {
            i: quantile(histogram(minutes[i]), 0.5, self._value) for i in range(low, high + 1)
        }
        hot = [i for i, median in medians.items() if median >= threshold] or [
            episode[0].index,
            high,
        ]
        first, last = hot[0], hot[-1]
        start = moment_at(minutes[first], columns.ints[_FIRST][first]) or minute_start(
            minutes[first]
        )
        end = moment_at(minutes[last], columns.ints[_LAST][last]) or minute_start(minutes[last])
        during: Counter[int] = Counter()
        for i in range(first, last + 1):
            during.update(histogram(minutes[i]))
        before = round(episode[0].baseline)
        peak = round(max(c.median for c in episode))
        figures: dict[str, float | int | str] = {
            "baseline_p50_ms": before,
            "peak_p50_ms": peak,
            "p95_during_ms": round(quantile(during, 0.95, self._value)),
            "slowdown": round(peak / before, 1) if before else 0.0,
            **_percentiles(state.histogram),
        }
        if self._level:
            figures["minute_buckets_percent"] = round((self._bucket_width() - 1) * 100)
        return _creep_incident(gateway, start, end, peak, before, figures)


def _aligned(
    minutes: Iterable[int], counted: Iterator[tuple[int, dict[int, int]]]
) -> Iterator[dict[int, int]]:
    """The histogram of each of `minutes` (increasing), from `counted` (LabelCounts.minutes(),
    which may hold minutes the table let go of at its caps); empty for a minute it lacks."""
    pending = next(counted, None)
    for minute in minutes:
        while pending is not None and pending[0] < minute:
            pending = next(counted, None)
        yield pending[1] if pending is not None and pending[0] == minute else {}


class _Rolling:
    """The histogram of the minutes in a rolling span, its count and its median kept as
    minutes come and go: summing or sorting it for every minute of a month of logs took
    seconds, while the median moves only a few labels from one minute to the next."""

    __slots__ = ("_at", "_below", "counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (MAX_LABEL + 1)  # by label
        self.total = 0
        self._at = 0  # the label the median was last found at
        self._below = 0  # the count of the labels below `_at`

    # add(), remove() and move() run four times in all for every minute of a gateway:
    # locals, not attributes, per label, and a loop each rather than one multiplying by a
    # sign.
    def add(self, counts: Mapping[int, int], total: int) -> None:
        at, mine, below = self._at, self.counts, 0
        for label, count in counts.items():
            mine[label] += count
            if label < at:
                below += count
        self._below += below
        self.total += total

    def remove(self, counts: Mapping[int, int], total: int) -> None:
        # Only minutes added before are removed, so no count goes below zero.
        at, mine, below = self._at, self.counts, 0
        for label, count in counts.items():
            mine[label] -= count
            if label < at:
                below += count
        self._below -= below
        self.total -= total

    def move(self, counts: Mapping[int, int], total: int, into: _Rolling) -> None:
        """remove() the minute from here and add() it `into` another, in one loop."""
        mine, theirs = self.counts, into.counts
        at, their_at, below, their_below = self._at, into._at, 0, 0
        for label, count in counts.items():
            mine[label] -= count
            theirs[label] += count
            if label < at:
                below += count
            if label < their_at:
                their_below += count
        self._below -= below
        self.total -= total
        into._below += their_below
        into.total += total

    def median(self, value: Callable[[int], float]) -> float:
        """quantile(0.5) of the span: the lowest label whose running count reaches half."""
        if not self.total:
            return 0.0
        rank = max(1, math.ceil(0.5 * self.total))
        counts, at, below = self.counts, self._at, self._below
        while below + counts[at] < rank:
            below += counts[at]
            at += 1
        while below >= rank:
            at -= 1
            below -= counts[at]
        self._at, self._below = at, below
        return value(at)


def _creep_incident(
    gateway: str | None,
    start: datetime,
    end: datetime,
    peak: int,
    before: int,
    figures: dict[str, float | int | str],
) -> Incident:
    name = gateway_label(gateway)
    summary = (
        f"From {start:%H:%M:%S} to {end:%H:%M:%S} UTC the median call to {name} took up to "
        f"{peak:,} ms against {before:,} ms before ({figures['slowdown']}× slower; p95 "
        f"{figures['p95_during_ms']:,} ms). Rising latency often comes before an outage."
    )
    return Incident(
        kind="latency_creep",
        gateway=gateway,
        start=start,
        end=end,
        severity="high" if peak >= 5 * before else "medium",
        title=f"Latency creeping up: {name} calls {figures['slowdown']}× slower, "
        f"{span_text(start, end)}",
        summary=summary,
        fault="gateway",
        figures=figures,
        causes=(
            f"{name} is degrading (load, a partial incident): latency often rises before calls "
            "start timing out.",
            "Your side of the path is saturated: an exhausted connection pool, a proxy or NAT "
            "gateway at its limit, DNS or TLS handshakes repeated for every call.",
            "Heavier requests than usual (large list calls, expansions) or slower payment methods "
            "(3-D Secure, wallets) in the mix.",
        ),
        fixes=(
            "Check the provider's status page for degraded performance, and be ready to fail "
            "over if latency keeps rising.",
            "Check your egress and HTTP client: reuse connections (keep-alive, one pooled "
            "client), size the pool for peak concurrency, watch proxy and NAT limits.",
            "Set explicit client timeouts (connect a few seconds, read about 30 s) and retry "
            "only idempotent calls, with backoff.",
            "Alert on the p95 latency of gateway calls, not only on errors: it warns before "
            "customers fail.",
        ),
    )


def _percentiles(histogram: Mapping[int, int]) -> dict[str, float | int | str]:
    return {
        "timed_calls": sum(histogram.values()),
        "p50_ms": round(quantile(histogram, 0.5)),
        "p95_ms": round(quantile(histogram, 0.95)),
        "p99_ms": round(quantile(histogram, 0.99)),
    }


def _slow_calls(gateway: str | None, state: _Gateway, slow_ms: float) -> Incident:
    assert state.first_slow is not None and state.last_slow is not None
    name = gateway_label(gateway)
    figures: dict[str, float | int | str] = {
        "slow_calls": state.slow,
        "slow_call_ms": round(slow_ms),
        "slowest_ms": round(state.slowest),
        **_percentiles(state.histogram),
    }
    timed = int(figures["timed_calls"])
    slow_share = state.slow / timed
    summary = (
        f"{state.slow:,} of {timed:,} timed calls to {name} ({percent(slow_share)}) took longer "
        f"than {round(slow_ms):,} ms (the slowest {round(state.slowest):,} ms), from "
        f"{state.first_slow:%H:%M:%S} to {state.last_slow:%H:%M:%S} UTC. Latency: p50 "
        f"{figures['p50_ms']:,} ms, p95 {figures['p95_ms']:,} ms, p99 {figures['p99_ms']:,} ms."
    )
    return Incident(
        kind="slow_calls",
        gateway=gateway,
        start=state.first_slow,
        end=state.last_slow,
        severity="high" if slow_share >= 0.1 else "medium",
        title=f"Slow calls: {plural(state.slow, 'call')} to {name} took over "
        f"{slow_ms / 1000:g} s, {span_text(state.first_slow, state.last_slow)}",
        summary=summary,
        fault="gateway",
        figures=figures,
        transactions=tuple(state.slow_ids),
        causes=(
            f"{name} answered slowly (load or a partial incident at the provider).",
            "Slow steps on your side are counted in the duration: DNS, TLS handshakes without "
            "connection reuse, a proxy, retries inside the client library.",
            "Some operations are slow by nature: 3-D Secure, wallet and bank redirects, large "
            "list calls.",
        ),
        fixes=(
            "Check the provider's status page for degraded performance at those times.",
            "Reuse connections (keep-alive, one pooled HTTP client) and check DNS, proxy and NAT "
            "on the path to the gateway.",
            "Keep slow, non-essential calls (reporting, customer updates) off the checkout path; "
            "customers wait for every call on it.",
            "Set explicit client timeouts and alert on the p95 latency of gateway calls.",
        ),
    )
