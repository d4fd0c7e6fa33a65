"""`paydiag explain CODE`: the troubleshooting page for any code the catalog knows."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from paydiag.catalog import Catalog
from paydiag.catalog.lookup import find_rules
from paydiag.cli import app

SEED_CODES = [
    ("InvalidParameterValue", "amazon_pay"),
    ("TransactionTimedOut", "amazon_pay"),
    ("InvalidRequestSignature", "amazon_pay"),
    ("CurrencyMismatch", "amazon_pay"),
    ("TransactionAmountExceeded", "amazon_pay"),
    ("insufficient_funds", "stripe"),
    ("expired_card", "stripe"),
    ("card_declined", "stripe"),
    ("INSTRUMENT_DECLINED", "paypal"),
    ("invalid_token", "oauth2"),
]


def test_every_code_and_alias_in_the_catalog_is_found(catalog: Catalog) -> None:
    for rule in catalog.rules:
        for name in rule.names:
            found = find_rules(catalog, name, rule.gateway)
            assert rule in found, f"{name!r} does not find {rule.id}"
            assert rule in find_rules(catalog, name.swapcase()), f"{name!r} is case-sensitive"


@pytest.mark.parametrize(("code", "gateway"), SEED_CODES)
def test_seed_codes_have_a_full_page(runner: CliRunner, code: str, gateway: str) -> None:
    result = runner.invoke(app, ["explain", code, "--gateway", gateway])
    assert result.exit_code == 0, result.output
    page = result.output
    for heading in (
        "Likely causes:",
        "Fixes, in order:",
        "What support will ask for:",
        "References:",
        "Who must act:",
        "Retry:",
    ):
        assert heading in page
    assert "  1. " in page
    assert "For more information about this error, see https://" in page


def test_shared_code_shows_every_gateway_unless_one_is_named(runner: CliRunner) -> None:
    both = runner.invoke(app, ["explain", "InvalidParameterValue", "--format", "json"])
    gateways = {rule["gateway"] for rule in json.loads(both.output)}
    assert gateways >= {"amazon_pay", "paypal"}  # v2, MWS and PayPal's INVALID_PARAMETER_VALUE
    one = runner.invoke(
        app, ["explain", "invalid_client", "--gateway", "paypal", "--format", "json"]
    )
    assert {rule["gateway"] for rule in json.loads(one.output)} == {"paypal"}


def test_lookup_ignores_case_and_punctuation(runner: CliRunner) -> None:
    result = runner.invoke(app, ["explain", "Insufficient-Funds", "--gateway", "stripe"])
    assert result.exit_code == 0
    assert "stripe.insufficient_funds" in result.output


def test_unknown_code_exits_1_with_suggestions(runner: CliRunner) -> None:
    result = runner.invoke(app, ["explain", "insufficent_funds"])
    assert result.exit_code == 1
    assert "unknown error code 'insufficent_funds'" in result.output
    assert "did you mean: insufficient_funds" in result.output
    assert "Traceback" not in result.output


def test_markdown_page_has_numbered_fixes_and_a_link(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["explain", "INSTRUMENT_DECLINED", "--gateway", "paypal", "--format", "markdown"]
    )
    assert result.exit_code == 0
    assert result.output.startswith("# INSTRUMENT_DECLINED")
    assert "## Fixes, in order\n\n1. " in result.output
    assert "## What to tell the shopper" in result.output
    assert "For more information about this error, see <https://" in result.output


def test_json_page_is_the_rule_as_data(runner: CliRunner, catalog: Catalog) -> None:
    result = runner.invoke(app, ["explain", "2001", "--gateway", "braintree", "--format", "json"])
    (rule,) = json.loads(result.output)
    assert rule["id"] == "braintree.2001"
    assert rule == catalog.get("braintree.2001").to_dict()  # type: ignore[union-attr]


def test_version_and_help(runner: CliRunner) -> None:
    assert runner.invoke(app, ["--version"]).output.startswith("paydiag ")
    for command in (
        ["analyze"],
        ["explain"],
        ["rules", "list"],
        ["rules", "validate"],
        ["rules", "test"],
        ["rules", "export"],
        ["rules", "patterns"],
    ):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Example" in result.output, command
