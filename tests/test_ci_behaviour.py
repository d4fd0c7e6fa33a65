"""paydiag as a CI step: exit codes, --baseline, the config file and its precedence, --quiet,
and redaction of planted secrets in every output format."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from paydiag import cli
from paydiag.catalog import LoadResult
from paydiag.cli import app

from .conftest import SAMPLE_LOGS

FORMATS = ("text", "json", "sarif", "junit", "github", "markdown")
LOW_ONLY = (
    '2026-03-01T10:00:02Z ERROR payment failed {"error":{"code":"card_declined",'
    '"decline_code":"insufficient_funds","type":"card_error"}}\n'
)
ACME_RULES = """\
gateway: acme
name: Acme Pay
docs: https://example.com/acme/errors
rules:
  - id: acme.vault_sealed
    code: VAULT_SEALED
    title: Acme vault is sealed
    category: config_environment
    severity: critical
    fault: merchant_config
    retry: after_fix
    match:
      patterns: ['acme_error=VAULT_SEALED']
    explanation: The Acme token vault is sealed, so no card can be charged.
    causes: [The vault was sealed after a key rotation.]
    fixes: [Unseal the vault in the Acme dashboard.]
    support: [The Acme request id.]
    references: ['https://example.com/acme/errors#vault-sealed']
    examples:
      match: ['2026-03-01T10:00:00Z ERROR charge failed acme_error=VAULT_SEALED']
      no_match: ['2026-03-01T10:00:00Z INFO charge ok']
"""
ACME_LOG = (
    "2026-03-01T10:00:00Z ERROR charge failed acme_error=VAULT_SEALED basket BK-778899 "
    "edge-req-abcdef123456 account acct-12345678\n"
)


def _sample_line(name: str, number: int) -> str:
    lines = (SAMPLE_LOGS / name).read_text(encoding="utf-8").splitlines()
    return lines[number - 1] + "\n"


# Critical, high and low findings of three gateways and an unrecognised error: the shapes of
# the sample logs, in a few lines (quicker to analyse dozens of times).
MIXED = (
    _sample_line("payments-service.log", 58)  # amazon_pay.invalid_request_signature
    + _sample_line("checkout-api.jsonl", 8)  # stripe.rate_limit
    + _sample_line("paypal-worker.log", 2)  # paypal.instrument_declined
    + _sample_line("payments-service.log", 47)  # an error no rule knows
)
_LOADED: dict[tuple[tuple[str, ...], bool], LoadResult] = {}


@pytest.fixture(autouse=True)
def catalog_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each CLI run loads and validates the whole catalog (about a second); these tests run
    the CLI often, so each rule set is loaded once. Nothing changes a loaded catalog."""
    real = cli.load_catalog

    def load(extra: Any = (), *, builtin: bool = True) -> LoadResult:
        key = (tuple(str(path) for path in extra), builtin)
        if key not in _LOADED:
            _LOADED[key] = real(extra, builtin=builtin)
        return _LOADED[key]

    monkeypatch.setattr(cli, "load_catalog", load)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root to run in (config discovery stops at its .git), with payments.log."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "payments.log").write_text(MIXED, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, ["analyze", *args])


def findings(result: Any) -> dict[str, dict[str, Any]]:
    assert result.exit_code in (0, 1), result.stderr
    return {f["rule_id"]: f for f in json.loads(result.stdout)["findings"]}


def one_line_error(result: Any, *fragments: str) -> None:
    """Exit 2 with one `paydiag: ...` line naming what and where, and no traceback."""
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("paydiag: "), result.stderr
    assert all(fragment in lines[0] for fragment in fragments), lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [("critical", 0), ("high", 0), ("medium", 0), ("low", 1), ("info", 1), ("never", 0)],
)
def test_exit_code_follows_fail_on_for_a_low_finding(
    runner: CliRunner, workspace: Path, fail_on: str, expected: int
) -> None:
    (workspace / "app.log").write_text(LOW_ONLY)
    result = run(runner, "app.log", "--fail-on", fail_on, "-f", "json")
    assert set(findings(result)) == {"stripe.insufficient_funds"}
    assert result.exit_code == expected


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [("critical", 1), ("high", 1), ("medium", 1), ("low", 1), ("info", 1), ("never", 0)],
)
def test_exit_code_follows_fail_on_for_a_critical_finding(
    runner: CliRunner, workspace: Path, fail_on: str, expected: int
) -> None:
    result = run(runner, "payments.log", "--fail-on", fail_on, "-f", "github")
    assert result.exit_code == expected


