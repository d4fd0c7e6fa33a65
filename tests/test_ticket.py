"""`paydiag ticket`: the support request drafted from a finding, redacted.

Golden files: tests/golden/ticket.md, ticket.email.txt and ticket.json are the built-in
templates rendered for sample_logs/. After an intended change, regenerate them with

    PAYDIAG_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_ticket.py

and review the diff.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from paydiag import cli
from paydiag.analysis import analyze
from paydiag.catalog import Catalog
from paydiag.cli import app
from paydiag.report.load import ReportLoadError, load_report
from paydiag.report.model import Finding, Location, Report, Summary, report_from_dict
from paydiag.ticket import (
    TEMPLATE_NAMES,
    NoFinding,
    TicketOptions,
    build_context,
    build_ticket,
    load_profiles,
    profile_for,
    select_finding,
)
from paydiag.ticket.priority import priority_for

from .conftest import FIXTURES, ROOT

TICKETS = FIXTURES / "ticket"
GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("PAYDIAG_UPDATE_GOLDEN") == "1"
GOLDEN_OPTIONS = TicketOptions(
    merchant_id="A2EXAMPLEMERCHANT", contact="payments-oncall@shop.example"
)
GATEWAYS = ("stripe", "paypal", "amazon_pay", "adyen", "braintree", "authorize_net")

# (field, ID) pairs each gateway's tiny log in tests/fixtures/ticket/ carries.
GATEWAY_IDS = {
    "stripe": [
        ("request_id", "req_XCoErMh50P2409"),
        ("request_id", "req_Q7wXbN2LmT0aPk"),
        ("payment_intent", "pi_3QS1qJ0JoQmYfyvGBNqwN1aa"),
    ],
    "paypal": [
        ("debug_id", "8c7d324f49712"),
        ("debug_id", "f21a9c0be3d47"),
        ("order_id", "5O190127TN364715T"),
    ],
    "amazon_pay": [
        ("checkoutSessionId", "bd504926-f659-4ad7-a1a9-9a747aaf5275"),
        ("chargeId", "S01-5105180-3221187-C045351"),
        ("request_id", "5f1c2b3a-8d9e-4f01-a2b3-c4d5e6f70812"),
    ],
    # 8535296650153316 passes the Luhn check: a PSP reference must still survive redaction.
    "adyen": [("pspReference", "8535296650153316"), ("pspReference", "8535296650153317")],
    "braintree": [("transaction_id", "h7x3k9ab"), ("transaction_id", "q2w8e4rt")],
    "authorize_net": [("transId", "60212345678"), ("transId", "60212345699")],
}


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@pytest.fixture(autouse=True)
def _loaded_catalog(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> None:
    """The CLI reuses the session's catalog: loading 600 rules per command would be most of
    this module's run time."""
    monkeypatch.setattr(cli, "_catalog", lambda extra: catalog)


@pytest.fixture(scope="module")
def sample_report(catalog: Catalog) -> Report:
    # Relative paths, so the golden files do not depend on where the checkout is.
    with contextlib.chdir(ROOT):
        return analyze(["sample_logs"], catalog)


def _check_golden(path: Path, text: str) -> None:
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with PAYDIAG_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from the golden file"


def _ticket(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["ticket", *args])
    return result.exit_code, result.stdout, result.stderr


# --- golden files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "golden"),
    [("markdown", "ticket.md"), ("email", "ticket.email.txt"), ("json", "ticket.json")],
)
def test_builtin_template_on_sample_logs_matches_golden_file(
    sample_report: Report, template: str, golden: str
) -> None:
    _check_golden(GOLDEN / golden, build_ticket(sample_report, GOLDEN_OPTIONS, template))


def test_default_ticket_is_about_the_most_severe_finding(sample_report: Report) -> None:
    context = build_context(
        select_finding(sample_report, TicketOptions()), sample_report, TicketOptions()
    )
    assert context.error.rule_id == sample_report.findings[0].rule_id
    assert context.error.severity == "critical"
    assert context.priority.level == "P1"


def test_json_ticket_is_valid_json_with_one_object_per_id(sample_report: Report) -> None:
    data = json.loads(build_ticket(sample_report, GOLDEN_OPTIONS, "json"))
    assert data["ticket_version"] == 1
    assert data["first_seen"].endswith("Z") and data["timezone"] == "UTC"
    assert {"kind", "label", "field", "id"} == set(data["ids"][0])
    assert data["merchant_id"] == "A2EXAMPLEMERCHANT"
    assert data["contact"] == "payments-oncall@shop.example"


