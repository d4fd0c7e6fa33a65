"""Incident detectors on generated observation streams whose truth is known.

Each scenario builds a stream with an incident at known times (an outage window, a 429
burst, a sandbox key in production, a key rotation, clock skew, limbo orders, duplicate
charges, latency creep), feeds it shuffled (the pipeline reads files one after another, so
detectors must not depend on order), and checks the incident's boundaries are within a
minute of the truth. The same stream without the incident reports nothing.
"""

from __future__ import annotations

import json
import pickle
import random
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from paydiag.cli import app
from paydiag.diagnose.incidents import (
    ErrorTimeline,
    Incident,
    IncidentSettings,
    Observation,
    conclude,
    error_timeline,
    incident_records,
    latency,
    make_detectors,
    outage,
)
from paydiag.diagnose.incidents.credentials import CredentialDetector, CredentialThresholds
from paydiag.diagnose.incidents.environment import EnvironmentDetector
from paydiag.diagnose.incidents.latency import LatencyDetector, LatencyThresholds
from paydiag.diagnose.incidents.limbo import LimboThresholds, OrderDetector
from paydiag.diagnose.incidents.model import Detector
from paydiag.diagnose.incidents.outage import OutageDetector, OutageThresholds
from paydiag.diagnose.incidents.rate_limit import RateLimitDetector, RateLimitThresholds
from paydiag.diagnose.incidents.series import (
    PAGE_MINUTES,
    Columns,
    IdSample,
    LabelCounts,
    MinuteTable,
    instant,
    keep_latest,
    moment_at,
    moment_of,
)
from paydiag.redact import DEFAULT_REDACTOR
from paydiag.report import REPORTERS, RenderOptions
from paydiag.report.model import MinuteBucket, Report, Summary

from .conftest import ROOT, SAMPLE_LOGS

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
ONE_MINUTE = 60.0
SCHEMA = json.loads((ROOT / "paydiag" / "schemas" / "report.schema.json").read_text())


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def call(when: datetime, **fields: object) -> Observation:
    """A successful gateway call unless the fields say otherwise."""
    defaults: dict[str, object] = {
        "gateway": "stripe",
        "failed": False,
        "source": "app.log",
        "line": 0,
    }
    defaults.update(fields)
    return Observation(time=when, **defaults)  # type: ignore[arg-type]


def traffic(
    minutes: int,
    per_minute: int,
    seed: int,
    make: Callable[[datetime, int, random.Random], Observation] | None = None,
) -> list[Observation]:
    """`per_minute` calls in each minute at random seconds; `make` shapes each one."""
    rng = random.Random(seed)
    found = []
    number = 0
    for minute in range(minutes):
        for _ in range(per_minute):
            number += 1
            when = at(minute + rng.uniform(0, 0.999))
            found.append(make(when, number, rng) if make else _healthy(when, number, rng))
    return found


def _healthy(when: datetime, number: int, rng: random.Random) -> Observation:
    """A normal call: 300 ms or so, a decline now and then (not an incident)."""
    if rng.random() < 0.01:
        return call(when, failed=True, category="decline_generic", stage="declined")
    return call(
        when,
        duration_ms=rng.lognormvariate(5.7, 0.2),
        stage="captured",
        transaction_ids=(f"ORD-{number}", f"pi_{number}"),
    )


def run(
    detectors: Iterable[Detector], observations: list[Observation], seed: int = 0
) -> list[Incident]:
    stream = list(observations)
    random.Random(seed).shuffle(stream)
    chosen = list(detectors)
    for observation in stream:
        for detector in chosen:
            detector.observe(observation)
    return [incident for detector in chosen for incident in detector.incidents()]


def near(actual: datetime, truth: datetime) -> bool:
    return abs((actual - truth).total_seconds()) <= ONE_MINUTE


def only(incidents: list[Incident], kind: str) -> Incident:
    matching = [i for i in incidents if i.kind == kind]
    assert len(matching) == 1, [(i.kind, i.start, i.end) for i in incidents]
    return matching[0]


# --- gateway outage --------------------------------------------------------------------------


def outage_stream(start: float = 60, end: float = 72, minutes: int = 120) -> list[Observation]:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        if at(start) <= when < at(end) and rng.random() < 0.9:
            if rng.random() < 0.5:
                return call(
                    when,
                    failed=True,
                    category="timeout",
                    rule_id="stripe.api_connection_error",
                    transaction_ids=(f"ORD-{number}",),
                )
            return call(
                when,
                failed=True,
                category="gateway_outage",
                http_status=503,
                transaction_ids=(f"ORD-{number}",),
            )
        return _healthy(when, number, rng)

    return traffic(minutes, 20, seed=1, make=make)


def test_outage_window_is_found_within_a_minute_with_its_playbook() -> None:
    incident = only(run(make_detectors(), outage_stream()), "gateway_outage")
    assert near(incident.start, at(60))
    assert near(incident.end, at(72))
    assert incident.gateway == "stripe"
    assert incident.severity == "critical"
    assert incident.fault == "gateway"
    assert float(incident.figures["peak_failure_rate"]) >= 0.8
    assert int(incident.figures["failed_calls"]) > 150
    assert int(incident.figures["failed_transactions"]) == int(incident.figures["failed_calls"])
    assert "timeout" in str(incident.figures["failures_by_reason"])
    assert "HTTP 503" in str(incident.figures["failures_by_reason"])
    playbook = " ".join(incident.fixes)
    for step in (
        "status.stripe.com",
        "Fail over",
        "alternative payment methods",
        "Tell customers",
        "Escalate",
        "post-incident summary",
    ):
        assert step in playbook
    assert incident.transactions and incident.transactions[0].startswith("ORD-")


