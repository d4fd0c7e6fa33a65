"""Every way a rule file can be broken is reported as file:line, rule id, message; exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paydiag.catalog import load_catalog
from paydiag.cli import app

from .conftest import FIXTURES

GOOD = FIXTURES / "catalogs" / "good" / "stripe_min.yaml"


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = GOOD.read_text()
    assert old in text, old
    target = tmp_path / "rules.yaml"
    target.write_text(text.replace(old, new, 1))
    return target


def validate(runner: CliRunner, path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["rules", "validate", str(path)])
    return result.exit_code, result.output


def test_good_catalog_validates(runner: CliRunner) -> None:
    code, output = validate(runner, GOOD)
    assert code == 0, output
    assert "2 rules in 1 files: 0 errors, 0 warnings" in output


@pytest.mark.parametrize(
    ("old", "new", "line", "rule_id", "message"),
    [
        ("    title: Card declined\n", "    title: [Card declined\n", 8, None, "YAML syntax error"),
        (
            "    severity: low\n    fault: issuer",
            "    severity: low\n    colour: red\n    fault: issuer",
            10,
            "stripe.card_declined",
            "unknown field: 'colour' was unexpected",
        ),
        (
            "    title: Card declined\n",
            "",
            5,
            "stripe.card_declined",
            "'title' is a required property",
        ),
        (
            "category: decline_generic",
            "category: declined",
            8,
            "stripe.card_declined",
            "category: 'declined' is not one of invalid_request",
        ),
        (
            "    severity: low\n    fault: issuer",
            "    severity: urgent\n    fault: issuer",
            9,
            "stripe.card_declined",
            "severity: 'urgent' is not one of critical",
        ),
        (
            "references: [https://docs.stripe.com/error-codes#card-declined]",
            "references: []",
            21,
            "stripe.card_declined",
            "references: [] should be non-empty",
        ),
        (
            "  - id: stripe.insufficient_funds",
            "  - id: stripe.card_declined",
            27,
            "stripe.card_declined",
            "duplicate rule id (first defined at",
        ),
        (
            '\'"code":\\s*"card_declined"\'',
            '\'"code":\\s*("card_declined"\'',
            16,
            "stripe.card_declined",
            "does not compile: missing ), unterminated subpattern",
        ),
        (
            '\'"code":\\s*"card_declined"\'',
            '\'"code":(?=x)"card_declined"\'',
            16,
            "stripe.card_declined",
            "look-arounds are not portable",
        ),
        (
            '\'"code":\\s*"card_declined"\'',
            "'\\d+x'",
            16,
            "stripe.card_declined",
            "needs a literal run of at least 3 characters",
        ),
        (
            '\'ERROR stripe {"error":{"code":"card_declined","type":"card_error"}}\'',
            '\'ERROR stripe {"error":{"code":"expired_card"}}\'',
            5,
            "stripe.card_declined",
            "examples.match not matched",
        ),
        (
            "'INFO stripe charge succeeded'",
            '\'INFO stripe {"code":"card_declined"}\'',
            5,
            "stripe.card_declined",
            "examples.no_match matched",
        ),
        (
            "    shopper_message: Your card was declined. Please try another payment method.\n",
            "",
            5,
            "stripe.card_declined",
            "'shopper_message' is a required property",
        ),
    ],
)
def test_broken_rule_is_reported_with_location_and_exit_3(
    runner: CliRunner,
    tmp_path: Path,
    old: str,
    new: str,
    line: int,
    rule_id: str | None,
    message: str,
) -> None:
    path = broken_copy(tmp_path, old, new)
    code, output = validate(runner, path)
    assert code == 3, output
    location = f"{path}:{line}:"
    matching = [row for row in output.splitlines() if row.startswith(location) and message in row]
    assert matching, f"expected {location} ... {message!r} in:\n{output}"
    if rule_id:
        assert f"[{rule_id}]" in matching[0]
    assert "Traceback" not in output


def test_shadowed_example_is_a_warning_not_an_error(runner: CliRunner, tmp_path: Path) -> None:
    path = broken_copy(tmp_path, "    priority: 10\n", "")
    code, output = validate(runner, path)
    assert code == 0, output
    assert "warning: examples.match is won by stripe.card_declined" in output


def test_missing_rules_dir_is_a_catalog_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["explain", "x", "--rules", str(tmp_path / "nope")])
    assert result.exit_code == 3
    assert "no such file or directory" in result.output


def test_broken_extra_rules_stop_explain_with_exit_3(runner: CliRunner, tmp_path: Path) -> None:
    path = broken_copy(tmp_path, "severity: low", "severity: [")
    result = runner.invoke(app, ["explain", "card_declined", "--rules", str(path)])
    assert result.exit_code == 3
    assert f"{path}:" in result.output
    assert "the rule catalog has 1 error(s)" in result.output


def test_extra_rules_override_builtin_rules_by_id(tmp_path: Path) -> None:
    builtin = load_catalog().catalog
    victim = builtin.rules[0]
    text = (
        GOOD.read_text()
        .replace("id: stripe.card_declined", f"id: {victim.id}", 1)
        .replace("id: stripe.insufficient_funds", "id: fixture.brand_new_rule", 1)
    )
    (tmp_path / "override.yaml").write_text(text)
    merged = load_catalog([tmp_path]).catalog
    assert len(merged) == len(builtin) + 1  # one override, one new rule
    overridden = merged.get(victim.id)
    assert overridden is not None
    assert overridden.title == "Card declined"
    assert overridden.source.path.endswith("override.yaml")


def test_a_file_that_is_not_a_mapping_is_reported(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    code, output = validate(runner, path)
    assert code == 3
    assert f"{path}:1:" in output
