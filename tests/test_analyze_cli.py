"""`paydiag analyze` end to end: every log shape, the filters, damaged input, redaction.

Expectations are derived from the sample logs themselves (the lines that carry each error),
so a test states what a merchant would count by hand. The whole report is also pinned by
golden files, tests/golden/analyze-sample.txt and tests/golden/analyze-sample.json, made by
running `paydiag analyze sample_logs/ --engine literal` from the repository root. After an
intended change to the report, regenerate them and review the diff:

    PAYDIAG_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_analyze_cli.py
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner, Result

from paydiag import cli
from paydiag.catalog import Catalog, load_catalog
from paydiag.catalog.loader import LoadResult
from paydiag.parse.activity import ActivityScanner
from paydiag.parse.event import parse_record

from .conftest import ROOT, SAMPLE_LOGS

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("PAYDIAG_UPDATE_GOLDEN") == "1"
SCHEMA = ROOT / "paydiag" / "schemas" / "report.schema.json"
Report = dict[str, Any]

STRIPE_DECLINE = (
    '{"ts":"2026-03-01T03:00:0%d.000Z","level":"error","order_id":"ORD-%d","stripe_response":'
    '{"error":{"code":"card_declined","decline_code":"insufficient_funds","type":"card_error"}}}'
)


def stripe_decline(n: int) -> str:
    return STRIPE_DECLINE % (n, n)


@pytest.fixture(autouse=True)
def _builtin_catalog_loaded_once(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> None:
    real = load_catalog

    def load(extra: Sequence[Path] = (), *, builtin: bool = True) -> LoadResult:
        return LoadResult(catalog, ()) if builtin and not extra else real(extra, builtin=builtin)

    monkeypatch.setattr(cli, "load_catalog", load)


@cache
def schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def invoke(runner: CliRunner, *args: str, stdin: bytes | str | None = None) -> Result:
    """`paydiag analyze ARGS` with the literal engine (no Hyperscan compile per test)."""
    return runner.invoke(cli.app, ["analyze", *args, "--engine", "literal"], input=stdin)


def analyze_json(runner: CliRunner, *args: str, exit_code: int | None = None) -> Report:
    """The JSON report of `paydiag analyze ARGS`, checked against the shipped schema."""
    result = invoke(runner, *args, "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if exit_code is not None:
        assert result.exit_code == exit_code, result.output
    report: Report = json.loads(result.stdout)
    errors = [f"{list(e.path)}: {e.message}" for e in schema_validator().iter_errors(report)]
    assert errors == []
    return report


def finding(report: Report, rule_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [f for f in report["findings"] if f["rule_id"] == rule_id]
    assert found, f"no {rule_id} in {[f['rule_id'] for f in report['findings']]}"
    return found[0]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- what a merchant would count by hand ------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """The lines of one error in a sample log: where, when, and for which transactions."""

    lines: tuple[int, ...]
    times: tuple[datetime, ...]
    transactions: tuple[str, ...]
    requests: tuple[str, ...] = ()

    @property
    def distinct_transactions(self) -> list[str]:
        return list(dict.fromkeys(self.transactions))


def sample_lines(name: str) -> Iterator[tuple[int, str]]:
    data = (SAMPLE_LOGS / name).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return enumerate(data.decode().splitlines(), 1)


def group1(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return match[1]


def text_time(line: str) -> datetime:
    match = re.search(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)[.,](\d{3})", line)
    assert match, line
    return datetime.fromisoformat(f"{match[1]}T{match[2]}.{match[3]}+00:00")


def expect_text(name: str, marker: str, transaction: str, request: str | None = None) -> Expected:
    """Lines containing `marker`; IDs are group 1 of the `transaction`/`request` regexes."""
    hits = [(n, line) for n, line in sample_lines(name) if marker in line]
    return Expected(
        lines=tuple(n for n, _ in hits),
        times=tuple(text_time(line) for _, line in hits),
        transactions=tuple(group1(transaction, line) for _, line in hits),
        requests=tuple(group1(request, line) for _, line in hits) if request else (),
    )


def expect_json(
    name: str,
    keep: Callable[[dict[str, Any]], bool],
    transaction: str,
    time_of: Callable[[dict[str, Any]], datetime],
) -> Expected:
    hits = [(n, json.loads(line)) for n, line in sample_lines(name)]
    kept = [(n, record) for n, record in hits if keep(record)]
    return Expected(
        lines=tuple(n for n, _ in kept),
        times=tuple(time_of(record) for _, record in kept),
        transactions=tuple(str(record[transaction]) for _, record in kept),
    )


def assert_finding(report: Report, rule_id: str, expected: Expected) -> dict[str, Any]:
    found = finding(report, rule_id)
    transactions = expected.distinct_transactions
    assert found["count"] == len(expected.lines)
    assert found["transaction_count"] == len(transactions)
    assert found["transactions"] == transactions[:20]
    assert [loc["line"] for loc in found["locations"]] == list(expected.lines[:20])
    assert when(found["first_seen"]) == min(expected.times)
    assert when(found["last_seen"]) == max(expected.times)
    assert len(found["examples"]) == min(3, len(expected.lines))
    if expected.requests:
        assert found["request_ids"] == list(dict.fromkeys(expected.requests))[:20]
    return found


def stripe_error(code: str) -> Callable[[dict[str, Any]], bool]:
    def keep(record: dict[str, Any]) -> bool:
        error = record.get("stripe_response", {}).get("error", {})
        return code in (error.get("code"), error.get("decline_code"))

    return keep


def braintree_response(code: str) -> Callable[[dict[str, Any]], bool]:
    return lambda record: record.get("transaction", {}).get("processorResponseCode") == code


def iso_field(key: str) -> Callable[[dict[str, Any]], datetime]:
    return lambda record: when(record[key])


def epoch_ms(record: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(record["time"] / 1000, UTC)


# --- each shape of sample log ------------------------------------------------------------------


def test_json_lines_stripe_declines_and_rate_limits(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "checkout-api.jsonl"), exit_code=1)
    counts = {f["rule_id"]: f["count"] for f in report["findings"]}
    assert counts == {
        "stripe.insufficient_funds": 50,
        "stripe.expired_card": 13,
        "stripe.rate_limit": 7,
    }
    for rule_id, code in [
        ("stripe.insufficient_funds", "insufficient_funds"),
        ("stripe.expired_card", "expired_card"),
        ("stripe.rate_limit", "rate_limit"),
    ]:
        expected = expect_json(
            "checkout-api.jsonl", stripe_error(code), "order_id", iso_field("timestamp")
        )
        found = assert_finding(report, rule_id, expected)
        assert all(r.startswith("req_") for r in found["request_ids"])
        assert found["gateway"] == "stripe"
    assert report["findings"][0]["rule_id"] == "stripe.rate_limit"  # high ranks above low
    assert report["inputs"][0]["format"] == "json"
    assert report["summary"]["matched_events"] == 70
    assert report["summary"]["lines_read"] == 260


def test_python_logging_amazon_pay_signature_failure_is_critical(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "payments-service.log"), exit_code=1)
    expected = expect_text(
        "payments-service.log", '"reasonCode":"InvalidRequestSignature"', r"order_id=(\S+)"
    )
    found = assert_finding(report, "amazon_pay.invalid_request_signature", expected)
    assert (found["severity"], found["gateway"], found["code"]) == (
        "critical",
        "amazon_pay",
        "InvalidRequestSignature",
    )
    assert found["environments"] == ["production"]  # pay-api.amazon.eu/live/
    assert report["findings"][0]["rule_id"] == "amazon_pay.invalid_request_signature"
    assert report["summary"]["worst_rule_id"] == "amazon_pay.invalid_request_signature"
    assert report["summary"]["headline"].startswith(
        f"critical: {len(expected.lines)}× Amazon Pay InvalidRequestSignature"
    )
    # The traceback ending in stripe.error.InvalidRequestError is one event at its first line.
    refund = finding(report, "stripe.invalid_request_error")
    assert refund["count"] == 1
    assert refund["transactions"] == ["ch_3RtExmm0gRmN5OTGXrk4zFXB"]
    assert refund["request_ids"] == ["req_07pY4SIpt4tYn5"]
    [start] = [n for n, line in sample_lines("payments-service.log") if "refund failed" in line]
    assert refund["locations"] == [
        {"path": str(SAMPLE_LOGS / "payments-service.log"), "line": start}
    ]
    assert refund["examples"][0].splitlines()[-1].startswith("stripe.error.InvalidRequestError")


def test_logback_paypal_instrument_declined_with_debug_ids(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "paypal-worker.log"), exit_code=0)
    expected = expect_text(
        "paypal-worker.log",
        '"issue":"INSTRUMENT_DECLINED"',
        r"for order (\w+)",
        r'"debug_id":"(\w+)"',
    )
    found = assert_finding(report, "paypal.instrument_declined", expected)
    assert found["severity"] == "low"
    # The stack trace under each line is part of its record, not a finding of its own.
    assert "\tat com.paypal.http.HttpClient.execute" in found["examples"][0]
    assert report["summary"]["matched_events"] == len(expected.lines)


def test_nginx_502_and_504_on_checkout_are_unrecognised_errors(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "nginx-access.log"), exit_code=0)
    assert report["findings"] == []
    failing: dict[str, list[int]] = {}
    for n, line in sample_lines("nginx-access.log"):
        match = re.search(r'"[A-Z]+ (\S+) HTTP/1\.1" (\d{3}) ', line)
        assert match, line
        if match[2] != "200":
            failing.setdefault(f"HTTP {match[2]} {match[1]}", []).append(n)
    groups = {u["template"]: u for u in report["unrecognised"]}
    assert set(groups) == set(failing)
    for template, lines in failing.items():
        assert groups[template]["count"] == len(lines)
        assert [loc["line"] for loc in groups[template]["locations"]] == lines[:20]
    assert {"HTTP 502 /checkout/pay", "HTTP 504 /checkout/confirm"} <= set(groups)
    assert groups["HTTP 400 /webhooks/stripe"]["gateway_hint"] == "stripe"
    assert report["summary"]["headline"] == (
        f"No known payment error; {sum(map(len, failing.values()))} unrecognised error lines."
    )


def test_gzipped_mws_log_under_a_rotated_name(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "amazon-mws.log.1.gz"), exit_code=1)
    assert report["inputs"][0]["compression"] == "gzip"
    timed_out = expect_text(
        "amazon-mws.log.1.gz",
        "<ReasonCode>TransactionTimedOut</ReasonCode>",
        r"AmazonOrderReferenceId=(S01-[\d-]+)",
    )
    invalid = expect_text(
        "amazon-mws.log.1.gz",
        "<Code>InvalidParameterValue</Code>",
        r"AmazonOrderReferenceId=(S01-[\d-]+)",
        r"<RequestId>([\w-]+)</RequestId>",
    )
    assert_finding(report, "amazon_pay.mws_transaction_timed_out", timed_out)
    found = assert_finding(report, "amazon_pay.mws_invalid_parameter_value", invalid)
    assert found["severity"] == "high"
    assert (len(timed_out.lines), len(invalid.lines)) == (9, 5)


def test_logfmt_adyen_refusals_count_the_merchant_reference(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "adyen-bridge.logfmt"), exit_code=0)
    for rule_id, reason in [
        ("adyen.not_enough_balance", 'refusalReason="Not enough balance"'),
        ("adyen.cvc_declined", 'refusalReason="CVC Declined"'),
    ]:
        expected = expect_text("adyen-bridge.logfmt", reason, r"merchantReference=(\S+)")
        found = assert_finding(report, rule_id, expected)
        assert all(t.startswith("ORD-") for t in found["transactions"])  # not the pspReference
    assert report["inputs"][0]["format"] == "logfmt"


def test_pino_json_with_numeric_levels_and_epoch_millis(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "checkout-node.log"), exit_code=0)
    for rule_id, code in [("braintree.2001", "2001"), ("braintree.2004", "2004")]:
        expected = expect_json(
            "checkout-node.log",
            braintree_response(code),
            "orderId",
            epoch_ms,
        )
        assert_finding(report, rule_id, expected)
    rejected = expect_json(
        "checkout-node.log",
        lambda r: r.get("transaction", {}).get("gatewayRejectionReason") == "cvv",
        "orderId",
        epoch_ms,
    )
    assert_finding(report, "braintree.gateway_rejection.cvv", rejected)
    # A level-50 line no rule knows is an unrecognised error; its message is its shape.
    [unknown] = report["unrecognised"]
    assert (
        '"msg":"order validation failed: cart total does not match order total"'
        in (unknown["template"])
    )
    assert '"level":<n>' in unknown["template"] and '"orderId":"<*>"' in unknown["template"]


def test_alb_access_log_gateway_errors_with_their_paths(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "alb-access.log"), exit_code=0)
    assert report["inputs"][0]["format"] == "alb"
    failing: dict[str, list[int]] = {}
    for n, line in sample_lines("alb-access.log"):
        fields = line.split(" ")
        elb, target = fields[8], fields[9]
        status = target if target.isdigit() and elb.startswith("2") else elb
        path = group1(r'"[A-Z]+ https://[^/]+(/\S*) HTTP', line)
        if status != "200":
            failing.setdefault(f"HTTP {status} {path}", []).append(n)
    groups = {u["template"]: u["count"] for u in report["unrecognised"]}
    assert groups == {template: len(lines) for template, lines in failing.items()}
    assert groups["HTTP 504 /api/v2/payments/authorize"] == 2


def test_apache_times_with_an_offset_are_reported_in_utc(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS / "apache-access.log"), exit_code=0)
    groups = {u["template"]: u for u in report["unrecognised"]}
    assert set(groups) == {
        "HTTP 500 /checkout/order-pay/<n>/",
        "HTTP 503 /wc-api/wc_gateway_paypal/",
    }
    errors = [(n, line) for n, line in sample_lines("apache-access.log") if '" 500 ' in line]
    first_local = group1(r"\[(\S+) \+0100\]", errors[0][1])
    first_utc = datetime.strptime(first_local, "%d/%b/%Y:%H:%M:%S").replace(tzinfo=UTC) - timedelta(
        hours=1
    )
    assert when(groups["HTTP 500 /checkout/order-pay/<n>/"]["first_seen"]) == first_utc
    assert groups["HTTP 500 /checkout/order-pay/<n>/"]["count"] == len(errors)
    assert not any("wp-login" in t for t in groups)  # a 404 says nothing about payments


# One line per gateway answer as applications log it: (line, rule, transactions, requests).
GATEWAY_BODIES: list[tuple[str, str, list[str], list[str]]] = [
    (
        "2026-03-01 05:00:01,000 ERROR [amazonpay.client] POST https://pay-api.amazon.com/live/v2/"
        'chargePermissions/B01-1234567-1234567/charges failed status=400 body={"reasonCode":'
        '"TransactionAmountExceeded","message":"The amount exceeds the maximum allowed"}',
        "amazon_pay.transaction_amount_exceeded",
        ["B01-1234567-1234567"],
        [],
    ),
    (
        "2026-03-01T05:00:02Z ERROR OffAmazonPayments Authorize AmazonOrderReferenceId="
        "S01-1111111-2222222 <ErrorResponse><Error><Type>Sender</Type><Code>"
        "OrderReferenceNotModifiable</Code><Message>OrderReference S01-1111111-2222222 is not in "
        "draft state.</Message></Error><RequestId>a1b2c3d4-2a44-4c1e-9d3b-c8a7ff6be902</RequestId>"
        "</ErrorResponse>",
        "amazon_pay.mws_order_reference_not_modifiable",
        ["S01-1111111-2222222"],
        ["a1b2c3d4-2a44-4c1e-9d3b-c8a7ff6be902"],
    ),
    (
        '2026-03-01T05:00:03Z ERROR stripe request failed order_id=ORD-5003 {"error":{"type":'
        '"invalid_request_error","code":"parameter_missing","param":"amount","message":"Missing '
        'required param: amount."}} Request-Id: req_Zx9Yw8Vu7Ts6Rq',
        "stripe.parameter_missing",
        ["ORD-5003"],
        ["req_Zx9Yw8Vu7Ts6Rq"],
    ),
    (
        "2026-03-01 05:00:04.000 ERROR 4821 --- [exec-4] c.e.shop.paypal.OrdersService : create "
        'failed for order 9XY12345AB678901C: 422 {"name":"UNPROCESSABLE_ENTITY","details":'
        '[{"field":"/purchase_units/@reference_id==\'default\'/amount/currency_code","issue":'
        '"CURRENCY_NOT_SUPPORTED"}],"debug_id":"b2c3d4e5f6a7b"}',
        "paypal.currency_not_supported",
        ["9XY12345AB678901C"],
        ["b2c3d4e5f6a7b"],
    ),
    (
        '2026-03-01T05:00:05Z WARN adyen-bridge payment refused {"pspReference":"PSPREF0000000005",'
        '"resultCode":"Refused","refusalReason":"Expired Card","merchantReference":"ORD-5005"}',
        "adyen.expired_card",
        ["ORD-5005"],  # the merchant's reference, not the PSP's, is the transaction
        [],
    ),
    (
        '2026-03-01T05:00:06Z ERROR adyen call failed {"status":403,"errorCode":"901","message":'
        '"Invalid Merchant Account","errorType":"security","pspReference":"PSPREF0000000006"}',
        "adyen.901",
        ["PSPREF0000000006"],
        [],
    ),
    (
        "E, [2026-03-01T05:00:07.118 #4121] ERROR -- : sale failed order_id=ORD-5007 "
        '#<Braintree::Transaction id: "q7w8e9r1", status: "processor_declined", '
        'processor_response_code: "2000", processor_response_text: "Do Not Honor">',
        "braintree.2000",
        ["ORD-5007"],
        [],
    ),
    (
        "2026-03-01T05:00:08Z WARN acquirer-link ISO8583 0110 response order_id=ORD-5008 DE39=51",
        "iso8583.51",
        ["ORD-5008"],
        [],
    ),
    (
        "2026-03-01T05:00:09Z ERROR token refresh failed: HTTP/1.1 401 Unauthorized "
        'WWW-Authenticate: Bearer error="invalid_token", error_description="The token expired"',
        "oauth2.invalid_token",
        [],
        [],
    ),
    (
        "2026-03-01T05:00:10Z ERROR outbound payment gateway call failed: HTTP/1.1 503 Service "
        "Unavailable order_id=ORD-5010",
        "http.503",
        ["ORD-5010"],
        [],
    ),
    (
        "2026-03-01T05:00:11Z ERROR AuthorizeNet createTransaction failed order_id=ORD-5011 "
        "<messages><resultCode>Error</resultCode><message><code>E00007</code><text>User "
        "authentication failed due to invalid authentication values.</text></message></messages>",
        "authorize_net.e00007",
        ["ORD-5011"],
        [],
    ),
]


def test_gateway_bodies_inside_lines_are_recognised(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "gateways.log"
    log.write_text("\n".join(line for line, *_ in GATEWAY_BODIES) + "\n")
    report = analyze_json(runner, str(log), "--fail-on", "never", exit_code=0)
    by_line = {f["locations"][0]["line"]: f for f in report["findings"]}
    for n, (_, rule_id, transactions, requests) in enumerate(GATEWAY_BODIES, 1):
        found = by_line.get(n)
        assert found is not None, f"line {n}: nothing recognised, expected {rule_id}"
        assert found["rule_id"] == rule_id, f"line {n}"
        assert (found["transactions"], found["request_ids"]) == (transactions, requests), rule_id
        assert found["count"] == 1
    assert report["unrecognised"] == []


def test_absurd_durations_are_not_read_and_break_nothing(runner: CliRunner, tmp_path: Path) -> None:
    """A duration of 400 digits (infinity as a float), NaN, negative or of years is a
    misread number: it once crashed the latency histogram with a traceback."""
    log = tmp_path / "durations.log"
    lines = [
        f"2026-03-01 00:00:{n:02d} INFO [checkout.stripe] payment_intent.succeeded "
        f"order_id=ORD-{n} duration_ms={value}"
        for n, value in enumerate(["9" * 400, "10", "2000000000", "11"])
    ]
    lines += [
        '{"ts": "2026-03-01T00:01:00Z", "level": "error", "event": "stripe.confirm_failed", '
        '"stripe_response": {"error": {"code": "expired_card", "type": "card_error"}}, '
        f'"duration_ms": "{value}", "order_id": "ORD-9{n}"}}'
        for n, value in enumerate(["nan", "-inf", "-5", "1e999"])
    ]
    log.write_text("\n".join(lines) + "\n")
    report = analyze_json(runner, str(log), "--fail-on", "never", exit_code=0)
    assert report["findings"]
    activity = ActivityScanner(native=False).scan(log.read_bytes())
    assert [line[4] for line in activity][:4] == [None, 10.0, None, 11.0]
    events = [parse_record(line, "x", 1) for line in lines[4:]]
    assert [event.duration_ms for event in events] == [None, None, None, None]


@pytest.mark.parametrize(
    ("name", "fail_on", "exit_code"),
    [
        ("payments-service.log", None, 1),  # critical ≥ high (the default)
        ("payments-service.log", "never", 0),
        ("checkout-api.jsonl", "critical", 0),  # its worst is high
        ("checkout-api.jsonl", "high", 1),
        ("adyen-bridge.logfmt", None, 0),  # declines are low
        ("adyen-bridge.logfmt", "low", 1),
        ("nginx-access.log", "info", 0),  # unrecognised errors never fail the run
    ],
)
def test_exit_code_follows_fail_on(
    runner: CliRunner, name: str, fail_on: str | None, exit_code: int
) -> None:
    args = [str(SAMPLE_LOGS / name)] + (["--fail-on", fail_on] if fail_on else [])
    result = invoke(runner, *args)
    assert result.exit_code == exit_code, result.output


def test_a_report_written_with_output_is_the_same_json(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    log = str(SAMPLE_LOGS / "adyen-bridge.logfmt")
    result = invoke(runner, log, "--format", "json", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text()) == analyze_json(runner, log)


# --- filters ------------------------------------------------------------------------------------


def test_gateway_filter_keeps_one_gateways_findings(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS), "--gateway", "stripe", exit_code=1)
    assert {f["gateway"] for f in report["findings"]} == {"stripe"}
    assert {f["rule_id"] for f in report["findings"]} >= {
        "stripe.insufficient_funds",
        "stripe.expired_card",
        "stripe.rate_limit",
    }
    assert report["filters"] == {"gateway": "stripe"}
    paypal = analyze_json(runner, str(SAMPLE_LOGS / "paypal-worker.log"), "--gateway", "adyen")
    assert paypal["findings"] == []


def test_since_and_until_keep_a_window_of_absolute_times(runner: CliRunner) -> None:
    since, until = "2026-03-01T04:00:00Z", "2026-03-01T04:30Z"
    log = str(SAMPLE_LOGS / "checkout-api.jsonl")
    report = analyze_json(runner, log, "--since", since, "--until", until)
    expected = expect_json(
        "checkout-api.jsonl", stripe_error("insufficient_funds"), "order_id", iso_field("timestamp")
    )
    inside = [t for t in expected.times if when(since) <= t <= when(until)]
    found = finding(report, "stripe.insufficient_funds")
    assert found["count"] == len(inside) < len(expected.times)
    assert when(found["first_seen"]) == min(inside)
    assert when(found["last_seen"]) == max(inside)
    assert report["filters"] == {
        "since": "2026-03-01T04:00:00+00:00",
        "until": "2026-03-01T04:30:00+00:00",
    }


def test_since_and_until_take_spans_back_from_now(runner: CliRunner, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    log = tmp_path / "recent.jsonl"
    lines = [
        stripe_decline(1).replace(
            "2026-03-01T03:00:01.000Z", (now - timedelta(hours=5)).isoformat()
        ),
        stripe_decline(2).replace(
            "2026-03-01T03:00:02.000Z", (now - timedelta(minutes=30)).isoformat()
        ),
    ]
    log.write_text("\n".join(lines) + "\n")
    recent = finding(analyze_json(runner, str(log), "--since", "2h"), "stripe.insufficient_funds")
    assert recent["transactions"] == ["ORD-2"]
    older = finding(analyze_json(runner, str(log), "--until", "1h"), "stripe.insufficient_funds")
    assert older["transactions"] == ["ORD-1"]
    none = analyze_json(runner, str(log), "--since", "3h", "--until", "2h")
    assert none["findings"] == []


def test_an_unreadable_time_option_is_a_usage_error(runner: CliRunner) -> None:
    result = invoke(runner, str(SAMPLE_LOGS / "adyen-bridge.logfmt"), "--since", "last tuesday-ish")
    assert result.exit_code == 2
    assert "--since: cannot read 'last tuesday-ish' as a time" in result.output
    assert "Traceback" not in result.output


def test_a_broken_rules_file_exits_3_with_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    rules = tmp_path / "mine.yaml"
    rules.write_text("gateway: acme\nname: Acme\nrules:\n  - id: acme.broken\n    code: X\n")
    result = invoke(runner, str(SAMPLE_LOGS / "adyen-bridge.logfmt"), "--rules", str(rules))
    assert result.exit_code == 3, result.output
    assert f"{rules}:" in result.stderr
    assert "the rule catalog has" in result.stderr
    assert result.stdout == ""


def test_min_severity_leaves_out_lower_findings(runner: CliRunner) -> None:
    report = analyze_json(runner, str(SAMPLE_LOGS), "--min-severity", "high")
    assert {f["severity"] for f in report["findings"]} == {"critical", "high"}
    assert report["filters"] == {"min_severity": "high"}
    assert report["summary"]["findings_by_severity"].keys() == {"critical", "high"}


# --- damaged input ------------------------------------------------------------------------------


def damaged_case(tmp_path: Path, name: str, middle: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(
        (stripe_decline(1) + "\n").encode() + middle + (stripe_decline(2) + "\n").encode()
    )
    return path


def only_problem(report: Report) -> dict[str, Any]:
    [summary] = report["inputs"]
    assert summary["error"] is None
    [problem] = summary["problems"]
    assert isinstance(problem, dict)
    return problem


def test_a_binary_file_is_one_problem_and_its_text_is_still_read(
    runner: CliRunner, tmp_path: Path
) -> None:
    junk = random.Random(4).randbytes(3000).replace(b"\n", b"") + b"\x00\x01\x02\xff\n"
    path = damaged_case(tmp_path, "core.bin", junk)
    report = analyze_json(runner, str(path), exit_code=0)
    assert only_problem(report) == {
        "line": 2,
        "message": "binary data (NUL bytes); they are ignored",
    }
    assert finding(report, "stripe.insufficient_funds")["transactions"] == ["ORD-1", "ORD-2"]


def test_nul_padding_from_copytruncate_is_one_problem(runner: CliRunner, tmp_path: Path) -> None:
    path = damaged_case(tmp_path, "app.log", b"\x00" * 4096 + b"INFO restarted\n")
    report = analyze_json(runner, str(path), exit_code=0)
    assert only_problem(report)["line"] == 2
    assert finding(report, "stripe.insufficient_funds")["count"] == 2


def test_invalid_utf8_is_one_problem_at_its_line(runner: CliRunner, tmp_path: Path) -> None:
    latin1 = "INFO Zahlung für Bestellung bestätigt\n".encode("latin-1")
    path = damaged_case(tmp_path, "app.log", latin1 * 3)
    report = analyze_json(runner, str(path), exit_code=0)
    assert only_problem(report) == {
        "line": 2,
        "message": "invalid UTF-8; undecodable bytes shown as \ufffd",
    }
    assert finding(report, "stripe.insufficient_funds")["count"] == 2
    assert report["inputs"][0]["lines"] == 5


def test_a_10_mb_line_is_cut_reported_once_and_the_rest_analysed(
    runner: CliRunner, tmp_path: Path
) -> None:
    huge = b'{"level":"info","msg":"cart snapshot","cart":"' + b"QUJD" * 2_500_000 + b'"}\n'
    path = damaged_case(tmp_path, "app.log", huge + huge)
    report = analyze_json(runner, str(path), exit_code=0)
    assert only_problem(report) == {
        "line": 2,
        "message": "line longer than 8 MiB; analysed its first part",
    }
    assert report["inputs"][0]["lines"] == 4
    found = finding(report, "stripe.insufficient_funds")
    assert found["transactions"] == ["ORD-1", "ORD-2"]
    assert [loc["line"] for loc in found["locations"]] == [1, 4]


def test_a_truncated_gzip_keeps_what_came_before_the_damage(
    runner: CliRunner, tmp_path: Path
) -> None:
    lines = [stripe_decline(n % 10).replace("ORD-", f"ORD-{n}-") for n in range(3000)]
    packed = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "app.log.2.gz"
    path.write_bytes(packed[: len(packed) // 2])
    report = analyze_json(runner, str(path), exit_code=0)
    problem = only_problem(report)
    read = report["inputs"][0]["lines"]
    assert problem["line"] == read  # the last line read is the one the damage cut
    assert problem["message"].startswith("compressed stream is truncated")
    found = finding(report, "stripe.insufficient_funds")
    assert read - 1 <= found["count"] <= read
    assert found["count"] > 100
    assert found["transactions"][:2] == ["ORD-0-0", "ORD-1-1"]


def test_a_missing_file_exits_2_and_the_others_are_still_analysed(
    runner: CliRunner, tmp_path: Path
) -> None:
    good = damaged_case(tmp_path, "good.log", b"")
    missing = tmp_path / "gone.log"
    result = invoke(runner, str(missing), str(good), "--format", "json")
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert [(i["path"], i["error"]) for i in report["inputs"]] == [
        (str(missing), "no such file or directory"),
        (str(good), None),
    ]
    assert finding(report, "stripe.insufficient_funds")["count"] == 2
    text = invoke(runner, str(missing), str(good))
    assert text.exit_code == 2
    shown = without_layout(text.stdout)  # the input problems table may fold a long path
    assert without_layout(f"{missing}nosuchfileordirectory") in shown


def test_every_damage_at_once_never_shows_a_traceback(runner: CliRunner, tmp_path: Path) -> None:
    damaged = damaged_case(
        tmp_path,
        "all.log",
        b"\x00\xff\xfe\r\n" + b"z" * (9 << 20) + b"\n\tat orphan.Frame(F.java:1)\r\n",
    )
    truncated = tmp_path / "t.gz"
    truncated.write_bytes(gzip.compress(damaged.read_bytes())[:5000])
    text = invoke(runner, str(damaged), str(truncated))
    assert text.exit_code == 0, text.output
    assert not isinstance(text.exception, Exception)
    assert "Traceback" not in text.output and "Input problems" in text.stdout
    report = analyze_json(runner, str(damaged), str(truncated), exit_code=0)
    for summary in report["inputs"]:
        messages = [p["message"] for p in summary["problems"]]
        assert len(messages) == len(set(messages)) >= 1


# --- redaction ---------------------------------------------------------------------------------


def secrets() -> dict[str, str]:
    """Planted secrets, built at run time so no scanner mistakes this file for a leak."""
    live = "sk_" + "live_" + "51HqLyjWDarjtT1zdp7dc4eC39"
    restricted = "rk_" + "live_" + "51Hq9ZxYwVuTsRqPoNmLkJiHg"
    jwt = "eyJhbGciOiJSUzI1NiJ9" + ".eyJzdWIiOiJtZXJjaGFudCJ9" + ".c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    aws = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzEXAMPLEKEY"
    return {
        "visa": "4242424242424242",
        "visa spaced": "4242 4242 4242 4242",
        "mastercard dashed": "5555-5555-5555-4444",
        "amex": "378282246310005",
        "visa in url": "4111111111111111",
        "stripe secret key": live,
        "stripe restricted key": restricted,
        "bearer token": jwt,
        "email": "jane.doe@example.com",
        "aws secret key": aws,
    }


def planted_log() -> str:
    s = secrets()
    return "\n".join(
        [
            '{"ts":"2026-03-01T03:00:01Z","level":"error","order_id":"ORD-9001","customer_email":'
            f'"{s["email"]}","card_number":"{s["visa"]}","cvc":"314","stripe_response":{{"error":'
            '{"code":"card_declined","decline_code":"insufficient_funds","type":"card_error",'
            '"request_log_url":"https://dashboard.stripe.com/logs/req_Q8kLm2Np4Rs6Tv"}}}',
            f"2026-03-01T03:00:02Z ERROR stripe call failed api_key={s['stripe secret key']} "
            "stripe.error.AuthenticationError: Invalid API Key provided: "
            f"{s['stripe secret key']} order_id=ORD-9002",
            "2026-03-01T03:00:03Z ERROR PayPal capture failed for order 8AB12345CD678901E "
            f"Authorization: Bearer {s['bearer token']} HTTP/1.1 401 WWW-Authenticate: Bearer "
            'error="invalid_token", error_description="The access token expired"',
            f"2026-03-01T03:00:04Z ERROR checkout crashed card={s['visa spaced']} cvv=987 "
            f"exp=12/29 email={s['email']} restricted={s['stripe restricted key']}",
            f"2026-03-01T03:00:05Z ERROR refund job failed pan {s['mastercard dashed']} "
            f"amex {s['amex']} aws_secret_access_key={s['aws secret key']}",
            "2026-03-01T03:00:06Z ERROR gateway redirect failed https://pay.example.com/return"
            f"?pan={s['visa in url']}&cvv2=123&token={s['bearer token']}",
        ]
    )


def without_layout(text: str) -> str:
    """The text with wrapping and table borders removed, so a split secret joins again."""
    return re.sub(r"[\s\u2500-\u257f…]", "", text)


def test_planted_secrets_never_reach_the_terminal_or_the_json(
    runner: CliRunner, tmp_path: Path
) -> None:
    log = tmp_path / "leaky.log"
    log.write_text(planted_log() + "\n")
    outputs = {fmt: invoke(runner, str(log), "--format", fmt) for fmt in ("text", "json")}
    report = json.loads(outputs["json"].stdout)
    assert finding(report, "stripe.insufficient_funds")["transactions"] == ["ORD-9001"]
    assert finding(report, "stripe.insufficient_funds")["request_ids"] == ["req_Q8kLm2Np4Rs6Tv"]
    assert report["unrecognised"], "the crash lines should be reported, redacted"
    for fmt, result in outputs.items():
        assert result.exit_code == 1, result.output  # the authentication error is critical
        flat = without_layout(result.stdout)
        digits = re.sub(r"\D", "", result.stdout)
        for kind, secret in secrets().items():
            assert without_layout(secret) not in flat, f"{kind} leaked into {fmt}"
            if secret.replace(" ", "").replace("-", "").isdigit():
                assert re.sub(r"\D", "", secret) not in digits, f"{kind} leaked into {fmt}"
        for cvv in (r"cvc\W{0,6}314", r"cvv\W{0,6}987", r"cvv2\W{0,6}123"):
            assert not re.search(cvv, flat, re.IGNORECASE), f"{cvv} leaked into {fmt}"


# --- golden reports ------------------------------------------------------------------------------


def normalised_json(text: str) -> str:
    report = json.loads(text)
    report["tool_version"] = "<version>"
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    ("fmt", "golden"), [("text", "analyze-sample.txt"), ("json", "analyze-sample.json")]
)
def test_the_sample_report_matches_its_golden_file(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, fmt: str, golden: str
) -> None:
    monkeypatch.chdir(ROOT)  # paths in the report are as given: sample_logs/...
    result = invoke(runner, "sample_logs/", "--format", fmt)
    assert result.exit_code == 1, result.output
    if fmt == "json":
        assert list(schema_validator().iter_errors(json.loads(result.stdout))) == []
    rendered = normalised_json(result.stdout) if fmt == "json" else result.stdout
    path = GOLDEN / golden
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with PAYDIAG_UPDATE_GOLDEN=1"
    assert rendered == path.read_text(encoding="utf-8"), (
        f"{golden} differs from the report; if the change is intended, regenerate with "
        "PAYDIAG_UPDATE_GOLDEN=1 and review the diff"
    )


# --- the console entry point -------------------------------------------------------------


def _console(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m paydiag ...` in a process of its own: main() ends it with os._exit. Its
    output is buffered, as in most shells, so what main() does not flush is lost."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-m", "paydiag", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )


def test_the_console_entry_point_exits_with_the_command_s_status_and_all_its_output(
    tmp_path: Path,
) -> None:
    found = _console("analyze", str(SAMPLE_LOGS), "--format", "json", "--jobs", "2")
    assert found.returncode == 1  # high-severity findings, by the default --fail-on
    assert json.loads(found.stdout)["findings"]  # the whole report came through the pipe
    (tmp_path / "quiet.log").write_text("2026-03-01T10:00:00Z INFO all good\n")
    short = _console("analyze", str(tmp_path / "quiet.log"), "--format", "json")
    assert short.returncode == 0 and json.loads(short.stdout)["findings"] == []  # flushed
    written = _console("analyze", str(SAMPLE_LOGS), "-q", "-o", str(tmp_path / "r.txt"))
    assert written.returncode == 1 and (tmp_path / "r.txt").read_text()
    assert _console("analyze", str(tmp_path / "missing.log")).returncode == 2
    wrong = _console("--no-such-option")
    assert wrong.returncode == 2 and "No such option" in wrong.stderr
    assert _console("--version").stdout.startswith("paydiag ")


def test_the_console_module_turns_the_collector_back_on_once_the_cli_is_imported() -> None:
    """It imports the CLI with the cyclic collector off (that import makes no garbage); the
    `paydiag` script is its main()."""
    script = "import gc, paydiag.__main__ as entry; print(gc.isenabled(), entry.main.__module__)"
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert found.stdout.split() == ["True", "paydiag.cli"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["paydiag"] == "paydiag.__main__:main"


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), ("bad input", 1)])
def test_exit_statuses_are_python_s(
    code: object, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli._exit_status(code) == status
    assert capsys.readouterr().err == ("bad input\n" if isinstance(code, str) else "")


def test_a_run_for_ci_does_not_import_the_terminal_drawing() -> None:
    """rich draws the text report, tables, messages and the progress bar; importing it
    took 40 ms, which a JSON, SARIF or JUnit report goes without."""
    script = (
        "import sys\n"
        "from paydiag import cli\n"
        f"sys.argv = ['paydiag', 'analyze', {str(SAMPLE_LOGS)!r}, '--format', 'sarif', '-q']\n"
        "try:\n"
        "    cli.app()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('rich modules:', [m for m in sys.modules if m.split('.')[0] == 'rich'])\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert json.loads(found.stdout.split("rich modules:")[0])["runs"]  # the SARIF report
    assert found.stdout.rstrip().endswith("rich modules: []")