def test_clean_stream_of_the_same_size_reports_nothing() -> None:
    clean = traffic(120, 20, seed=1)
    assert len(clean) == len(outage_stream())
    assert run(make_detectors(), clean) == []


def test_outage_from_the_first_line_needs_no_baseline() -> None:
    incident = only(run([OutageDetector()], outage_stream(start=0, end=15)), "gateway_outage")
    assert near(incident.start, at(0))
    assert near(incident.end, at(15))


def test_outage_on_a_quiet_gateway_widens_the_window() -> None:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        if at(60) <= when < at(100):
            return call(when, failed=True, category="timeout")
        return _healthy(when, number, rng)

    incident = only(run([OutageDetector()], traffic(160, 1, seed=3, make=make)), "gateway_outage")
    assert near(incident.start, at(60))
    assert near(incident.end, at(100))


def test_a_gateway_that_always_times_out_a_little_is_not_an_outage() -> None:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        if rng.random() < 0.06:
            return call(when, failed=True, category="timeout")
        return _healthy(when, number, rng)

    assert run([OutageDetector()], traffic(120, 20, seed=4, make=make)) == []


def test_a_gateway_seen_only_failing_has_no_share_to_measure() -> None:
    """An errors-only log (or a generic rule family such as `http`) shows no successes, so
    a burst of 5xx is left to the findings rather than called an outage or an onset."""
    errors_only = [
        call(at(m / 4), gateway="http", failed=True, category=category, http_status=status)
        for m in range(60)
        for category, status in (("gateway_outage", 503), ("auth_credentials", 401))
    ]
    assert run([OutageDetector(), CredentialDetector()], errors_only) == []


def test_outage_thresholds_are_respected() -> None:
    strict = OutageThresholds(min_failure_rate=1.0)  # the stream fails 90% at most
    assert run([OutageDetector(strict)], outage_stream()) == []
    settings = IncidentSettings.from_mapping({"outage": {"enabled": False}})
    assert not any(isinstance(d, OutageDetector) for d in make_detectors(settings))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(  # per minute seen: a step from the last one, calls and outage failures
        st.tuples(st.sampled_from([1, 1, 1, 2, 5, 40]), st.integers(0, 30), st.integers(0, 12)),
        max_size=150,
    ),
    st.integers(1, 12),
    st.integers(0, 30),
    st.integers(1, 8),
    st.integers(1, 20),
)
def test_an_outage_s_flags_skip_only_minutes_that_cannot_be_flagged(
    rows: list[tuple[int, int, int]], window: int, wider: int, failures: int, calls: int
) -> None:
    minutes, counts, fails = array("q"), array("q"), array("q")
    minute = 1_000_000
    for step, called, failed in rows:
        minute += step
        minutes.append(minute)
        counts.append(called + failed)
        fails.append(failed)
    nothing = array("q", bytes(8 * len(rows)))
    columns = Columns(minutes, (counts, nothing), (fails, nothing, nothing), (array("d"),))
    thresholds = OutageThresholds(
        window_minutes=window,
        max_window_minutes=window + wider,
        min_failures=failures,
        min_calls=calls,
    )
    series = outage._Series(columns, thresholds)
    every = [flag for index in range(len(rows)) if (flag := series._flag(index)) is not None]
    assert list(series.flags()) == every


def test_latency_creeping_up_before_an_outage_is_part_of_its_story() -> None:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        observation = outage_maker(when, number, rng)
        if at(50) <= when < at(60) and not observation.failed:
            return replace(observation, duration_ms=rng.lognormvariate(5.7, 0.2) * 5)
        return observation

    outage_maker = _outage_maker(60, 72)
    incidents = run(make_detectors(), traffic(120, 20, seed=5, make=make))
    outage = only(incidents, "gateway_outage")
    assert int(outage.figures["latency_before_ms"]) > 3 * int(outage.figures["latency_baseline_ms"])
    assert any("Latency crept up" in cause for cause in outage.causes)
    creep = only(incidents, "latency_creep")
    assert near(creep.start, at(50))
    assert near(creep.end, at(60))


def _outage_maker(
    start: float, end: float
) -> Callable[[datetime, int, random.Random], Observation]:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        if at(start) <= when < at(end) and rng.random() < 0.9:
            return call(when, failed=True, category="timeout", transaction_ids=(f"ORD-{number}",))
        return _healthy(when, number, rng)

    return make


# --- rate-limit bursts ----------------------------------------------------------------------


def burst_stream() -> list[Observation]:
    stream = traffic(90, 20, seed=6)
    rng = random.Random(7)
    for number in range(6 * 150):
        when = at(30 + rng.uniform(0, 6))
        throttled = rng.random() < 0.3
        stream.append(
            call(
                when,
                failed=throttled,
                category="rate_limit" if throttled else None,
                http_status=429 if throttled else 200,
                transaction_ids=(f"SYNC-{number}",),
            )
        )
    return stream


