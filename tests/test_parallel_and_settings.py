"""--jobs gives the same report as one process, caps included; incident settings come from
config."""

from __future__ import annotations

import gc
import json
import random
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from paydiag.analysis import AnalyzeOptions, analyze
from paydiag.catalog import Catalog
from paydiag.cli import app
from paydiag.diagnose import findings
from paydiag.diagnose.findings import Diagnoser, DistinctIds
from paydiag.ingest import split
from paydiag.ingest.records import is_continuation
from paydiag.ingest.sources import Source
from paydiag.parse.event import Event
from paydiag.redact import DEFAULT_REDACTOR

from .conftest import SAMPLE_LOGS, generate_log


@pytest.fixture
def generated_log(tmp_path: Path) -> Path:
    return generate_log(2 << 20, 7, tmp_path / "payments.log")


def _report(inputs: list[str], catalog: Catalog, jobs: int) -> dict[str, object]:
    return analyze(inputs, catalog, AnalyzeOptions(engine="literal"), jobs=jobs).to_dict()


def test_jobs_split_large_files_and_give_the_same_report(
    catalog: Catalog, generated_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(split, "MIN_SPLIT_BYTES", 256 << 10)  # split a 2 MB file too
    units = split.plan_units([Source(str(generated_log))], 2)
    assert len(units) == 2 and units[0].end == units[1].start
    inputs = [str(generated_log), str(SAMPLE_LOGS)]
    one, two = _report(inputs, catalog, 1), _report(inputs, catalog, 2)
    assert one == two
    assert one["findings"] and one["inputs"]
    # Each detector is merged and concluded in a worker: what they conclude is there too.
    assert one["incidents"] and one["error_timeline"]


def test_parallel_partials_are_merged_from_files_that_are_then_removed(
    catalog: Catalog, generated_log: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(split, "MIN_SPLIT_BYTES", 256 << 10)
    spools = tmp_path / "tmp"
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    two = _report([str(generated_log)], catalog, 2)
    assert two == _report([str(generated_log)], catalog, 1)
    assert list(spools.iterdir()) == []


def _plant(lines: list[bytes], at: float, planted: bytes) -> None:
    """`planted` as a line `at` (a share) of the way through, with its neighbour's time."""
    index = int(len(lines) * at)
    lines.insert(index, lines[index][:23] + planted + b"\n")


_NUL_LINE = b" ERROR [checkout] worker \x00\x00 crashed"
_UTF8_LINE = b" ERROR [checkout] caf\xe9 \xff unreadable reply"


# Both orders: a whole-file read reports no invalid UTF-8 after binary data.
@pytest.mark.parametrize("damage", [(_UTF8_LINE, _NUL_LINE), (_NUL_LINE, _UTF8_LINE)])
def test_later_ranges_count_their_lines_from_the_file_start(
    catalog: Catalog,
    generated_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: tuple[bytes, bytes],
) -> None:
    # Ranges are read without counting the lines before them; the parent shifts their line
    # numbers, and each detector's, when it merges. Everything that carries one is planted
    # in the second and third of three ranges.
    lines = generated_log.read_bytes().splitlines(keepends=True)
    sandbox = b" INFO [checkout.stripe] payment_intent.succeeded order_id=ORD-9 key=sk_test_x"
    _plant(lines, 0.45, sandbox)
    _plant(lines, 0.50, damage[0])
    _plant(lines, 0.80, damage[1])
    _plant(lines, 0.90, sandbox)
    generated_log.write_bytes(b"".join(lines))
    monkeypatch.setattr(split, "MIN_SPLIT_BYTES", 256 << 10)
    assert len(split.plan_units([Source(str(generated_log))], 3)) == 3
    one = _report([str(generated_log)], catalog, 1)
    assert _report([str(generated_log)], catalog, 3) == one
    (summary,) = one["inputs"]
    damaged = [number for number, line in enumerate(lines, 1) if line.endswith(damage, 23, -1)]
    expected = damaged if damage[0] == _UTF8_LINE else damaged[:1]
    assert [problem["line"] for problem in summary["problems"]] == expected
    mismatch = next(i for i in one["incidents"] if i["kind"] == "environment_mismatch")
    planted = [number for number, line in enumerate(lines, 1) if b"sk_test_x" in line]
    assert [f"{generated_log}:{n}" for n in planted] == mismatch["figures"]["seen_at"].split(", ")


def test_range_boundaries_fall_on_record_starts(tmp_path: Path) -> None:
    log = tmp_path / "trace.log"
    log.write_bytes(b"2026 ERROR a\n  at frame\n  at frame\n2026 INFO b\n\tat x\n2026 c\n")
    starts = {split.record_boundary(log, offset) for offset in range(len(log.read_bytes()))}
    text = log.read_bytes()
    assert all(start in (0, len(text)) or text[start - 1 : start] == b"\n" for start in starts)
    assert all(start == len(text) or text[start : start + 4] == b"2026" for start in starts)


_LINES = [
    "2026 INFO ok",
    "2026 ERROR boom",
    "  at com.shop.Pay(Pay.java:1)",
    "Caused by: java.io.IOException",
    "com.paypal.http.HttpException: 400",
    "com.paypal.http.HttpError",
    "... 3 more",
    "",
]


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_LINES), min_size=1, max_size=12),
    final_newline=st.booleans(),
    probe=st.integers(1, 9),
)
def test_a_range_starts_at_the_first_record_start_whatever_the_read_size(
    lines: list[str], final_newline: bool, probe: int
) -> None:
    # Reads of a few bytes cut lines anywhere: a cut-off `com.paypal.http.` must not be
    # taken for a record start, nor a whole one missed.
    text = ("\n".join(lines) + ("\n" if final_newline else "")).encode()
    starts = [0] + [
        i for i in range(1, len(text)) if text[i - 1] == 10 and not is_continuation(text, i)
    ]
    with tempfile.TemporaryDirectory() as folder, mock.patch.object(split, "_PROBE", probe):
        log = Path(folder) / "app.log"
        log.write_bytes(text)
        for offset in range(len(text) + 1):
            expected = next((start for start in starts if start >= offset), len(text))
            assert split.record_boundary(log, offset) == expected