# --- per gateway ------------------------------------------------------------------------


def test_every_supported_gateway_has_a_cited_profile_with_a_portal() -> None:
    profiles = load_profiles()
    assert set(GATEWAYS) | {"generic"} <= set(profiles)
    for gateway in GATEWAYS:
        profile = profiles[gateway]
        assert profile.portal and profile.portal.startswith("https://"), gateway
        assert profile.references, f"{gateway}: facts need their sources"
        assert profile.id_fields and profile.asks_for, gateway


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_ticket_carries_the_gateways_ids_and_where_to_file(runner: CliRunner, gateway: str) -> None:
    portal = load_profiles()[gateway].portal
    assert portal is not None
    for template in TEMPLATE_NAMES:
        code, out, err = _ticket(runner, str(TICKETS / f"{gateway}.log"), "--template", template)
        assert code == 0, err
        assert portal in out
        for field, value in GATEWAY_IDS[gateway]:
            if template == "json":
                ids = json.loads(out)["ids"]
                assert {"field": field, "id": value} in [
                    {"field": i["field"], "id": i["id"]} for i in ids
                ], (template, value)
            else:
                assert f"{field}: {value}" in out, (template, value)


def test_generic_finding_takes_the_profile_of_the_gateway_its_lines_name() -> None:
    assert profile_for("http", ["POST https://api.stripe.com/v1/charges 502"]).gateway == "stripe"
    assert profile_for("http", ["GET /checkout 502"]).gateway == "generic"


def test_generic_ticket_without_a_portal_still_renders() -> None:
    report = _report(_finding(gateway="http", code="502", rule_id="http.502", examples=("x",)))
    out = build_ticket(report, TicketOptions())
    assert "Portal" not in out
    assert "support channel" in out


# --- priority and impact ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "share", "level"),
    [
        ("critical", 0.9, "P1"),
        ("critical", 0.2, "P1"),
        ("critical", 0.05, "P2"),
        ("high", 0.5, "P1"),
        ("high", 0.3, "P2"),
        ("high", 0.01, "P3"),
        ("medium", 0.9, "P2"),
        ("medium", 0.1, "P3"),
        ("low", 1.0, "P3"),
        ("low", 0.2, "P4"),
        ("info", 1.0, "P4"),
    ],
)
def test_priority_grows_with_severity_and_failing_share(
    severity: str, share: float, level: str
) -> None:
    assert priority_for(severity, share).level == level


def test_total_transactions_turn_the_share_into_a_share_of_all_checkouts(
    sample_report: Report,
) -> None:
    most = build_context(
        sample_report.findings[0], sample_report, TicketOptions(total_transactions=100)
    )
    assert most.priority.level == "P1"
    assert "89% of all 100 transactions" in most.impact.statement
    few = build_context(
        sample_report.findings[0], sample_report, TicketOptions(total_transactions=10_000)
    )
    assert few.priority.level == "P2"


def test_impact_statement_names_time_span_amounts_and_currencies(sample_report: Report) -> None:
    finding = select_finding(sample_report, TicketOptions(code="rate_limit"))
    statement = build_context(finding, sample_report, TicketOptions()).impact.statement
    assert "7 failed transactions" in statement
    assert "from 2026-03-01T03:03:29Z to 2026-03-01T04:21:49Z (78 min)" in statement
    assert "currencies: EUR" in statement
    assert "amounts as logged: 4999" in statement


# --- steps taken ------------------------------------------------------------------------


def test_tried_and_done_fill_steps_taken_and_leave_the_rest_not_yet_tried(
    runner: CliRunner,
) -> None:
    args = ("--code", "rate_limit", "--tried", "Raised the SDK retry limit", "--done", "2")
    code, out, _ = _ticket(runner, str(ROOT / "sample_logs"), *args)
    assert code == 0
    taken = out.split("## Steps already taken")[1].split("## Recommended checks")[0]
    remaining = out.split("## Recommended checks not yet tried")[1].split("## What")[0]
    assert "Done (recommended check 2): Throttle batch jobs" in taken
    assert "Raised the SDK retry limit" in taken
    assert "\n2. " not in remaining and "\n1. " in remaining and "\n3. " in remaining