def test_default_fail_on_is_high(runner: CliRunner, workspace: Path) -> None:
    (workspace / "app.log").write_text(LOW_ONLY)
    assert run(runner, "app.log", "-f", "json").exit_code == 0
    assert run(runner, "payments.log", "-f", "json").exit_code == 1


def test_unreadable_input_exits_2_even_with_fail_on_never(
    runner: CliRunner, workspace: Path
) -> None:
    assert run(runner, "missing.log", "--fail-on", "never").exit_code == 2


# --- baseline ------------------------------------------------------------------------------


def test_baseline_findings_are_known_and_do_not_fail(runner: CliRunner, workspace: Path) -> None:
    saved = run(runner, "payments.log", "--format", "json", "-o", "baseline.json")
    assert saved.exit_code == 1
    again = run(runner, "payments.log", "--baseline", "baseline.json", "-f", "json")
    assert again.exit_code == 0
    marked = findings(again)
    assert marked and all(f["known"] for f in marked.values())
    text = run(runner, "payments.log", "--baseline", "baseline.json", "--fail-on", "low")
    assert text.exit_code == 0
    assert "(known)" in text.stdout


def test_a_finding_missing_from_the_baseline_still_fails(
    runner: CliRunner, workspace: Path
) -> None:
    run(runner, "payments.log", "-f", "json", "-o", "baseline.json")
    saved = json.loads(Path("baseline.json").read_text())
    worst = saved["findings"].pop(0)["rule_id"]
    Path("baseline.json").write_text(json.dumps(saved))
    result = run(runner, "payments.log", "--baseline", "baseline.json", "-f", "json")
    assert result.exit_code == 1
    marked = findings(result)
    assert not marked[worst]["known"]
    assert all(f["known"] for rule_id, f in marked.items() if rule_id != worst)
    sarif = run(runner, "payments.log", "--baseline", "baseline.json", "-f", "sarif")
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    states = {r["ruleId"]: r.get("baselineState") for r in results}
    assert states[worst] == "new"
    assert {states[rule_id] for rule_id in marked if rule_id != worst} == {"unchanged"}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "no such baseline file"),
        ("{not json", "invalid JSON"),
        ("[1, 2]", "not a paydiag JSON report"),
        ('{"schema_version": 1, "findings": [{"code": "x"}]}', "findings[0]: no rule_id"),
        ('{"schema_version": 99, "findings": []}', "newer paydiag"),
    ],
    ids=["missing", "not-json", "not-a-report", "no-rule-id", "newer"],
)
def test_a_bad_baseline_is_one_line_and_exit_2(
    runner: CliRunner, workspace: Path, content: str | None, fragment: str
) -> None:
    if content is not None:
        Path("baseline.json").write_text(content)
    result = run(runner, "payments.log", "--baseline", "baseline.json")
    one_line_error(result, "baseline.json", fragment)


# --- config file and precedence -----------------------------------------------------------


def test_config_fail_on_applies_and_the_flag_wins(runner: CliRunner, workspace: Path) -> None:
    Path("paydiag.toml").write_text('fail_on = "never"\n')
    assert run(runner, "payments.log", "-f", "json").exit_code == 0
    assert run(runner, "payments.log", "-f", "json", "--fail-on", "high").exit_code == 1
    (workspace / "app.log").write_text(LOW_ONLY)
    Path("paydiag.toml").write_text('fail_on = "low"\n')
    assert run(runner, "app.log", "-f", "json").exit_code == 1
    assert run(runner, "app.log", "-f", "json", "--fail-on", "medium").exit_code == 0


def test_config_format_applies_and_the_flag_wins(runner: CliRunner, workspace: Path) -> None:
    Path("paydiag.toml").write_text('format = "junit"\n')
    assert run(runner, "payments.log").stdout.startswith("<?xml")
    assert run(runner, "payments.log", "-f", "markdown").stdout.startswith("## paydiag")


def test_config_disables_rules_by_id_and_glob(runner: CliRunner, workspace: Path) -> None:
    before = findings(run(runner, "payments.log", "-f", "json"))
    assert "amazon_pay.invalid_request_signature" in before
    assert any(rule_id.startswith("stripe.") for rule_id in before)
    Path("paydiag.toml").write_text(
        'disable = ["amazon_pay.invalid_request_signature", "stripe.*"]\n'
    )
    after = findings(run(runner, "payments.log", "-f", "json"))
    assert "amazon_pay.invalid_request_signature" not in after
    assert not any(rule_id.startswith("stripe.") for rule_id in after)
    assert "paypal.instrument_declined" in after
    # The generic HTTP rules now recognise the lines the disabled rules knew.
    assert {"http.401", "http.429"} <= set(after)
    Path("paydiag.toml").write_text('disable = ["amazon_pay.*", "stripe.*", "http.*"]\n')
    assert set(findings(run(runner, "payments.log", "-f", "json"))) == {
        "paypal.instrument_declined"
    }