def test_no_incidents_leaves_incidents_and_timeline_out(runner: CliRunner) -> None:
    log = str(SAMPLE_LOGS / "outage-gateway.log")
    with_incidents = json.loads(runner.invoke(app, ["analyze", log, "-f", "json"]).output)
    without = json.loads(
        runner.invoke(app, ["analyze", log, "-f", "json", "--no-incidents"]).output
    )
    assert with_incidents["incidents"] and with_incidents["error_timeline"]
    assert without["incidents"] == [] and without["error_timeline"] == []
    assert without["findings"] == with_incidents["findings"]


def test_incident_thresholds_come_from_the_config_file(runner: CliRunner, tmp_path: Path) -> None:
    log = str(SAMPLE_LOGS / "outage-gateway.log")
    config = tmp_path / "paydiag.toml"
    config.write_text("[incidents.outage]\nenabled = false\n")
    report = json.loads(
        runner.invoke(app, ["analyze", log, "-f", "json", "--config", str(config)]).output
    )
    assert "gateway_outage" not in {incident["kind"] for incident in report["incidents"]}
    config.write_text("[incidents.outage]\nno_such_setting = 3\n")
    result = runner.invoke(app, ["analyze", log, "--config", str(config)])
    assert result.exit_code == 2
    assert "no_such_setting" in result.output
    assert "Traceback" not in result.output


def test_distinct_transactions_are_exact_then_estimated() -> None:
    ids = DistinctIds()
    for number in range(5_000):
        ids.add(f"ORD-{number % 3_000}")
    assert ids.exact and len(ids) == 3_000
    ids.to_sketch()
    assert not ids.exact and abs(len(ids) - 3_000) < 3_000 * 0.05


@pytest.mark.parametrize("cut", [0, 700, 1_500, 1_899])
def test_transaction_counts_past_the_exact_cap_are_the_same_however_the_input_is_split(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, cut: int
) -> None:
    monkeypatch.setattr(findings, "EXACT_IDS", 400)
    monkeypatch.setattr(findings, "MAX_EXACT_IDS", 1_000)
    rules = catalog.rules[:4]
    sizes = dict(zip((r.id for r in rules), (100, 300, 600, 900), strict=True))
    hits = [(rule, f"{rule.id}-{n}") for rule in rules for n in range(sizes[rule.id])]
    random.Random(5).shuffle(hits)
    whole, first, second = (Diagnoser(DEFAULT_REDACTOR) for _ in range(3))
    for index, (rule, transaction) in enumerate(hits):
        event = Event("app.log", index + 1, "error", transaction_ids=(transaction,))
        whole.add_hit(event, rule)
        (first if index < cut else second).add_hit(event, rule)
    first.merge(second)
    counts = {f.rule_id: f.transaction_count for f in whole.findings()}
    assert counts == {f.rule_id: f.transaction_count for f in first.findings()}
    # 1,000 exact hashes do not hold 100 + 300 + 400 + 400: past 200 a count is estimated.
    small, *estimated = (counts[r.id] for r in rules)
    assert small == 100
    assert all(
        abs(count - size) < size * 0.05
        for count, size in zip(estimated, (300, 600, 900), strict=True)
    )


def test_analyze_leaves_the_cyclic_collector_as_it_found_it(catalog: Catalog) -> None:
    before = gc.get_threshold()
    analyze([str(SAMPLE_LOGS)], catalog)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