def test_rate_limit_burst_is_found_with_the_request_rate_behind_it() -> None:
    incident = only(run(make_detectors(), burst_stream()), "rate_limit_burst")
    assert near(incident.start, at(30))
    assert near(incident.end, at(36))
    assert int(incident.figures["throttled_requests"]) > 200
    assert int(incident.figures["peak_requests_per_minute"]) >= 150
    assert float(incident.figures["usual_requests_per_minute"]) == pytest.approx(20, abs=2)
    assert "spike" in incident.causes[0]
    assert any("Retry-After" in fix for fix in incident.fixes)
    assert any("backoff" in fix for fix in incident.fixes)


def test_a_few_scattered_429s_are_not_a_burst() -> None:
    stream = traffic(90, 20, seed=6)
    stream += [call(at(m), failed=True, http_status=429) for m in (10, 40, 80)]
    assert run([RateLimitDetector()], stream) == []
    assert run([RateLimitDetector(RateLimitThresholds(min_throttled=10_000))], burst_stream()) == []


# --- environment mismatch ---------------------------------------------------------------------


def production_stream() -> list[Observation]:
    return [replace(o, environment="production") for o in traffic(60, 10, seed=8)]


def test_sandbox_key_in_production_is_reported_with_where_it_was_seen() -> None:
    leaked = [
        call(
            at(40 + i / 2),
            environment="sandbox",
            source="worker-3.log",
            line=100 + i,
            stage="captured" if i == 0 else None,
            transaction_ids=(f"ORD-T{i}",),
        )
        for i in range(5)
    ]
    incident = only(run(make_detectors(), production_stream() + leaked), "environment_mismatch")
    assert near(incident.start, at(40))
    assert near(incident.end, at(42))
    assert incident.severity == "critical"  # a payment succeeded in the sandbox
    assert incident.figures["sandbox_events"] == 5
    assert "worker-3.log:100" in str(incident.figures["seen_at"])
    assert "ORD-T0" in incident.transactions
    assert run([EnvironmentDetector()], production_stream()) == []


def test_live_keys_in_a_sandbox_log_are_the_reverse_mismatch() -> None:
    sandbox = [replace(o, environment="sandbox") for o in traffic(30, 10, seed=9)]
    live = [call(at(20), environment="production")]
    incident = only(run([EnvironmentDetector()], sandbox + live), "environment_mismatch")
    assert incident.title.startswith("Live credentials")


# --- credentials: sudden onset and clock skew ------------------------------------------------


def test_key_rotation_onset_is_found_to_the_second() -> None:
    onset = at(45.5)

    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        if when >= onset:
            return call(when, failed=True, category="auth_credentials", http_status=401)
        return _healthy(when, number, rng)

    incident = only(
        run(make_detectors(), traffic(90, 20, seed=10, make=make)), "credential_failure"
    )
    assert near(incident.start, onset)
    assert abs((incident.start - onset).total_seconds()) < 5
    assert near(incident.end, at(90))
    assert incident.figures["still_failing_at_end"] == "yes"
    assert incident.severity == "critical"
    assert "last_success_before" in incident.figures
    assert any("rolled" in cause for cause in incident.causes)


def test_an_onset_in_one_service_is_not_hidden_by_another_integration() -> None:
    """Amazon Pay v2 in one service loses its key while the v1 integration elsewhere goes on."""
    onset = at(30.25)

    def v2(when: datetime, number: int, rng: random.Random) -> Observation:
        failed = when >= onset
        return call(
            when,
            gateway="amazon_pay",
            source="payments-service.log",
            failed=failed,
            category="signature" if failed else None,
        )

    def v1(when: datetime, number: int, rng: random.Random) -> Observation:
        return call(when, gateway="amazon_pay", source="mws.log")

    stream = traffic(60, 2, seed=16, make=v2) + traffic(60, 2, seed=17, make=v1)
    incident = only(run([CredentialDetector()], stream), "credential_failure")
    assert near(incident.start, onset)


def test_an_onset_across_rotated_files_is_one_incident() -> None:
    onset = at(30.5)

    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        failed = when >= onset
        source = "app.log.1" if when < at(40) else "app.log"
        category = "auth_token" if failed else None
        return call(when, source=source, failed=failed, category=category)

    incident = only(
        run([CredentialDetector()], traffic(60, 5, seed=18, make=make)), "credential_failure"
    )
    assert near(incident.start, onset)
    assert near(incident.end, at(60))
    assert incident.figures["still_failing_at_end"] == "yes"


def test_scattered_authentication_errors_are_not_an_onset() -> None:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        if number % 200 == 0:
            return call(when, failed=True, category="auth_token")
        return _healthy(when, number, rng)

    assert run([CredentialDetector()], traffic(90, 20, seed=11, make=make)) == []


def test_clock_skew_is_reported_with_its_size_instead_of_an_onset() -> None:
    skew = timedelta(seconds=420)

    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        if at(20) <= when < at(40):
            return call(
                when,
                gateway="amazon_pay",
                failed=True,
                category="signature",
                request_time=when + skew,
            )
        return replace(_healthy(when, number, rng), gateway="amazon_pay")

    incidents = run(make_detectors(), traffic(60, 10, seed=12, make=make))
    incident = only(incidents, "clock_skew")
    assert near(incident.start, at(20))
    assert near(incident.end, at(40))
    assert incident.figures["median_skew_seconds"] == 420
    assert "7 min 0 s ahead of" in incident.summary
    assert not [i for i in incidents if i.kind == "credential_failure"]
    small = CredentialThresholds(skew_seconds=600)
    assert not [
        i
        for i in run([CredentialDetector(small)], traffic(60, 10, seed=12, make=make))
        if i.kind == "clock_skew"
    ]


