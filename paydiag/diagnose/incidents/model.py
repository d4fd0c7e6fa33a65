"""What incident detectors see and what they report.

Detectors work on Observations: one per gateway call, payment lifecycle step or error the
logs show, successes included (an outage is a *share* of failing calls). They keep only
aggregates (per-minute counts, open transactions up to a cap), never the observations.
The pipeline delivers them a chunk at a time (`ChunkObservations`): the error records'
Observations, and the successes as an `ActivityBatch` of columns with per-minute groups,
since making an object per healthy line cost more than everything the detectors do with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

from paydiag.diagnose.incidents.series import id_hash, moment_at
from paydiag.parse.event import duration_bucket


@dataclass(slots=True)
class Observation:
    """What a detector sees of one log line. Like Event, read-only by its Final fields
    rather than frozen, since one is made for every error record."""

    time: Final[datetime]
    gateway: Final[str | None]
    failed: Final[bool]  # an error event (matched by a rule, or an unrecognised error)
    source: Final[str]
    line: Final[int]
    rule_id: Final[str | None] = None
    category: Final[str | None] = None  # the rule's: timeout, rate_limit, signature ...
    code: Final[str | None] = None
    http_status: Final[int | None] = None
    duration_ms: Final[float | None] = None
    environment: Final[str | None] = None  # sandbox | production, from keys, hosts, livemode
    stage: Final[str | None] = None  # created, authorized, captured, declined, cancelled ...
    transaction_ids: Final[tuple[str, ...]] = ()
    request_ids: Final[tuple[str, ...]] = ()
    request_time: Final[datetime | None] = None  # the time the request carried (signing)


@dataclass(frozen=True)
class Incident:
    kind: str  # gateway_outage, rate_limit_burst, environment_mismatch, credential_failure, ...
    gateway: str | None
    start: datetime
    end: datetime
    severity: str
    title: str
    summary: str
    fault: str
    figures: dict[str, float | int | str] = field(default_factory=dict)
    transactions: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()


@dataclass
class MinuteActivity:
    """One gateway's successful lines in one minute of a batch, counted once for every
    detector that only needs them per minute. Every line of the batch counts here, whether
    or not the batch keeps its row.

    Durations (0 or more, as event.plausible_ms reads them) are kept as their count, their
    sum in whole microseconds (exact, so sums add up alike in any order and in any process)
    and their event.duration_bucket() counts: a float per call cost more than every
    detector's use of them."""

    gateway: str | None
    minute: int  # series.minute_key()
    calls: int = 0
    first: int = -1  # microseconds into the minute (series.micros), -1 for none yet
    last: int = -1
    captures: int = 0
    timed: int = 0  # the calls with a duration
    total_us: int = 0  # their durations' sum: round(milliseconds * 1000) each
    buckets: dict[int, int] = field(default_factory=dict)  # duration_bucket() -> timed calls
    # The span of the timed calls, -1 for none.
    timed_first: int = -1
    timed_last: int = -1

    def count(self, micro: int, captured: bool, duration_ms: float | None) -> None:
        self.calls += 1
        # Comparisons, not min()/max(): this runs for every gateway line of the log.
        if self.first < 0 or micro < self.first:
            self.first = micro
        if micro > self.last:
            self.last = micro
        if captured:
            self.captures += 1
        if duration_ms is not None and duration_ms >= 0:  # no reader yields one below
            self.timed += 1
            self.total_us += round(duration_ms * 1000)
            bucket = duration_bucket(duration_ms)
            self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
            if self.timed_first < 0 or micro < self.timed_first:
                self.timed_first = micro
            if micro > self.timed_last:
                self.timed_last = micro