def test_without_steps_the_recommended_checks_are_listed_as_not_yet_tried(
    sample_report: Report,
) -> None:
    out = build_ticket(sample_report, TicketOptions())
    assert "None recorded yet: the recommended checks below are not yet tried." in out
    assert "## Recommended checks not yet tried" in out


def test_done_with_a_fix_number_the_finding_lacks_exits_2(runner: CliRunner) -> None:
    code, _, err = _ticket(runner, str(ROOT / "sample_logs"), "--code", "rate_limit", "--done", "9")
    assert code == 2
    assert "--done 9: the finding has 4 fixes" in err


# --- choosing the finding -----------------------------------------------------------------


def test_log_without_payment_errors_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.log"
    quiet.write_text("2026-03-01T10:00:00Z INFO order ORD-1 paid\n", encoding="utf-8")
    code, out, err = _ticket(runner, str(quiet))
    assert code == 1
    assert err.strip() == "paydiag: no payment errors found; nothing to report"
    assert out == ""


def test_unknown_rule_or_code_exits_1_listing_the_findings_there(runner: CliRunner) -> None:
    for option in (("--rule", "stripe.nope"), ("--code", "nope")):
        code, _, err = _ticket(runner, str(TICKETS / "stripe.log"), *option)
        assert code == 1
        assert "no such finding" in err and "card_declined (stripe.card_declined)" in err


def test_code_selects_a_finding_ignoring_case_and_punctuation(sample_report: Report) -> None:
    finding = select_finding(sample_report, TicketOptions(code="Rate-Limit"))
    assert finding.rule_id == "stripe.rate_limit"
    with pytest.raises(NoFinding):
        select_finding(replace(sample_report, findings=()), TicketOptions())


# --- saved reports ----------------------------------------------------------------------


def test_report_round_trip_gives_the_same_ticket_as_the_logs(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    saved = tmp_path / "report.json"
    analysed = runner.invoke(app, ["analyze", "sample_logs", "-f", "json", "-o", str(saved)])
    assert analysed.exit_code in (0, 1), analysed.output
    for template in ("markdown", "json"):
        from_logs = _ticket(runner, "sample_logs", "--template", template)
        from_report = _ticket(runner, "--report", str(saved), "--template", template)
        assert from_logs[0] == from_report[0] == 0
        assert from_report[1] == from_logs[1]


def test_report_from_dict_restores_the_report(sample_report: Report) -> None:
    assert report_from_dict(json.loads(json.dumps(sample_report.to_dict()))) == sample_report


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"schema_version": 2}', "not a paydiag JSON report"),
        ("[]", "not a paydiag JSON report"),
    ],
)
def test_bad_report_file_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    code, out, err = _ticket(runner, "--report", str(bad))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err and str(bad) in err and "Traceback" not in err


def test_missing_report_file_exits_2(tmp_path: Path) -> None:
    with pytest.raises(ReportLoadError, match="cannot read"):
        load_report(tmp_path / "nope.json")


def test_logs_and_report_together_or_neither_is_a_usage_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert _ticket(runner)[0] == 2
    assert (
        _ticket(runner, str(TICKETS / "stripe.log"), "--report", str(tmp_path / "r.json"))[0] == 2
    )


# --- templates --------------------------------------------------------------------------