def test_config_severity_overrides_change_findings_and_exit_code(
    runner: CliRunner, workspace: Path
) -> None:
    (workspace / "app.log").write_text(LOW_ONLY)
    # A bare dotted key is a nested TOML table; it names the rule id all the same.
    Path("paydiag.toml").write_text('[severity]\nstripe.insufficient_funds = "critical"\n')
    result = run(runner, "app.log", "-f", "json")
    assert findings(result)["stripe.insufficient_funds"]["severity"] == "critical"
    assert result.exit_code == 1
    Path("paydiag.toml").write_text('[severity]\n"stripe.*" = "info"\n')
    overridden = findings(run(runner, "app.log", "-f", "json"))["stripe.insufficient_funds"]
    assert overridden["severity"] == "info"


def test_config_rules_dirs_are_relative_to_the_config_and_the_flag_wins(
    runner: CliRunner, workspace: Path
) -> None:
    (workspace / "ci" / "rules").mkdir(parents=True)
    (workspace / "ci" / "rules" / "acme.yaml").write_text(ACME_RULES)
    (workspace / "ci" / "paydiag.toml").write_text('rules = ["rules"]\n')
    (workspace / "app.log").write_text(ACME_LOG)
    with_config = run(runner, "app.log", "-f", "json", "--config", "ci/paydiag.toml")
    assert "acme.vault_sealed" in findings(with_config)
    assert with_config.exit_code == 1
    (workspace / "empty").mkdir()
    flag = run(runner, "app.log", "-f", "json", "--config", "ci/paydiag.toml", "--rules", "empty")
    assert "acme.vault_sealed" not in findings(flag)


def test_config_id_patterns_name_transactions_and_requests(
    runner: CliRunner, workspace: Path
) -> None:
    (workspace / "rules").mkdir()
    (workspace / "rules" / "acme.yaml").write_text(ACME_RULES)
    (workspace / "app.log").write_text(ACME_LOG)
    Path("paydiag.toml").write_text(
        'rules = ["rules"]\n'
        "[id_patterns]\n"
        "basket = 'BK-[0-9]{6}'\n"
        "request_edge = 'edge-req-([a-f0-9]{12})'\n"
    )
    finding = findings(run(runner, "app.log", "-f", "json"))["acme.vault_sealed"]
    assert finding["transactions"] == ["BK-778899"]
    assert finding["request_ids"] == ["abcdef123456"]


def test_config_redact_patterns_apply_to_every_format(runner: CliRunner, workspace: Path) -> None:
    (workspace / "rules").mkdir()
    (workspace / "rules" / "acme.yaml").write_text(ACME_RULES)
    (workspace / "app.log").write_text(ACME_LOG)
    Path("paydiag.toml").write_text("rules = [\"rules\"]\nredact_patterns = ['acct-[0-9]{8}']\n")
    for fmt in FORMATS:
        result = run(runner, "app.log", "-f", fmt)
        assert result.exit_code == 1, (fmt, result.stderr)
        assert "12345678" not in result.stdout, fmt
    example = findings(run(runner, "app.log", "-f", "json"))["acme.vault_sealed"]["examples"][0]
    assert "account [REDACTED]" in example


