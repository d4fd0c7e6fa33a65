"""paydiag.parse: a record's time, level, status, environment, fields and IDs, never raising.

Logs write the same facts in many shapes (ISO or epoch times, JSON or XML bodies, numeric
or word levels); each test gives real shapes and the one normalised answer expected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag.analysis import error_observation
from paydiag.catalog import Catalog
from paydiag.parse.event import parse_record
from paydiag.parse.fields import collect_fields, normalise_key
from paydiag.parse.timestamps import find_timestamp, parse_since, parse_timestamp

PROPERTY = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# --- timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T03:00:00Z", utc(2026, 3, 1, 3)),
        ("2026-03-01T05:00:00+02:00 ERROR x", utc(2026, 3, 1, 3)),
        ("2026-03-01T05:30:00+0230 ERROR x", utc(2026, 3, 1, 3)),
        ("2026-02-28T22:00:00-05:00 ERROR x", utc(2026, 3, 1, 3)),
        ("2026-03-01 03:30:24,123 ERROR [amazonpay.client]", utc(2026, 3, 1, 3, 30, 24, 123000)),
        ("2026-03-01 03:06:27.000  INFO 4821 --- [nio]", utc(2026, 3, 1, 3, 6, 27)),
        ("2026-03-01T03:00:00.123456789Z", utc(2026, 3, 1, 3, 0, 0, 123456)),
        ("2026-03-01 03:00:00 UTC ERROR", utc(2026, 3, 1, 3)),
        ("2026-03-01T03:00:00 no zone is UTC", utc(2026, 3, 1, 3)),
        (
            '203.0.113.9 - - [01/Mar/2026:05:10:37 +0100] "POST /checkout HTTP/1.1" 500 -',
            utc(2026, 3, 1, 4, 10, 37),
        ),
    ],
)
def test_timestamps_in_lines_are_normalised_to_utc(text: str, expected: datetime) -> None:
    found = find_timestamp(text)
    assert found == expected
    assert found is not None and found.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"ts":1772334000,"level":"error","msg":"x"}', utc(2026, 3, 1, 3)),
        ('{"time":1772334000123,"level":50,"msg":"x"}', utc(2026, 3, 1, 3, 0, 0, 123000)),
        ('{"timestamp":"1772334000.5","msg":"x"}', utc(2026, 3, 1, 3, 0, 0, 500000)),
        ('{"@timestamp":"2026-03-01T04:00:00+01:00","message":"x"}', utc(2026, 3, 1, 3)),
        ('{"msg":"x","time":"Sun, 01 Mar 2026 03:00:00 GMT"}', utc(2026, 3, 1, 3)),
    ],
)
def test_time_fields_of_json_lines_are_read_as_epoch_or_text(line: str, expected: datetime) -> None:
    assert parse_record(line, "x", 1).timestamp == expected


def test_syslog_without_a_year_takes_the_hinted_or_the_latest_past_year() -> None:
    assert find_timestamp("Mar  1 03:00:00 web1 app[1]: x", year_hint=2026) == utc(2026, 3, 1, 3)
    guessed = find_timestamp("Dec 31 23:59:59 web1 app[1]: x")
    now = datetime.now(UTC)
    assert guessed is not None
    assert now - timedelta(days=366) < guessed <= now + timedelta(days=1)


def test_a_record_without_a_time_takes_the_default() -> None:
    before = utc(2026, 3, 1, 3)
    event = parse_record("stripe.error.CardError: declined", "x", 5, default_time=before)
    assert event.timestamp == before


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "2026-13-45T99:99:99Z",
        "0001-01-01T00:00:00+05:00",  # converting to UTC would leave the calendar
        "9999-12-31T23:59:59-05:00",
        "[01/Jan/0001:00:00:00 +0100]",
        "[31/Foo/2026:03:00:00 +0000]",
        "²",  # isdigit() but not a number float() reads
        "1e400",
        "9" * 400,
        True,
        None,
        {"a": 1},
        float("inf"),
        -(10**20),
    ],
)
def test_unreadable_timestamps_are_none_never_an_error(value: object) -> None:
    assert parse_timestamp(value) is None
    if isinstance(value, str):
        assert find_timestamp(value) is None
        assert parse_record(f"time={value} status={value}", "x", 1).timestamp is None


def test_since_takes_dates_and_spans_back_from_now() -> None:
    now = utc(2026, 3, 1, 12)
    assert parse_since("2h", now) == utc(2026, 3, 1, 10)
    assert parse_since("30m", now) == utc(2026, 3, 1, 11, 30)
    assert parse_since("3d", now) == utc(2026, 2, 26, 12)
    assert parse_since("2026-03-01T04:00Z", now) == utc(2026, 3, 1, 4)
    assert parse_since("2026-03-01", now) == utc(2026, 3, 1)
    with pytest.raises(ValueError, match="cannot read 'yesterday-ish'"):
        parse_since("yesterday-ish", now)


# --- fields -----------------------------------------------------------------------------


def test_a_whole_json_line_gives_nested_fields_outermost_first() -> None:
    fields = collect_fields(
        '{"order_id":"ORD-1","stripe_response":{"error":{"code":"expired_card",'
        '"decline_code":"expired_card","param":"exp_month","type":"card_error"}},"code":"x"}'
    )
    assert fields["orderid"][0] == "ORD-1"
    assert fields["code"][:2] == ["x", "expired_card"]  # JSON first, then as text again
    assert fields["declinecode"][0] == "expired_card"
    assert fields["param"][0] == "exp_month"


def test_json_embedded_in_a_text_line_is_parsed() -> None:
    fields = collect_fields(
        "2026-03-01 03:07:06.000 ERROR 4821 --- [exec-1] c.e.CaptureService : capture failed: "
        '422 UNPROCESSABLE_ENTITY {"name":"UNPROCESSABLE_ENTITY","details":[{"issue":'
        '"INSTRUMENT_DECLINED"}],"debug_id":"861bff4d03405"} after {"retry":2}'
    )
    assert fields["name"][0] == "UNPROCESSABLE_ENTITY"
    assert fields["issue"][0] == "INSTRUMENT_DECLINED"
    assert fields["debugid"][0] == "861bff4d03405"
    assert fields["retry"][0] == 2


def test_xml_elements_are_fields() -> None:
    fields = collect_fields(
        '<ErrorResponse xmlns="http://mws.amazonservices.com/"><Error><Type>Sender</Type>'
        "<Code>InvalidParameterValue</Code><Message>The value 12.999 is invalid.</Message>"
        "</Error><RequestId>bdfc629e-2a44-4c1e-9d3b-c8a7ff6be902</RequestId></ErrorResponse>"
    )
    assert fields["code"] == ["InvalidParameterValue"]
    assert fields["message"] == ["The value 12.999 is invalid."]
    assert fields["requestid"] == ["bdfc629e-2a44-4c1e-9d3b-c8a7ff6be902"]


def test_logfmt_and_key_colon_value_pairs_are_fields() -> None:
    fields = collect_fields(
        'ts=2026-03-01T03:13:56Z level=warn msg="payment refused" refusalReason="Not enough '
        "balance\" resultCode=Refused PayPal-Debug-Id: 7c2e9a1b3d4f5 retry: 'no'"
    )
    assert fields["msg"] == ["payment refused"]
    assert fields["refusalreason"] == ["Not enough balance"]
    assert fields["resultcode"] == ["Refused"]
    assert fields["paypaldebugid"] == ["7c2e9a1b3d4f5"]
    assert fields["retry"] == ["no"]


@pytest.mark.parametrize(
    ("key", "normal"),
    [
        ("order_id", "orderid"),
        ("orderId", "orderid"),
        ("Order-ID", "orderid"),
        ("error.code", "code"),
        ("transaction.id", "transactionid"),
        ("@timestamp", "timestamp"),
    ],
)
def test_keys_are_normalised_so_spellings_agree(key: str, normal: str) -> None:
    assert normalise_key(key) == normal


def test_invalid_or_absurdly_nested_json_is_skipped_not_raised() -> None:
    assert collect_fields('{"a": 1, broken') == {"a": ["1"]}
    deep = '{"a":' * 50_000
    assert parse_record(deep, "x", 1).text == deep
    assert parse_record("x " + "[" * 50_000, "x", 1).transaction_ids == ()


# --- IDs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "transactions", "requests"),
    [
        pytest.param(
            '{"order_id":"ORD-10240","error":{"code":"expired_card","payment_intent":'
            '{"id":"pi_3RtExmm0gRmN5OTG1a2b3c4d"},"charge":"ch_3RtExmm0gRmN5OTGXrk4zFXB"},'
            '"request_log_url":"https://dashboard.stripe.com/logs/req_AJaiXnkU8Is2g8"}',
            ("ORD-10240", "pi_3RtExmm0gRmN5OTG1a2b3c4d", "ch_3RtExmm0gRmN5OTGXrk4zFXB"),
            ("req_AJaiXnkU8Is2g8",),
            id="stripe-json",
        ),
        pytest.param(
            "stripe.error.CardError: Request req_07pY4SIpt4tYn5: Charge "
            "ch_3RtExmm0gRmN5OTGXrk4zFXB for pi_3Mtw4bLkdIwHu7ix28a3tqPa declined",
            ("ch_3RtExmm0gRmN5OTGXrk4zFXB", "pi_3Mtw4bLkdIwHu7ix28a3tqPa"),
            ("req_07pY4SIpt4tYn5",),
            id="stripe-prose",
        ),
        pytest.param(
            "capture failed for order 5O190127TN364715T: 422 UNPROCESSABLE_ENTITY "
            '{"name":"UNPROCESSABLE_ENTITY","debug_id":"861bff4d03405"}',
            ("5O190127TN364715T",),
            ("861bff4d03405",),
            id="paypal-debug-id",
        ),
        pytest.param(
            "PayPal call failed order id: 8AB12345CD678901E PayPal-Debug-Id: 7c2e9a1b3d4f5",
            ("8AB12345CD678901E",),
            ("7c2e9a1b3d4f5",),
            id="paypal-header",
        ),
        pytest.param(
            'amazon pay {"reasonCode":"InvalidRequestSignature","checkoutSessionId":'
            '"ba96aa4a-9b69-4bff-a757-f2bf08fcc90d"}',
            ("ba96aa4a-9b69-4bff-a757-f2bf08fcc90d",),
            (),
            id="amazon-pay-checkout-session",
        ),
        pytest.param(
            "OffAmazonPayments Authorize AmazonOrderReferenceId=S01-6675677-2199620 "
            "<AmazonAuthorizationId>P01-1234567-7654321-A123456</AmazonAuthorizationId>"
            "<RequestId>bdfc629e-2a44-4c1e-9d3b-c8a7ff6be902</RequestId>",
            ("S01-6675677-2199620", "P01-1234567-7654321-A123456"),
            ("bdfc629e-2a44-4c1e-9d3b-c8a7ff6be902",),
            id="amazon-pay-mws",
        ),
        pytest.param(
            'ts=2026-03-01T03:13:56Z msg="payment refused" pspReference=PSPREF1481701903 '
            "merchantReference=ORD-30002 resultCode=Refused",
            ("ORD-30002", "PSPREF1481701903"),
            (),
            id="adyen-merchant-reference-first",
        ),
        pytest.param(
            '{"level":40,"msg":"sale declined","transaction":{"id":"p9r2w7xe",'
            '"processorResponseCode":"2001"}}',
            ("p9r2w7xe",),
            (),
            id="braintree-nested-transaction-id",
        ),
        pytest.param(
            "braintree sale failed transaction_id=h7x3k9ab processor_response_code=2001",
            ("h7x3k9ab",),
            (),
            id="braintree-transaction-id",
        ),
        pytest.param(
            "<transactionResponse><responseCode>2</responseCode><transId>60123456789</transId>"
            "</transactionResponse>",
            ("60123456789",),
            (),
            id="authorize-net-trans-id",
        ),
        pytest.param(
            '{"transactionResponse":{"responseCode":"3","transId":"0"}}',
            (),
            (),
            id="authorize-net-zero-trans-id-is-no-id",
        ),
        pytest.param(
            "ERROR [inventory.reserve] stock reservation failed for order ORD-20040: x",
            ("ORD-20040",),
            (),
            id="order-in-prose",
        ),
    ],
)
def test_transaction_and_request_ids_of_each_gateway(
    line: str, transactions: tuple[str, ...], requests: tuple[str, ...]
) -> None:
    event = parse_record(line, "x", 1)
    assert event.transaction_ids == transactions
    assert event.request_ids == requests


def test_the_order_comes_before_the_gateways_own_reference() -> None:
    # The first ID is the one a finding counts, so one order is one transaction.
    event = parse_record(
        "pspReference=8816178914389425 merchantReference=ORD-1 order_id=ORD-1", "x", 1
    )
    assert event.transaction_ids[0] == "ORD-1"


# --- level, status, environment ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ('{"level":10,"time":1772334000000,"msg":"x"}', "debug"),
        ('{"level":20,"msg":"x"}', "debug"),
        ('{"level":30,"msg":"x"}', "info"),
        ('{"level":40,"msg":"x"}', "warn"),
        ('{"level":50,"msg":"x"}', "error"),
        ('{"level":60,"msg":"x"}', "fatal"),
        ('{"severity":"WARNING","message":"x"}', "warn"),
        ('{"levelname":"CRITICAL","message":"x"}', "fatal"),
        ("2026-03-01 03:07:06.000 ERROR 4821 --- [exec-1] c.e.Capture : x", "error"),
        ("2026-03-01 03:07:06,000 WARN  [main] c.e.Capture - x", "warn"),
        ("Mar  1 03:00:00 web1 php-fpm[1]: WARNING: [pool www] x", "warn"),
        ("ts=2026-03-01T03:00:00Z level=err msg=x", "error"),
        ("2026-03-01T03:00:00Z SEVERE x", "error"),
        ("2026-03-01T03:00:00Z something happened", None),
    ],
)
def test_levels_are_normalised_including_pino_numbers(line: str, level: str | None) -> None:
    assert parse_record(line, "x", 1).level == level


@pytest.mark.parametrize(
    ("line", "status", "path"),
    [
        (
            '203.0.113.9 - - [01/Mar/2026:03:00:16 +0000] "POST /checkout/pay?x=1 HTTP/1.1" 504 '
            '0 "-" "Mozilla/5.0" rt=30.001 uct="0.001" urt="30.000"',
            504,
            "/checkout/pay?x=1",
        ),
        (
            "https 2026-03-01T04:05:11.123456Z app/shop/50dc6c495c0c9188 198.51.100.23:52113 "
            "10.0.3.17:8080 0.001 -1 -1 504 - 1432 0 "
            '"POST https://shop.example.com:443/checkout/pay HTTP/1.1" "Mozilla/5.0" -',
            504,
            "/checkout/pay",
        ),
        (
            "https 2026-03-01T04:05:11.123456Z app/shop/50dc6c495c0c9188 198.51.100.23:52113 "
            "10.0.3.17:8080 0.001 0.052 0.000 200 502 1432 512 "
            '"GET https://shop.example.com:443/api/v2/payments HTTP/1.1" "Mozilla/5.0" -',
            502,
            "/api/v2/payments",
        ),
        ('{"msg":"stripe call failed","http_status":429}', 429, None),
        ('{"msg":"x","response":{"statusCode":"503"}}', 503, None),
        ("ERROR upstream answered HTTP/1.1 401 Unauthorized", 401, None),
        ("ERROR gateway call failed status=502 after 30s", 502, None),
        ('{"msg":"x","status":"succeeded","code":"²"}', None, None),
    ],
)
def test_http_status_and_path_from_access_alb_and_json_lines(
    line: str, status: int | None, path: str | None
) -> None:
    event = parse_record(line, "x", 1)
    assert (event.http_status, event.path) == (status, path)


def test_an_alb_line_gives_its_target_time_as_the_duration() -> None:
    event = parse_record(
        "https 2026-03-01T04:05:11.123456Z app/shop/1 198.51.100.23:1 10.0.3.17:8080 "
        '0.001 2.500 0.000 200 200 1 2 "GET https://a.example:443/pay HTTP/1.1" "-"',
        "x",
        1,
    )
    assert event.duration_ms == 2500
    assert event.timestamp == utc(2026, 3, 1, 4, 5, 11, 123456)


@pytest.mark.parametrize(
    ("line", "environment"),
    [
        ("stripe.error.AuthenticationError: Invalid API Key provided: sk_test_****4242", "sandbox"),
        ('{"id":"ch_1","livemode":false,"status":"failed"}', "sandbox"),
        ("POST https://api-m.sandbox.paypal.com/v2/checkout/orders 401", "sandbox"),
        ("POST https://checkout-test.adyen.com/v71/payments 403", "sandbox"),
        ("POST https://pay-api.amazon.eu/sandbox/v2/checkoutSessions 401", "sandbox"),
        ("key sk_live_****4242 rejected", "production"),
        ('{"id":"ch_1","livemode": true}', "production"),
        ("POST https://api-m.paypal.com/v2/checkout/orders 401", "production"),
        ("POST https://abc-company-live.adyenpayments.com/checkout/v71/payments", "production"),
        ("POST https://pay-api.amazon.eu/live/v2/checkoutSessions/x/complete 401", "production"),
        ("POST https://api.example.com/v1/charges 500", None),
    ],
)
def test_environment_from_sandbox_and_production_markers(
    line: str, environment: str | None
) -> None:
    assert parse_record(line, "x", 1).environment == environment


@pytest.mark.parametrize(
    ("line", "gateway"),
    [
        ('{"error":{"type":"card_error"}} req_AJaiXnkU8Is2g8', "stripe"),
        ('{"name":"UNPROCESSABLE_ENTITY","debug_id":"861bff4d03405"}', "paypal"),
        ("POST https://pay-api.amazon.eu/live/v2/checkoutSessions failed", "amazon_pay"),
        ("pspReference=PSPREF1 resultCode=Refused", "adyen"),
        ("Braintree::ErrorResult processor_response_code=2001", "braintree"),
        (
            "<transactionResponse><responseCode>2</responseCode></transactionResponse>",
            "authorize_net",
        ),
        ("ERROR something broke", None),
    ],
)
def test_gateway_hints_from_hosts_and_field_names(line: str, gateway: str | None) -> None:
    assert parse_record(line, "x", 1).gateway_hint == gateway


# --- properties ---------------------------------------------------------------------------

LOGGY = st.text(
    alphabet=st.sampled_from(list("0123456789:-+TZ .,[]/{}\"'=<>\\\n\tabcdeMarFebUTC_²١")),
    max_size=120,
)
FRAGMENTS = st.sampled_from(
    [
        "2026-03-01T03:00:00Z ",
        "9999-12-31T23:59:59-05:00 ",
        "0001-01-01T00:00:00+14:00 ",
        "[01/Mar/2026:05:10:37 +0100] ",
        "Feb 29 10:00:00 ",
        '{"ts":',
        '"time":"',
        '{"level":',
        "status=",
        "order ",
        "https 2026-03-01T04:05:11Z a b c ",
        " 504 - 1 2 ",
        '{"a":{"id":',
        "<transId>",
        "</transId>",
        "}",
        "]",
        '"',
    ]
)
RECORDS = st.one_of(
    st.text(max_size=200),
    LOGGY,
    st.lists(st.one_of(FRAGMENTS, LOGGY), max_size=12).map("".join),
)


@PROPERTY
@given(RECORDS)
def test_parse_record_never_raises_and_times_are_utc(text: str) -> None:
    event = parse_record(text, "x.log", 7)
    assert (event.source, event.line, event.text) == ("x.log", 7, text)
    if event.timestamp is not None:
        assert event.timestamp.tzinfo is not None
        assert event.timestamp.utcoffset() == timedelta(0)
    if event.http_status is not None:
        assert 100 <= event.http_status <= 599


@PROPERTY
@given(st.one_of(RECORDS, st.integers(), st.floats(), st.booleans(), st.none()))
def test_parse_timestamp_never_raises_and_is_utc(value: object) -> None:
    parsed = parse_timestamp(value)
    assert parsed is None or parsed.utcoffset() == timedelta(0)


def test_request_ids_come_in_the_same_order_in_every_process() -> None:
    # A set of keys once decided the order, and a set's order changes with string hashing.
    script = (
        "from paydiag.parse.event import parse_record\n"
        "text = 'failed debug_id=DBG7a1b2c3d4 trace_id=TRC9f8e7d6c5 request_id=REQ1q2w3e4r5'\n"
        "print(parse_record(text, 'x', 1).request_ids)\n"
    )
    orders = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(6)
    }
    assert orders == {"('REQ1q2w3e4r5', 'DBG7a1b2c3d4', 'TRC9f8e7d6c5')\n"}


def test_each_value_a_record_holds_lands_in_its_own_field(catalog: Catalog) -> None:
    # parse_record() makes the Event positionally, and error_observation() the Observation:
    # a value in its neighbour's place must show here (mypy cannot tell two str | None apart).
    text = (
        "2026-03-01T10:00:00Z ERROR [checkout.stripe] charge failed order_id=ORD-42 "
        'request_id=req_9Zx sk_test_ {"status": 402, "amount": "12.50", "currency": "eur", '
        '"payment_method": "card", "duration_ms": 350} x-amz-date: 20260301T095500Z'
    )
    event = parse_record(text, "s.log", 3)
    assert {f.name: getattr(event, f.name) for f in fields(event)} == {
        "source": "s.log",
        "line": 3,
        "text": text,
        "timestamp": datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        "level": "error",
        "http_status": 402,
        "path": None,
        "gateway_hint": "stripe",
        "environment": "sandbox",
        "transaction_ids": ("ORD-42",),
        "request_ids": ("req_9Zx",),
        "amount": "12.50",
        "currency": "EUR",
        "payment_method": "card",
        "duration_ms": 350.0,
        "request_time": datetime(2026, 3, 1, 9, 55, tzinfo=UTC),
    }
    access = '203.0.113.9 - - [01/Mar/2026:10:00:00 +0000] "POST /api/checkout HTTP/1.1" 502 12'
    assert parse_record(access, "a.log", 1).path == "/api/checkout"
    rule = next(r for r in catalog.rules if r.category == "decline_generic" and r.priority >= 0)
    observation = error_observation(event, rule)
    assert observation is not None
    assert {f.name: getattr(observation, f.name) for f in fields(observation)} == {
        "time": event.timestamp,
        "gateway": rule.gateway,
        "failed": True,
        "source": "s.log",
        "line": 3,
        "rule_id": rule.id,
        "category": "decline_generic",
        "code": rule.code,
        "http_status": 402,
        "duration_ms": 350.0,
        "environment": "sandbox",
        "stage": "declined",
        "transaction_ids": ("ORD-42",),
        "request_ids": ("req_9Zx",),
        "request_time": event.request_time,
    }