def _template(tmp_path: Path, text: str, name: str = "mine.j2") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_users_template_sees_the_documented_context(runner: CliRunner, tmp_path: Path) -> None:
    mine = _template(
        tmp_path,
        "{{ priority.level }} {{ gateway.name }} {{ error.code }} {{ first_seen }}\n"
        "{% for group in ids %}{% for v in group.values %}{{ group.field }}: {{ v }}\n"
        "{% endfor %}{% endfor %}",
    )
    code, out, err = _ticket(runner, str(TICKETS / "braintree.log"), "--template", str(mine))
    assert code == 0, err
    assert out.startswith("P3 Braintree 2000 2026-03-01T10:00:02Z\n")
    assert "transaction_id: h7x3k9ab" in out


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ error.__class__.__init__.__globals__ }}",
        "{{ ids.__class__.__base__.__subclasses__() }}",
    ],
)
def test_template_cannot_reach_python_internals(
    runner: CliRunner, tmp_path: Path, attack: str
) -> None:
    mine = _template(tmp_path, attack)
    code, out, err = _ticket(runner, str(TICKETS / "stripe.log"), "--template", str(mine))
    assert code == 2 and out == ""
    assert str(mine) in err and "unsafe" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ok\n{{ no_such_variable }}\n", ":2: 'no_such_variable' is undefined"),
        ("{% if %}\n", ":1: "),
        ("{{ error.code | no_such_filter }}", "no_such_filter"),
    ],
)
def test_broken_template_is_one_line_with_its_path_and_exit_2(
    runner: CliRunner, tmp_path: Path, text: str, expected: str
) -> None:
    mine = _template(tmp_path, text)
    code, _, err = _ticket(runner, str(TICKETS / "stripe.log"), "--template", str(mine))
    assert code == 2
    assert f"template {mine}" in err and expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_html_template_is_autoescaped(runner: CliRunner, tmp_path: Path) -> None:
    mine = _template(
        tmp_path, "{% for s in steps_taken %}<li>{{ s.text }}</li>{% endfor %}", "t.html"
    )
    args = ("--template", str(mine), "--tried", "<script>alert(1)</script>")
    code, out, _ = _ticket(runner, str(TICKETS / "stripe.log"), *args)
    assert code == 0
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in out


def test_unknown_template_name_exits_2(runner: CliRunner) -> None:
    code, _, err = _ticket(runner, str(TICKETS / "stripe.log"), "--template", "yaml")
    assert code == 2 and "unknown template 'yaml'" in err


def test_output_option_writes_the_ticket(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "ticket.md"
    code, out, _ = _ticket(runner, str(TICKETS / "stripe.log"), "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8").startswith("# [P3] Stripe card_declined")


# --- redaction --------------------------------------------------------------------------

PLANTED = [
    "4242 4242 4242 4242",
    "4242424242424242",
    '"cvc":"737"',
    "jane.doe@example.com",
    "+14155552671",
    "51HxYzAbCdEfGhIjKlMnOp",
    "5555-5555-5555-4444",
    "DE89370400440532013000",
    "51QqRrSsTtUuVvWwXxYyZz",
    "QVVfY2xpZW50X2lkOkVQX3NlY3JldF92YWx1ZQ",
    "A21AAHk9pLantedAccessTokenValue0123456789",
    "mark.payer@example.net",
    "eyJhbGciOiJSUzI1NiJ9",
    "378282246310005",
    "cvv2=4321",
    "IwEBIPlantedRefreshTokenValue",
    "AKIAPLANTEDKEY123456",
    "415-555-0199",
    "PlantedPrivateKeyMaterial",
    "6011111111111117",
    "bob.shopper@example.org",
    "hunter2plantedpw",
    "GB82 WEST",
    "4000 0566 5566 5556",
    "bt_private_PLANTED9f8e7d6c",
    "346HZ32z3fP4hTG2",
    "4111-1111-1111-1111",
    "anet.buyer@example.com",
    "555-0142",
    '"cardCode":"999"',
    # from the command line
    "sk_live_CommandLineSecret123",
    "ops.private@example.com",
]


def test_no_planted_secret_appears_in_any_ticket(
    runner: CliRunner, tmp_path: Path, catalog: Catalog
) -> None:
    log = TICKETS / "planted-secrets.log"
    report = analyze([str(log)], catalog)
    assert len(report.findings) == 6  # one per gateway: every secret reaches a ticket
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report.to_dict()), encoding="utf-8")
    tried = ("--tried", "Rotated sk_live_CommandLineSecret123, told ops.private@example.com")
    for finding in report.findings:
        for source in ((str(log),), ("--report", str(saved))):
            for template in TEMPLATE_NAMES:
                args = (*source, "--rule", finding.rule_id, "--template", template, *tried)
                code, out, err = _ticket(runner, *args)
                assert code == 0, err
                leaked = [secret for secret in PLANTED if secret in out]
                assert not leaked, (finding.rule_id, template, leaked)
                if template == "json":
                    json.loads(out)


def test_contact_is_kept_but_a_secret_in_it_is_not(sample_report: Report) -> None:
    kept = build_ticket(
        sample_report, TicketOptions(contact="Ana, +49 30 1234567, ana@shop.example")
    )
    assert "Ana, +49 30 1234567, ana@shop.example" in kept
    leaked = build_ticket(
        sample_report, TicketOptions(contact="ana@shop.example sk_live_abcdefghijk123")
    )
    assert "sk_live_abcdefghijk123" not in leaked