# --- orders in limbo and duplicate charges -----------------------------------------------------


def orders_stream(limbo: bool, duplicates: bool) -> list[Observation]:
    """200 orders created then captured; optionally 6 timed out and 3 left authorised, and
    3 orders charged twice (plus one charge logged twice, which is not a duplicate)."""
    rng = random.Random(13)
    stream: list[Observation] = []
    for number in range(200):
        start = at(number * 0.5)
        order = f"ORD-{number}"
        stream.append(call(start, stage="created", transaction_ids=(order, f"pi_{number}")))
        if limbo and 60 <= number < 66:
            stream.append(
                call(
                    start + timedelta(seconds=20),
                    failed=True,
                    category="timeout",
                    stage="failed",
                    transaction_ids=(order, f"pi_{number}"),
                )
            )
            continue
        if limbo and 70 <= number < 73:
            stream.append(
                call(
                    start + timedelta(seconds=5),
                    stage="authorized",
                    transaction_ids=(order, f"pi_{number}"),
                )
            )
            continue
        paid = start + timedelta(seconds=rng.uniform(5, 30))
        stream.append(call(paid, stage="captured", transaction_ids=(order, f"pi_{number}")))
        # The webhook for the same payment, from another file: the same charge.
        stream.append(
            call(
                paid + timedelta(seconds=2),
                stage="captured",
                source="hooks.jsonl",
                transaction_ids=(order, f"pi_{number}"),
            )
        )
        if duplicates and number in (100, 110, 120):
            stream.append(
                call(
                    paid + timedelta(minutes=2),
                    stage="captured",
                    transaction_ids=(order, f"pi_{number}b"),
                )
            )
    # Abandoned checkouts: created and nothing else; not limbo by default.
    stream += [call(at(20 + i), stage="created", transaction_ids=(f"CART-{i}",)) for i in range(5)]
    return stream


def test_limbo_orders_are_found_with_their_span() -> None:
    incident = only(run(make_detectors(), orders_stream(True, False)), "orders_in_limbo")
    assert incident.figures["orders_in_limbo"] == 9
    assert incident.figures["after_timeout_or_gateway_error"] == 6
    assert incident.figures["authorized_not_captured"] == 3
    assert near(incident.start, at(30))
    assert near(incident.end, at(36))
    assert set(incident.transactions) == {f"ORD-{n}" for n in [*range(60, 66), *range(70, 73)]}
    assert run([OrderDetector()], orders_stream(False, False)) == []


def test_authorised_payments_are_not_limbo_where_the_logs_never_show_captures() -> None:
    stream = [
        call(at(i), stage="authorized", transaction_ids=(f"ORD-{i}", f"PSP-{i}")) for i in range(60)
    ]
    assert run([OrderDetector()], stream) == []


def test_abandoned_checkouts_count_only_when_asked() -> None:
    asked = OrderDetector(LimboThresholds(include_created_only=True))
    incident = only(run([asked], orders_stream(False, False)), "orders_in_limbo")
    assert incident.figures["orders_in_limbo"] == 5
    later = OrderDetector(LimboThresholds(limbo_after_minutes=24 * 60))
    assert run([later], orders_stream(True, False)) == []


def test_duplicate_charges_are_orders_with_two_different_payments() -> None:
    incident = only(run(make_detectors(), orders_stream(False, True)), "duplicate_charge")
    assert set(incident.transactions) == {"ORD-100", "ORD-110", "ORD-120"}
    assert incident.figures["extra_charges"] == 3
    assert near(incident.start, at(50 + 2))
    assert near(incident.end, at(60 + 2.5))
    assert "pi_100b" in str(incident.figures["charges"])
    assert any("Idempotency-Key" in fix for fix in incident.fixes)


def test_a_charge_named_by_payment_and_by_charge_id_is_one_charge() -> None:
    stream = [
        call(at(0), stage="captured", transaction_ids=("ORD-1", "pi_1", "ch_1")),
        call(at(0.1), stage="captured", transaction_ids=("ORD-1", "ch_1")),
        call(at(0.2), stage="captured", transaction_ids=("ORD-2", "pi_2")),
        call(at(0.3), stage="captured", transaction_ids=("ORD-2", "ch_2")),
    ]
    assert run([OrderDetector()], stream) == []


# --- latency --------------------------------------------------------------------------------


