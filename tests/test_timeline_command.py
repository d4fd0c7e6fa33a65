"""`paydiag timeline ID LOG...`: one transaction's events across logs, and where it went wrong.

The outage sample (sample_logs/outage-gateway.*, written by
benchmarks/make_outage_sample.py with its default seed) holds the orders used here:
ORD-71081 timed out during the outage, was paid again with a new PaymentIntent, and its
first payment went through too (its webhook is in the other file); ORD-71087 timed out and
was never settled.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from paydiag.catalog import Catalog
from paydiag.cli import app
from paydiag.timeline_view import occurrences, render_timeline, trace_transaction

from .conftest import SAMPLE_LOGS

APP_LOG = str(SAMPLE_LOGS / "outage-gateway.log")
WEBHOOKS = str(SAMPLE_LOGS / "outage-gateway.webhooks.jsonl")


def test_an_order_in_two_files_is_shown_in_time_order_with_where_it_went_wrong(
    runner: CliRunner,
) -> None:
    result = runner.invoke(app, ["timeline", "ORD-71081", str(SAMPLE_LOGS)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Timeline of ORD-71081: 6 events in 2 files" in text
    assert "outage-gateway.log:" in text and "outage-gateway.webhooks.jsonl:" in text
    assert "Where it went wrong" in text
    verdict = " ".join(text.split())
    assert "It went wrong at 14:27:25 UTC" in verdict
    assert "api_connection_error" in verdict
    assert "It then reached a final state: captured at 14:40:59 UTC" in verdict
    assert "It was charged 2 times" in verdict
    assert "Fixes, in order:" in text and "1. Retry with the same idempotency key" in verdict
    assert "paydiag explain api_connection_error --gateway stripe" in verdict


def test_json_lists_every_event_in_time_order(runner: CliRunner) -> None:
    result = runner.invoke(app, ["timeline", "ORD-71081", APP_LOG, WEBHOOKS, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    times = [datetime.fromisoformat(e["time"]) for e in data["events"]]
    assert times == sorted(times)
    assert {Path(e["source"]).name for e in data["events"]} == {
        "outage-gateway.log",
        "outage-gateway.webhooks.jsonl",
    }
    assert [e["stage"] for e in data["events"]] == [
        "created",
        "failed",
        "created",
        "captured",
        "captured",
        "captured",
    ]
    wrong = data["went_wrong"]
    assert wrong["event"]["rule_id"] == "stripe.api_connection_error"
    assert wrong["event"]["result_unknown"] is True
    assert wrong["fixes"] and wrong["fault"] == "network"
    assert data["final_state"]["stage"] == "captured"
    assert len(data["charges"]) == 2
    assert data["total_events"] == len(data["events"]) == 6


def test_unknown_id_exits_1_with_one_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["timeline", "ORD-99999", str(SAMPLE_LOGS)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().startswith("paydiag: no record mentions 'ORD-99999' in ")


def test_bad_input_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["timeline", "ORD-71081", str(tmp_path / "nope.log")])
    assert missing.exit_code == 2
    assert "nope.log: no such file or directory" in missing.stderr
    short = runner.invoke(app, ["timeline", "ab", APP_LOG])
    assert short.exit_code == 2
    assert "too short" in short.stderr


def test_an_order_never_settled_says_so(catalog: Catalog) -> None:
    timeline = trace_transaction("ORD-71087", [APP_LOG, WEBHOOKS], catalog)
    assert timeline.final is None
    assert "It never reached a final state" in timeline.verdict
    assert "look it up at the gateway before retrying, it may have been charged" in (
        timeline.verdict
    )


def test_an_id_inside_a_longer_id_is_not_a_match(catalog: Catalog) -> None:
    assert trace_transaction("ORD-7108", [APP_LOG], catalog).events == ()
    assert list(occurrences(b"a ORD-10 b ORD-1 c ORD-1x", b"ORD-1")) == [11]
    assert list(occurrences(b"order_id=ORD-1,", b"ORD-1")) == [9]


def test_a_missing_file_among_good_ones_is_listed_and_the_rest_searched(
    catalog: Catalog, tmp_path: Path
) -> None:
    timeline = trace_transaction("ORD-71081", [APP_LOG, str(tmp_path / "gone.log")], catalog)
    assert [e.name for e in timeline.input_errors] == [str(tmp_path / "gone.log")]
    assert len(timeline.events) == 4


def test_compressed_logs_and_stack_traces_are_searched(catalog: Catalog, tmp_path: Path) -> None:
    log = tmp_path / "worker.log.gz"
    log.write_bytes(
        gzip.compress(
            b"2026-03-01 03:07:06.000 ERROR 4821 --- [exec-1] c.e.CaptureService : capture failed "
            b"for order RK7VFYPCU4GRBGFTP: 422 UNPROCESSABLE_ENTITY "
            b'{"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"INSTRUMENT_DECLINED"}],'
            b'"debug_id":"861bff4d03405"}\n'
            b"com.paypal.http.exceptions.HttpException: UNPROCESSABLE_ENTITY\n"
            b"\tat com.paypal.http.HttpClient.execute(HttpClient.java:109)\n"
            b"2026-03-01 03:09:00.000 INFO 4821 --- [exec-2] c.e.OrderService : order "
            b"RK7VFYPCU4GRBGFTP cancelled by the customer\n"
        )
    )
    timeline = trace_transaction("RK7VFYPCU4GRBGFTP", [str(log)], catalog)
    assert [e.line for e in timeline.events] == [1, 4]
    first = timeline.events[0]
    assert first.failed and first.stage == "declined"
    assert first.rule_id is not None and "instrument_declined" in first.rule_id.lower()
    assert timeline.final is not None and timeline.final.stage == "cancelled"
    assert "It then reached a final state: cancelled" in timeline.verdict


def test_everything_printed_is_redacted(catalog: Catalog, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2026-03-01T10:00:00Z ERROR charge failed order_id=ORD-5 card=4242424242424242 "
        "key=sk_live_4eC39HqLyjWDarjtT1zdp7dc: Stripe API error: "
        '{"error":{"code":"card_declined","type":"card_error"}}\n'
    )
    timeline = trace_transaction("ORD-5", [str(log)], catalog)
    for fmt in ("text", "json"):
        printed = render_timeline(timeline, fmt, width=120, color=False)
        assert "ORD-5" in printed
        assert "4242424242424242" not in printed
        assert "4eC39HqLyjWDarjtT1zdp7dc" not in printed