def test_pyproject_tool_table_is_found_from_a_subfolder(
    runner: CliRunner, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("pyproject.toml").write_text(
        '[project]\nname = "shop"\n[tool.paydiag]\nfail_on = "never"\n'
    )
    (workspace / "logs").mkdir()
    monkeypatch.chdir(workspace / "logs")
    assert run(runner, "../payments.log", "-f", "json").exit_code == 0


def test_discovery_stops_at_the_repository_root(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "paydiag.toml").write_text('fail_on = "never"\n')  # above the repository
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "payments.log").write_text(MIXED, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "repo")
    assert run(runner, "payments.log", "-f", "json").exit_code == 1


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ('fail_on = "urgent"\n', "fail_on: 'urgent' is not one of critical"),
        ('colour = "red"\n', "unknown key 'colour'"),
        ('[severity]\n"stripe.rate_limit" = "urgent"\n', "severity: 'urgent' is not one of"),
        ("redact_patterns = ['acct-[0-9']\n", "redact_patterns: pattern: invalid regex"),
        ("[id_patterns]\nbasket = '(BK'\n", "id_patterns: basket: invalid regex"),
        ("[id_patterns]\nbasket = 'x*'\n", "matches the empty string"),
        ('disable = ["stripe.no_such_rule"]\n', "disable: 'stripe.no_such_rule' matches no rule"),
        ('[severity]\n"nope.*" = "low"\n', "severity: 'nope.*' matches no rule"),
        ('rules = ["missing-dir"]\n', "missing-dir does not exist"),
        ('disable = "stripe.rate_limit"\n', "disable: expected a list"),
        ('format = "pdf"\n', "format: 'pdf' is not one of"),
        ("fail_on = \n", "not valid TOML"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(
    runner: CliRunner, workspace: Path, config: str, fragment: str
) -> None:
    Path("paydiag.toml").write_text(config)
    one_line_error(run(runner, "payments.log"), "paydiag.toml", fragment)


def test_a_missing_config_file_is_one_line_and_exit_2(runner: CliRunner, workspace: Path) -> None:
    one_line_error(run(runner, "payments.log", "--config", "nope.toml"), "nope.toml")


# --- quiet ---------------------------------------------------------------------------------


def test_quiet_text_is_the_headline_and_the_findings_table(
    runner: CliRunner, workspace: Path
) -> None:
    full = run(runner, "payments.log").stdout
    quiet = run(runner, "payments.log", "--quiet")
    assert quiet.exit_code == 1
    headline = quiet.stdout.splitlines()[0]
    assert headline.startswith("critical: ") and headline.split(" (")[0] in full
    assert "Findings, worst first" in quiet.stdout
    for detail in ("Likely causes", "Fixes, in order", "Unrecognised errors", "╭"):
        assert detail in full and detail not in quiet.stdout
    assert run(runner, "payments.log", "--quiet", "-f", "json").stdout.startswith("{")


# --- planted secrets -----------------------------------------------------------------------

PLANTED = (
    "2026-03-01T10:00:02Z ERROR payment failed for jane.doe@example.com "
    "card=4111 1111 1111 1111 cvv=123 "
    '{"error":{"code":"card_declined","decline_code":"insufficient_funds","type":"card_error"}} '
    "Authorization: Bearer tok9fKq2LmZx81PqRsTvW\n"
    "2026-03-01T10:00:03Z ERROR stripe call failed key=sk_live_51HxAbCdEfGhIjKlMnOpQrStUv "
    '{"error":{"code":"rate_limit","type":"invalid_request_error",'
    '"message":"Request rate limit exceeded"}} customer_email=jane.doe@example.com\n'
    "2026-03-01T10:00:04Z ERROR checkout exploded card_number=4111111111111111 "
    '"cvc": "987" for jane.doe@example.com Bearer tok9fKq2LmZx81PqRsTvW\n'
)
SECRETS = (
    "4111 1111 1111 1111",
    "4111111111111111",
    "cvv=123",
    '"987"',
    "sk_live_51HxAbCdEfGhIjKlMnOpQrStUv",
    "51HxAbCdEfGh",
    "tok9fKq2LmZx81PqRsTvW",
    "jane.doe@example.com",
    "jane.doe",
)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("quiet", [False, True], ids=["full", "quiet"])
def test_planted_secrets_never_leave_any_format(
    runner: CliRunner, workspace: Path, fmt: str, quiet: bool
) -> None:
    (workspace / "payments.log").write_text(PLANTED)
    args = ["payments.log", "-f", fmt, "--fail-on", "never", *(["--quiet"] if quiet else [])]
    result = run(runner, *args)
    assert result.exit_code == 0, result.stderr
    assert "rate_limit" in result.stdout  # the findings are there: the test is not vacuous
    leaked = [secret for secret in SECRETS if secret in result.stdout]
    assert not leaked, f"{fmt} leaked {leaked}"
    written = run(runner, *args, "-o", f"report.{fmt}")
    leaked = [s for s in SECRETS if s in Path(f"report.{fmt}").read_text(encoding="utf-8")]
    assert written.exit_code == 0 and not leaked, f"{fmt} -o leaked {leaked}"


def test_planted_secrets_are_replaced_by_markers(runner: CliRunner, workspace: Path) -> None:
    (workspace / "payments.log").write_text(PLANTED)
    report = json.loads(run(runner, "payments.log", "-f", "json").stdout)
    examples = " ".join(e for f in report["findings"] for e in f["examples"])
    for kind in ("email", "card", "cvv"):
        assert re.search(rf"\[REDACTED:{kind}", examples), kind