@dataclass(frozen=True)
class RowsWanted:
    """The activity rows some detector reads one by one, beyond the per-minute groups.

    Most gateway lines matter only as counts in their minute; making a row for each of
    them cost more than everything the detectors did with it. A batch keeps a row when any
    of these holds (a detector must give the same answer given more rows than it asked for).
    """

    # Rows of sampled orders: a first transaction ID whose id_hash() has these bits zero.
    order_mask: int | None = None
    slow_ms: float | None = None  # rows with a duration of at least this
    environments: bool = False  # rows with an environment marker

    def wants(self, environment: str | None, hashed: int | None, duration_ms: float | None) -> bool:
        """`hashed`: id_hash() of the row's first transaction ID, None for a row without."""
        mask, slow = self.order_mask, self.slow_ms
        return (
            (self.environments and environment is not None)
            or (mask is not None and hashed is not None and not hashed & mask)
            or (slow is not None and duration_ms is not None and duration_ms >= slow)
        )

    def __or__(self, other: RowsWanted) -> RowsWanted:
        masks = [m for m in (self.order_mask, other.order_mask) if m is not None]
        slows = [s for s in (self.slow_ms, other.slow_ms) if s is not None]
        return RowsWanted(
            # Samples are nested (masks of low bits), so the common bits keep both.
            order_mask=masks[0] & masks[-1] if masks else None,
            slow_ms=min(slows) if slows else None,
            environments=self.environments or other.environments,
        )


# ActivityBatch's columns and MinuteActivity's fields, as _speedups.batch() returns them.
ActivityColumns = tuple[
    list[int],
    list[int],
    list[int],
    list[int],
    list[str | None],
    list[str | None],
    list[float | None],
    list[str | None],
    list[tuple[str, ...]],
    list[tuple[str, ...]],
    list[int],
]
MinuteGroup = tuple[str | None, int, int, int, int, int, int, int, dict[int, int], int, int]


@dataclass
class ActivityBatch:
    """The gateway lines outside error records in one stretch of one input (successes,
    mostly): every one counted in its minute (`minutes`), and as a row of columns, rather
    than an Observation, those that a detector reads one by one (`wanted`)."""

    source: str
    offsets: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    minute_keys: list[int] = field(default_factory=list)  # series.minute_key()
    micros: list[int] = field(default_factory=list)  # into the minute: series.micros()
    gateways: list[str | None] = field(default_factory=list)
    stages: list[str | None] = field(default_factory=list)
    durations: list[float | None] = field(default_factory=list)
    environments: list[str | None] = field(default_factory=list)
    transaction_ids: list[tuple[str, ...]] = field(default_factory=list)
    request_ids: list[tuple[str, ...]] = field(default_factory=list)
    # id_hash() of each row's first transaction ID (its order's), 0 for none: limbo samples
    # orders by it, and hashing in Python every row it then leaves out cost more than the rest.
    id_hashes: list[int] = field(default_factory=list)
    minutes: dict[tuple[str | None, int], MinuteActivity] = field(default_factory=dict)
    wanted: RowsWanted | None = None  # the rows kept (None: every line's)

    def __len__(self) -> int:
        return len(self.offsets)

    @classmethod
    def from_columns(
        cls,
        source: str,
        columns: ActivityColumns,
        groups: list[MinuteGroup],
        wanted: RowsWanted | None,
    ) -> ActivityBatch:
        """A batch built elsewhere (paydiag._speedups): its columns, in the order of the
        fields, its minutes as MinuteActivity's fields, and what it kept rows of."""
        minutes = {(group[0], group[1]): MinuteActivity(*group) for group in groups}
        return cls(source, *columns, minutes=minutes, wanted=wanted)

    def add(
        self,
        offset: int,
        line: int,
        minute: int,
        micro: int,
        gateway: str | None,
        stage: str | None,
        duration_ms: float | None,
        environment: str | None,
        transaction_ids: tuple[str, ...],
        request_ids: tuple[str, ...],
    ) -> None:
        """Count a line in its minute, and keep its row if `wanted` asks for it."""
        group = self.minutes.get((gateway, minute))
        if group is None:
            group = self.minutes[gateway, minute] = MinuteActivity(gateway, minute)
        group.count(micro, stage == "captured", duration_ms)
        hashed = id_hash(transaction_ids[0]) if transaction_ids else None
        if self.wanted is not None and not self.wanted.wants(environment, hashed, duration_ms):
            return
        self.offsets.append(offset)
        self.lines.append(line)
        self.minute_keys.append(minute)
        self.micros.append(micro)
        self.gateways.append(gateway)
        self.stages.append(stage)
        self.durations.append(duration_ms)
        self.environments.append(environment)
        self.transaction_ids.append(transaction_ids)
        self.request_ids.append(request_ids)
        self.id_hashes.append(hashed or 0)

    def time(self, row: int) -> datetime:
        # Rows keep their time as two ints, a datetime being made only for the few rows a
        # detector looks at one by one.
        moment = moment_at(self.minute_keys[row], self.micros[row])
        assert moment is not None  # rows have a time: micros are never NO_TIME
        return moment

    def latest(self) -> datetime | None:
        """The latest time of the batch's rows: of its minutes' latest, since every row is
        counted in its minute (a few groups a chunk, where there are thousands of rows)."""
        if not self.minutes:
            return None
        minute, micro = max((group.minute, group.last) for group in self.minutes.values())
        return moment_at(minute, micro)

    def observation(self, row: int) -> Observation:
        return Observation(
            time=self.time(row),
            gateway=self.gateways[row],
            failed=False,
            source=self.source,
            line=self.lines[row],
            stage=self.stages[row],
            duration_ms=self.durations[row],
            environment=self.environments[row],
            transaction_ids=self.transaction_ids[row],
            request_ids=self.request_ids[row],
        )