def test_slow_calls_are_reported_with_percentiles() -> None:
    stream = traffic(60, 10, seed=14)
    stream += [
        call(at(30 + i), duration_ms=8000.0 + i, transaction_ids=(f"SLOW-{i}",)) for i in range(10)
    ]
    incident = only(run(make_detectors(), stream), "slow_calls")
    assert incident.figures["slow_calls"] == 10
    assert near(incident.start, at(30))
    assert near(incident.end, at(39))
    p50, p95, p99 = (int(incident.figures[k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
    assert 250 < p50 < 350 and p50 <= p95 <= p99
    assert int(incident.figures["slowest_ms"]) == 8009
    relaxed = LatencyThresholds(slow_call_ms=10_000)
    assert run([LatencyDetector(relaxed)], stream) == []


def test_latency_creep_is_found_within_a_minute() -> None:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        slow = 5.0 if at(60) <= when < at(75) else 1.0
        return call(when, duration_ms=rng.lognormvariate(5.7, 0.2) * slow)

    incident = only(run([LatencyDetector()], traffic(120, 20, seed=15, make=make)), "latency_creep")
    assert near(incident.start, at(60))
    assert near(incident.end, at(75))
    assert float(incident.figures["slowdown"]) > 3


_MINUTE_HISTOGRAMS = st.dictionaries(
    st.integers(0, latency.MAX_LABEL), st.integers(1, 50), max_size=6
).map(Counter)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["add", "remove", "move"]), _MINUTE_HISTOGRAMS), max_size=40)
)
def test_a_rolling_median_is_the_quantile_of_the_minutes_in_it(
    steps: list[tuple[str, Counter[int]]],
) -> None:
    """Minutes come and go (a removal takes the oldest still in, a move passes it on to a
    second span, as the window does to the baseline); the median kept as they do is
    quantile(0.5) of the sum of the minutes in."""
    rolling, later = latency._Rolling(), latency._Rolling()
    held, passed = deque[Counter[int]](), deque[Counter[int]]()
    for step, minute in steps:
        if step == "add" or not held:
            held.append(minute)
            rolling.add(minute, minute.total())
        elif step == "remove":
            old = held.popleft()
            rolling.remove(old, old.total())
        else:
            old = held.popleft()
            rolling.move(old, old.total(), later)
            passed.append(old)
        for span, minutes in ((rolling, held), (later, passed)):
            together = sum(minutes, Counter[int]())
            assert span.total == together.total()
            assert span.median(float) == latency.quantile(together, 0.5, float)


# --- merging partial results (analyze --jobs) ------------------------------------------------


def _summary(incidents: list[Incident]) -> list[tuple[str, datetime, datetime, str]]:
    return sorted((i.kind, i.start, i.end, i.severity) for i in incidents)


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(min_value=0, max_value=2400))
def test_detectors_merged_from_two_parts_agree_with_one(cut: int) -> None:
    stream = sorted(outage_stream(), key=lambda o: o.time)
    whole = run(make_detectors(), stream)
    first, second = make_detectors(), make_detectors()
    run(first, stream[:cut])
    run(second, stream[cut:])
    for mine, later in zip(first, second, strict=True):
        mine.merge(later)
    merged = [i for d in first for i in d.incidents()]
    assert _summary(merged) == _summary(whole)


@settings(max_examples=10, deadline=None)
@given(cut=st.integers(min_value=0, max_value=660), seed=st.integers(0, 3))
def test_a_sampled_order_map_finds_the_same_however_the_input_is_split(cut: int, seed: int) -> None:
    """Over `max_orders` a sample of orders is kept, chosen by ID: the same in every split."""
    stream = orders_stream(True, True)
    random.Random(seed).shuffle(stream)
    small = LimboThresholds(max_orders=100)
    whole = run([OrderDetector(small)], stream)
    first, second = OrderDetector(small), OrderDetector(small)
    run([first], stream[:cut])
    run([second], stream[cut:])
    first.merge(pickle.loads(pickle.dumps(second)))  # as a worker hands it over
    assert _summary(first.incidents()) == _summary(whole)
    assert len(whole) == 2
    assert all(i.figures["sampled_one_order_in"] == 4 for i in whole)
    assert all("sample of 1 in 4 orders" in i.summary for i in whole)


def test_an_order_map_comes_back_from_a_pickle_whole() -> None:
    detector = OrderDetector(LimboThresholds(max_orders=100))
    run([detector], orders_stream(True, True))
    again = pickle.loads(pickle.dumps(detector))
    assert again.__dict__.keys() == detector.__dict__.keys()
    assert list(again._orders) == list(detector._orders)
    for order, copy in zip(detector._orders.values(), again._orders.values(), strict=True):
        for name in order.__slots__:
            assert getattr(copy, name) == getattr(order, name), name
    assert _summary(again.incidents()) == _summary(detector.incidents())
    assert any(order.charged_twice() for order in again._orders.values())


def test_merging_different_detectors_is_refused() -> None:
    with pytest.raises(TypeError):
        OutageDetector().merge(RateLimitDetector())


# --- settings -------------------------------------------------------------------------------


def test_settings_from_a_config_table() -> None:
    settings = IncidentSettings.from_mapping(
        {
            "outage": {"window_minutes": 10, "min_failure_rate": 1},
            "limbo": {"limbo_after_minutes": 90},
        }
    )
    assert settings.outage.window_minutes == 10
    assert settings.outage.min_failure_rate == 1.0
    assert isinstance(settings.outage.min_failure_rate, float)
    assert settings.limbo.limbo_after_minutes == 90
    assert settings.rate_limit == RateLimitThresholds()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"outages": {}}, "incidents: unknown detector 'outages'"),
        ({"outage": 5}, "incidents.outage: expected a table"),
        ({"outage": {"window": 5}}, "incidents.outage: unknown setting 'window'"),
        ({"outage": {"window_minutes": 0}}, "incidents.outage.window_minutes: must be at least 1"),
        ({"outage": {"window_minutes": "5"}}, "incidents.outage.window_minutes: expected a whole"),
        ({"outage": {"min_calls": True}}, "incidents.outage.min_calls: expected a whole number"),
        (
            {"outage": {"min_failure_rate": 1.5}},
            "incidents.outage.min_failure_rate: must be at most 1",
        ),
        ({"outage": {"max_window_minutes": 2}}, "incidents.outage.max_window_minutes: must be at"),
        (
            {"latency": {"min_slow_share": "high"}},
            "incidents.latency.min_slow_share: expected a number",
        ),
        (
            {"limbo": {"include_created_only": 1}},
            "incidents.limbo.include_created_only: expected true",
        ),
        (
            {"credentials": {"onset_share": -0.1}},
            "incidents.credentials.onset_share: must be at least",
        ),
    ],
)
def test_bad_settings_are_refused_with_their_name(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        IncidentSettings.from_mapping(table)


def test_thresholds_built_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match=r"incidents\.rate_limit\.min_throttled"):
        RateLimitThresholds(min_throttled=0)


