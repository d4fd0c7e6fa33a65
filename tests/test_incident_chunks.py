"""Detectors fed a chunk at a time find exactly what they find fed one observation at a time.

The pipeline hands detectors a chunk's failures and its activity as a batch
(`observe_chunk`), so that most detectors count successes per minute instead of per line;
these tests hold that shortcut to the one-by-one definition on every scenario stream of
`test_incidents` and on random ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydiag.diagnose.incidents import (
    Incident,
    IncidentSettings,
    Observation,
    error_timeline,
    make_detectors,
)
from paydiag.diagnose.incidents.limbo import LimboThresholds, OrderDetector
from paydiag.diagnose.incidents.model import (
    ActivityBatch,
    ChunkObservations,
    Detector,
    RowsWanted,
    rows_wanted,
)
from paydiag.diagnose.incidents.series import micros, minute_key
from paydiag.report.model import MinuteBucket

from .test_incidents import (
    _creep_stream,
    at,
    burst_stream,
    call,
    orders_stream,
    outage_stream,
    production_stream,
    traffic,
)

Outcome = tuple[list[Incident], tuple[MinuteBucket, ...]]


def one_by_one(stream: list[Observation], detectors: list[Detector]) -> Outcome:
    for observation in stream:
        for detector in detectors:
            detector.observe(observation)
    return _outcome(detectors)


def by_chunks(
    stream: list[Observation],
    detectors: list[Detector],
    cuts: list[int],
    every_row: bool = False,
) -> Outcome:
    """`stream` read as a log: line i at offset i, cut into chunks at `cuts` and wherever
    the source changes, as the pipeline reads one input at a time. Each batch keeps the
    rows the detectors want, as the pipeline's do, or (`every_row`) a row for every line."""
    edges = sorted({0, len(stream), *(c for c in cuts if 0 < c < len(stream))})
    for start, end in pairwise(edges):
        for part in _by_source(stream, start, end):
            chunk = _chunk(part, None if every_row else rows_wanted(detectors))
            for detector in detectors:
                detector.observe_chunk(chunk)
    return _outcome(detectors)


def _by_source(
    stream: list[Observation], start: int, end: int
) -> list[list[tuple[int, Observation]]]:
    parts: list[list[tuple[int, Observation]]] = []
    for offset in range(start, end):
        observation = stream[offset]
        if not parts or parts[-1][-1][1].source != observation.source:
            parts.append([])
        parts[-1].append((offset, observation))
    return parts


def _chunk(part: list[tuple[int, Observation]], wanted: RowsWanted | None) -> ChunkObservations:
    batch = ActivityBatch(part[0][1].source, wanted=wanted)
    failures = []
    for offset, o in part:
        if o.failed:
            failures.append((offset, o))
            continue
        batch.add(
            offset,
            o.line,
            minute_key(o.time),
            micros(o.time),
            o.gateway,
            o.stage,
            o.duration_ms,
            o.environment,
            o.transaction_ids,
            o.request_ids,
        )
    return ChunkObservations(failures, batch)


def _outcome(detectors: list[Detector]) -> Outcome:
    # Report order is decided later (incident_records sorts them); within a detector, the
    # order of gateways follows which was seen first, which chunking may change.
    incidents = [incident for detector in detectors for incident in detector.incidents()]
    incidents.sort(key=lambda i: (i.kind, str(i.gateway), i.start))
    return incidents, error_timeline(detectors)


def leaked_sandbox_calls() -> list[Observation]:
    return [
        call(at(40 + i / 2), environment="sandbox", source="worker-3.log", line=100 + i)
        for i in range(5)
    ]


def in_log_order(stream: list[Observation]) -> list[Observation]:
    return sorted(stream, key=lambda o: o.time)


SCENARIOS: dict[str, Callable[[], list[Observation]]] = {
    "outage": outage_stream,
    "rate limit burst": burst_stream,
    "sandbox key in production": lambda: production_stream() + leaked_sandbox_calls(),
    "limbo and duplicates": lambda: orders_stream(limbo=True, duplicates=True),
    "latency creep": _creep_stream,
}


@pytest.mark.parametrize("every_row", [False, True], ids=["rows wanted", "every row"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_finds_the_same_fed_by_chunks(name: str, every_row: bool) -> None:
    stream = in_log_order(SCENARIOS[name]())
    expected = one_by_one(stream, make_detectors())
    assert expected[0], "the scenario should show an incident"
    cuts = random.Random(name).sample(range(len(stream)), 12)
    assert by_chunks(stream, make_detectors(), cuts, every_row) == expected


def test_a_sampled_order_map_finds_the_same_fed_by_chunks() -> None:
    stream = in_log_order(orders_stream(limbo=True, duplicates=True))
    sampled = IncidentSettings(limbo=LimboThresholds(max_orders=100))
    whole, chunked = make_detectors(sampled), make_detectors(sampled)
    expected = one_by_one(stream, whole)
    assert expected[0]
    assert by_chunks(stream, chunked, [37, 500, 1200]) == expected
    # The same orders kept, not only the same incidents: rows carry their order's hash.
    orders = [d for d in (*whole, *chunked) if isinstance(d, OrderDetector)]
    assert orders[0]._level > 1
    assert list(orders[0]._orders) == list(orders[1]._orders)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.integers(0, 2_000), max_size=8),
    every_row=st.booleans(),
)
def test_random_mixed_traffic_finds_the_same_fed_by_chunks(
    seed: int, cuts: list[int], every_row: bool
) -> None:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        roll = rng.random()
        gateway = rng.choice(["stripe", "adyen", None])
        source = rng.choice(["a.log", "b.log"])
        if roll < 0.15:
            return call(
                when,
                gateway=gateway,
                source=source,
                failed=True,
                category=rng.choice(
                    ["timeout", "rate_limit", "auth_credentials", "decline_generic"]
                ),
                http_status=rng.choice([None, 429, 503, 401]),
                transaction_ids=(f"ORD-{number % 97}",),
            )
        return call(
            when,
            gateway=gateway,
            source=source,
            line=number,
            stage=rng.choice(["captured", "authorized", "created", None]),
            duration_ms=rng.choice([None, rng.uniform(50, 9000), -1.0]),
            environment=rng.choice([None, None, "sandbox", "production"]),
            transaction_ids=rng.choice([(), (f"ORD-{number % 89}", f"pi_{number}")]),
        )

    stream = in_log_order(traffic(40, 25, seed=seed, make=make))
    expected = one_by_one(stream, make_detectors())
    assert by_chunks(stream, make_detectors(), cuts, every_row) == expected


@given(
    moments=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 59_999_999), st.sampled_from(["a", None])),
        max_size=40,
    )
)
def test_a_batch_is_as_late_as_its_latest_row_in_any_order(
    moments: list[tuple[int, int, str | None]],
) -> None:
    batch = ActivityBatch("a.log")
    first = minute_key(at(0))
    for row, (minute, micro, gateway) in enumerate(moments):
        batch.add(row, row + 1, first + minute, micro, gateway, None, None, None, (), ())
    rows = range(len(batch))
    assert batch.latest() == (max(map(batch.time, rows)) if moments else None)


def test_a_chunk_without_activity_or_failures_changes_nothing() -> None:
    detectors = make_detectors()
    before = _outcome(detectors)
    for detector in detectors:
        detector.observe_chunk(ChunkObservations([], ActivityBatch("empty.log")))
    assert _outcome(detectors) == before