@dataclass(frozen=True)
class ChunkObservations:
    """What one stretch of an input showed: its error records' observations and its
    activity, each in log order, with byte offsets that interleave them."""

    failures: list[tuple[int, Observation]]
    activity: ActivityBatch

    def in_order(self, rows: Iterable[int] | None = None) -> Iterator[Observation]:
        """Every failure and the activity `rows` (all by default; increasing row numbers),
        in log order (a failure first at an equal offset)."""
        batch = self.activity
        for item in self.merged(rows):
            yield batch.observation(item) if isinstance(item, int) else item

    def merged(self, rows: Iterable[int] | None = None) -> Iterator[Observation | int]:
        """in_order() with the activity rows as row numbers, for a detector that reads the
        batch's columns itself."""
        failures, offsets = self.failures, self.activity.offsets
        position = 0
        for row in range(len(offsets)) if rows is None else rows:
            offset = offsets[row]
            while position < len(failures) and failures[position][0] <= offset:
                yield failures[position][1]
                position += 1
            yield row
        for _offset, observation in failures[position:]:
            yield observation


class Detector(Protocol):
    name: str

    def observe(self, observation: Observation) -> None: ...

    def observe_chunk(self, chunk: ChunkObservations) -> None:
        """The same as `observe()` on every observation of `chunk` in log order, done
        faster where the detector only needs the activity per minute."""
        ...

    def merge(self, later: Detector) -> None:
        """Fold in a detector of the same kind that observed the input after this one
        (`analyze --jobs` runs parts of the input in other processes)."""
        ...

    def shift_lines(self, lines: int) -> None:
        """Count every line number held `lines` further on: the detector observed a later
        byte range of a file (`analyze --jobs`), numbered from the range's start."""
        ...

    def incidents(self) -> list[Incident]: ...


@runtime_checkable
class ReadsRows(Protocol):
    """A detector that reads some activity rows one by one, not only the minutes."""

    def rows_wanted(self) -> RowsWanted:
        """The rows it reads, as its state stands now (a sample may shrink later)."""
        ...


def rows_wanted(detectors: Iterable[Detector]) -> RowsWanted:
    """The rows a batch must keep for `detectors`: what any of them reads."""
    wanted = RowsWanted()
    for detector in detectors:
        if isinstance(detector, ReadsRows):
            wanted |= detector.rows_wanted()
    return wanted