# --- memory caps ----------------------------------------------------------------------------


def _count(table: MinuteTable[str], key: str, minute: int) -> None:
    found = table.row(key, minute)
    if found is not None:
        page, offset = found
        page.ints[offset] += 1


def test_a_minute_table_keeps_the_first_pages_up_to_its_caps() -> None:
    page = PAGE_MINUTES
    table: MinuteTable[str] = MinuteTable("+", max_keys=2, max_minutes=2 * page, max_total=3 * page)
    for minute in range(0, 5 * page, 7):
        for key in ("a", "b", "c"):
            _count(table, key, minute)
    assert list(table) == ["a", "b"]  # no room for a third key
    # Two pages for "a" (its own cap), then the table's cap of three pages is full.
    assert [m for m, _, _ in table.rows("a")] == list(range(0, 2 * page, 7))
    assert [m for m, _, _ in table.rows("b")] == list(range(0, page, 7))


def test_minute_tables_merged_from_two_parts_hold_the_rows_of_one() -> None:
    minutes = [random.Random(3).randrange(1000) for _ in range(500)]
    whole, first, second = (MinuteTable[str]("+") for _ in range(3))
    for index, minute in enumerate(minutes):
        _count(whole, "a", minute)
        _count(first if index < 200 else second, "a", minute)
    first.merge(second)
    rows = [(m, p.ints[o]) for m, p, o in whole.rows("a")]
    assert rows == [(m, p.ints[o]) for m, p, o in first.rows("a")]
    assert sum(count for _, count in rows) == 500


@settings(max_examples=200, deadline=None)
@given(
    st.lists(  # (minute, count, time, extra count, float), dense in one page, sparse beyond
        st.tuples(
            st.one_of(st.integers(0, PAGE_MINUTES - 1), st.integers(0, 5 * PAGE_MINUTES)),
            st.integers(1, 5),
            st.integers(0, 59_999_999),
            st.integers(0, 3),
            st.floats(0, 1e6),
        ),
        max_size=400,
    ),
    st.sampled_from([None, -1, 0, 100, PAGE_MINUTES - 1]),
)
def test_a_minute_table_s_columns_hold_each_minute_s_cells_in_time_order(
    rows: list[tuple[int, int, int, int, float]], left_out: int | None
) -> None:
    table: MinuteTable[str] = MinuteTable("+>", 1, extra="+")
    if left_out is not None:  # a later page with every minute but `left_out` (-1: all of them)
        start = 6 * PAGE_MINUTES
        rows = rows + [(start + m, 1, m, 1, 0.5) for m in range(PAGE_MINUTES) if m != left_out]
    for minute, count, when, extra, value in rows:
        found = table.count("k", minute, count)
        assert found is not None
        page, offset = found
        keep_latest(page.ints, offset * 2 + 1, when)
        if extra:
            table.extra(page)[offset] += extra
        page.floats[offset] += value
    columns = table.columns("k")
    expected = [
        (
            minute,
            page.ints[o * 2],
            page.ints[o * 2 + 1],
            page.extra[o] if page.extra is not None else 0,  # a page without extra cells
            page.floats[o],
        )
        for minute, page, o in table.rows("k")
    ]
    assert list(columns.minutes) == sorted({minute for minute, *_ in rows})
    assert (
        list(zip(columns.minutes, *columns.ints, *columns.extra, *columns.floats, strict=True))
        == expected
    )


def test_label_counts_keep_any_count_in_four_byte_cells() -> None:
    counts: LabelCounts[str] = LabelCounts()
    counts.add("k", 100, {3: 300_000, 7: 1})
    counts.add("k", 100, {3: 6})
    counts.add("k", 101, {3: 2})
    assert counts.get("k", 100) == {3: 300_006, 7: 1}
    assert counts.get("k", 101) == {3: 2}
    assert counts.get("k", 102) == {}
    counts.coarsen()  # buckets twice as wide: 3 and 2 become 1
    later: LabelCounts[str] = LabelCounts()
    later.add("k", 100, {1: 1})
    counts.merge(later)
    assert counts.get("k", 100) == {1: 300_007, 3: 1}
    assert counts.cells == 3 + 1 + 1  # 300,007 needs three cells of at most 131,071


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 300),
            st.dictionaries(st.integers(0, latency.MAX_LABEL), st.integers(1, 200_000), max_size=5),
        ),
        max_size=20,
    )
)
def test_label_counts_read_minute_by_minute_are_what_get_finds(
    added: list[tuple[int, dict[int, int]]],
) -> None:
    """minutes() decodes a page at a time what get() looks up a minute at a time."""
    counts: LabelCounts[str] = LabelCounts()
    for minute, labels in added:
        counts.add("k", minute, labels)
    seen = sorted({minute for minute, labels in added if labels})
    assert list(counts.minutes("k")) == [(minute, counts.get("k", minute)) for minute in seen]
    assert list(counts.minutes("other")) == []