def _finding(**changes: object) -> Finding:
    base = Finding(
        rule_id="stripe.rate_limit",
        gateway="stripe",
        code="rate_limit",
        title="Stripe API rate limit hit (HTTP 429)",
        category="rate_limit",
        severity="high",
        fault="merchant_integration",
        retry="later",
        count=2,
        first_seen=datetime(2026, 3, 1, 3, 3, 29, tzinfo=UTC),
        last_seen=datetime(2026, 3, 1, 4, 21, 49, tzinfo=UTC),
        transaction_count=2,
        transactions=(),
        request_ids=(),
        examples=(),
        locations=(Location("app.log", 8),),
        explanation="Too many requests reached the Stripe API too quickly.",
        causes=("Polling in a tight loop",),
        fixes=("Retry with exponential backoff and jitter",),
        support=("The request ID (req_...)",),
        references=("https://docs.stripe.com/rate-limits",),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _report(finding: Finding) -> Report:
    summary = Summary(
        lines_read=100,
        error_events=finding.count,
        matched_events=finding.count,
        unrecognised_events=0,
        first_seen=finding.first_seen,
        last_seen=finding.last_seen,
        findings_by_severity={finding.severity: 1},
        worst_rule_id=finding.rule_id,
        headline="",
    )
    return Report(summary, (), (finding,), (), "0", {"stripe": "Stripe"})


# Each gateway's IDs in the shapes its API returns, and how its log lines name them.
ID_SHAPES = {
    "stripe": (r"req_[A-Za-z0-9]{14}", "request_log_url=https://dashboard.stripe.com/logs/{}"),
    "paypal": (r"[0-9a-f]{13}", '"debug_id":"{}"'),
    "amazon_pay": (r"S01-\d{7}-\d{7}-C\d{6}", "chargeId={}"),
    "adyen": (r"\d{16}", "pspReference={}"),
    "braintree": (r"[a-z0-9]{8}", "transaction_id={}"),
    "authorize_net": (r"[1-9]\d{10}", '"transId":"{}"'),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_ids_support_needs_survive_ticket_rendering(data: st.DataObject) -> None:
    gateway = data.draw(st.sampled_from(GATEWAYS))
    shape, in_log = ID_SHAPES[gateway]
    ids = data.draw(
        st.lists(st.from_regex(shape, fullmatch=True), min_size=1, max_size=3, unique=True)
    )
    finding = _finding(
        gateway=gateway,
        examples=tuple(
            f"2026-03-01T10:00:02Z ERROR payment failed {in_log.format(i)}" for i in ids
        ),
        request_ids=tuple(ids) if gateway in ("stripe", "paypal") else (),
    )
    report = _report(finding)
    for template in TEMPLATE_NAMES:
        out = build_ticket(report, TicketOptions(), template)
        for value in ids:
            assert value in out, (gateway, template, value)


_SEPARATORS = st.sampled_from(["", " ", "-"])


@st.composite
def card_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A Luhn-valid card number (15 or 16 digits) and how it was written."""
    length = draw(st.sampled_from([15, 16]))
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    body = draw(st.sampled_from("3456")) + body[1:]
    check = next(str(d) for d in range(10) if _luhn(body + str(d)))
    digits = body + check
    sep = draw(_SEPARATORS)
    groups = (
        (digits[:4], digits[4:10], digits[10:])
        if length == 15
        else (digits[0:4], digits[4:8], digits[8:12], digits[12:16])
    )
    return digits, sep.join(groups)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(card=card_numbers(), where=st.sampled_from(["example", "tried", "merchant", "transaction"]))
def test_no_luhn_valid_card_number_survives_in_any_ticket(
    card: tuple[str, str], where: str
) -> None:
    digits, written = card
    finding = _finding(
        examples=(f"2026-03-01T10:00:02Z ERROR charge failed paid with {written} today",)
        if where == "example"
        else ("x",),
        transactions=(written,) if where == "transaction" else ("ORD-1",),
    )
    options = TicketOptions(
        tried=(f"Retried card {written} by hand",) if where == "tried" else (),
        merchant_id=written if where == "merchant" else None,
    )
    for template in TEMPLATE_NAMES:
        out = build_ticket(_report(finding), options, template)
        assert written not in out
        assert digits not in re.sub(r"(?<=\d)[ -](?=\d)", "", out), (template, where)