@given(st.datetimes(timezones=st.just(UTC)))
def test_an_instant_is_the_time_a_batch_row_keeps(moment: datetime) -> None:
    point = instant(moment)
    assert moment_of(point) == moment == moment_at(*divmod(point, 60_000_000))


@settings(max_examples=10, deadline=None)
@given(cut=st.integers(min_value=0, max_value=600), seed=st.integers(0, 3))
def test_an_id_sample_over_its_limit_is_the_same_however_the_input_is_split(
    cut: int, seed: int
) -> None:
    entries = [(n % 30, f"ORD-{n // 2}") for n in range(600)]  # each ID in two minutes
    random.Random(seed).shuffle(entries)
    whole, first, second = IdSample[str](100), IdSample[str](100), IdSample[str](100)
    for index, (minute, value) in enumerate(entries):
        whole.add("stripe", minute, value)
        (first if index < cut else second).add("stripe", minute, value)
    first.merge(second)
    assert whole.size <= 100 and whole.one_in >= 4
    assert first.one_in == whole.one_in
    for minute in range(30):
        assert first.between("stripe", minute, minute) == whole.between("stripe", minute, minute)


def test_an_outage_beyond_the_id_cap_estimates_its_failed_transactions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exact = only(run([OutageDetector()], outage_stream()), "gateway_outage")
    monkeypatch.setattr(outage, "MAX_FAILED_IDS", 50)
    sampled = only(run([OutageDetector()], outage_stream()), "gateway_outage")
    assert (sampled.start, sampled.end) == (exact.start, exact.end)
    assert "transactions_sampled_one_in" not in exact.figures
    assert int(sampled.figures["transactions_sampled_one_in"]) >= 4
    truth = int(exact.figures["failed_transactions"])
    assert abs(int(sampled.figures["failed_transactions"]) - truth) < truth / 2
    assert "about " in sampled.summary
    failed = {o.transaction_ids[0] for o in outage_stream() if o.failed and o.transaction_ids}
    assert sampled.transactions and set(sampled.transactions) <= failed


def _creep_stream() -> list[Observation]:
    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        slow = 5.0 if at(60) <= when < at(75) else 1.0
        return call(when, duration_ms=rng.lognormvariate(5.7, 0.2) * slow)

    return traffic(120, 20, seed=15, make=make)


def test_coarse_minute_buckets_make_no_creep_of_steady_traffic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Buckets 4.8 times wide (level 5, a month of busy logs) once flipped the median of
    steady traffic across one edge and back, a "4.8x slower" creep every few minutes; a
    slowdown beyond what one bucket can show is still found."""
    monkeypatch.setattr(latency, "MAX_MINUTE_CELLS", 9_000)

    def make(when: datetime, number: int, rng: random.Random) -> Observation:
        slow = 30.0 if at(1000) <= when < at(1030) else 1.0
        return call(when, duration_ms=rng.uniform(100, 900) * slow)

    detector = LatencyDetector()
    incidents = run([detector], traffic(3000, 30, seed=3, make=make))
    assert detector._level == 5
    creep = only(incidents, "latency_creep")
    assert abs(creep.start - at(1000)) <= timedelta(minutes=5)  # coarse minutes, coarse start
    assert int(creep.figures["minute_buckets_percent"]) == 376


@pytest.mark.parametrize("cut", [0, 1000, 2399])
def test_minute_histograms_over_their_cap_get_coarser_and_still_show_creep(
    monkeypatch: pytest.MonkeyPatch, cut: int
) -> None:
    monkeypatch.setattr(latency, "MAX_MINUTE_CELLS", 400)
    stream = _creep_stream()
    whole = run([LatencyDetector()], stream)
    incident = only(whole, "latency_creep")
    assert near(incident.start, at(60))
    assert near(incident.end, at(75))
    assert int(incident.figures["minute_buckets_percent"]) >= 10
    ordered = sorted(stream, key=lambda o: o.time)
    first, second = LatencyDetector(), LatencyDetector()
    run([first], ordered[:cut])
    run([second], ordered[cut:])
    first.merge(second)
    assert first.incidents() == whole  # the same level of coarseness, however split


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(  # buckets at the edges of the labels' range, inside it and beyond
        st.one_of(st.integers(-66, -62), st.integers(445, 449), st.integers(-200, 700)),
        st.integers(1, 1000),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 6),
)
def test_a_minute_s_buckets_get_their_labels_clamped_and_halved_to_the_level(
    buckets: dict[int, int], level: int
) -> None:
    detector = LatencyDetector()
    detector._level = level
    expected: Counter[int] = Counter()
    for bucket, count in buckets.items():
        expected[min(max(bucket + 64, 0), latency.MAX_LABEL) >> level] += count
    assert detector._labels(buckets) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.one_of(st.integers(-66, -62), st.integers(445, 449), st.integers(-200, 700)),
            st.integers(1, 200_000),
            min_size=1,
            max_size=40,
        ),
        min_size=1,
        max_size=3,
    ),
    st.integers(0, 2),
)
def test_a_minute_packs_the_counts_its_labels_say_whichever_way_it_is_packed(
    minutes: list[dict[int, int]], level: int
) -> None:
    # _pack() hands the usual minute's buckets over as they are, shifted to their labels.
    detector = LatencyDetector()
    detector._level = level
    reference: LabelCounts[str] = LabelCounts()
    for buckets in minutes:  # one minute again and again: added to, not new
        detector._pack("stripe", 7, buckets)
        reference.add("stripe", 7, detector._labels(buckets))
    assert detector._histograms.get("stripe", 7) == reference.get("stripe", 7)
    assert detector._histograms.cells == reference.cells


# --- the error timeline --------------------------------------------------------------------


def test_timeline_counts_calls_and_errors_per_minute_with_quiet_minutes() -> None:
    stream = [call(at(0.2)), call(at(0.5), failed=True), call(at(3.1), failed=True)]
    first, second = ErrorTimeline(), ErrorTimeline()
    run([first], stream[:2])
    run([second], stream[2:])
    first.merge(second)
    assert first.buckets() == [
        MinuteBucket(at(0), 2, 1),
        MinuteBucket(at(1), 0, 0),
        MinuteBucket(at(2), 0, 0),
        MinuteBucket(at(3), 1, 1),
    ]
    # What a worker sends of it: its counts, which make the same minutes where they arrive.
    sent = pickle.loads(pickle.dumps(conclude(first)))
    assert sent.timeline is not None and sent.timeline.buckets() == first.buckets()
    assert conclude(OutageDetector()).timeline is None


# --- into the report --------------------------------------------------------------------------


def _report(incidents: list[Incident], timeline: list[MinuteBucket]) -> Report:
    summary = Summary(0, 0, 0, 0, None, None, {}, None, "No payment errors found.")
    return Report(
        summary=summary,
        inputs=(),
        findings=(),
        unrecognised=(),
        tool_version="0",
        gateways={"stripe": "Stripe"},
        incidents=incident_records(incidents, DEFAULT_REDACTOR),
        error_timeline=tuple(timeline),
    )


def _scenario() -> tuple[list[Incident], list[MinuteBucket]]:
    detectors = make_detectors()
    incidents = run(detectors, outage_stream())
    return incidents, list(error_timeline(detectors))


def test_report_json_with_incidents_follows_the_schema() -> None:
    incidents, timeline = _scenario()
    data = json.loads(REPORTERS["json"].render(_report(incidents, timeline), RenderOptions()))
    jsonschema.validate(data, SCHEMA)
    outage = next(i for i in data["incidents"] if i["kind"] == "gateway_outage")
    assert outage["start"].endswith("Z") and outage["gateway"] == "stripe"
    first = data["error_timeline"][0]
    assert (first["minute"], first["calls"]) == ("2026-03-02T12:00:00Z", 20)
    assert len(data["error_timeline"]) == 120


def test_text_report_shows_incidents_above_findings_and_a_timeline() -> None:
    incidents, timeline = _scenario()
    text = REPORTERS["text"].render(_report(incidents, timeline), RenderOptions(width=120))
    assert "[critical] Gateway outage" in text
    assert "What to do, in order:" in text and "Who must act: gateway" in text
    wide = REPORTERS["text"].render(_report(incidents, timeline), RenderOptions(width=400))
    assert "· peak failure rate: 9" in wide  # shares are shown as percentages
    assert "Error timeline (UTC)" in text
    assert "█" in text
    assert text.index("Gateway outage") < text.index("Error timeline")


def test_incident_text_from_logs_is_redacted() -> None:
    card = "4242 4242 4242 4242"
    leaked = Incident(
        kind="gateway_outage",
        gateway="stripe",
        start=at(0),
        end=at(1),
        severity="high",
        title="t",
        summary="key sk_live_abcdefghijklmnop1234 in the log",
        fault="gateway",
        figures={"seen_at": f"card {card}"},
        transactions=(card, "ORD-1"),
    )
    (record,) = incident_records([leaked], DEFAULT_REDACTOR)
    assert "sk_live_abcdefghijklmnop1234" not in record.summary
    assert card not in record.transactions[0] and record.transactions[1] == "ORD-1"
    assert card not in str(record.figures["seen_at"])


def test_incidents_are_ordered_worst_first() -> None:
    def incident(severity: str, minute: float) -> Incident:
        return Incident("slow_calls", "stripe", at(minute), at(minute), severity, "", "", "gateway")

    records = incident_records(
        [incident("medium", 0), incident("critical", 5), incident("high", 1)], DEFAULT_REDACTOR
    )
    assert [r.severity for r in records] == ["critical", "high", "medium"]


# --- end to end: the outage sample ---------------------------------------------------------

# The truth of sample_logs/outage-gateway.log (benchmarks/make_outage_sample.py).
SAMPLE_OUTAGE = (datetime(2026, 3, 2, 14, 25, tzinfo=UTC), datetime(2026, 3, 2, 14, 37, tzinfo=UTC))


def test_analyze_finds_the_outage_of_the_sample_log(runner: CliRunner) -> None:
    log = SAMPLE_LOGS / "outage-gateway.log"
    result = runner.invoke(app, ["analyze", str(log), "--format", "json", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    kinds = [i["kind"] for i in data["incidents"]]
    assert kinds.count("gateway_outage") == 1, kinds
    outage = next(i for i in data["incidents"] if i["kind"] == "gateway_outage")
    assert outage["gateway"] == "stripe" and outage["severity"] == "critical"
    assert near(datetime.fromisoformat(outage["start"]), SAMPLE_OUTAGE[0])
    assert near(datetime.fromisoformat(outage["end"]), SAMPLE_OUTAGE[1])
    assert {"orders_in_limbo", "latency_creep"} <= set(kinds)
    assert sum(m["errors"] for m in data["error_timeline"]) >= outage["figures"]["failed_calls"]
