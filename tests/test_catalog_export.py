"""Rules that checkout code can act on: retry advice, shopper messages, exports (issue 9)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paydiag.catalog import Catalog, load_catalog
from paydiag.catalog.coverage import coverage_table, replace_block
from paydiag.cli import app

from .conftest import ROOT

# Gateways' own soft/hard decline classification, and the retry advice it implies.
DOCUMENTED_RETRY = [
    # Braintree processor_response_type soft_declined / hard_declined
    ("braintree.soft_declined", "later"),
    ("braintree.hard_declined", "new_method"),
    ("braintree.2001", "later"),  # Insufficient Funds: soft
    ("braintree.2004", "new_method"),  # Expired Card: hard
    # Stripe advice_code values
    ("stripe.advice_code.try_again_later", "later"),
    ("stripe.advice_code.do_not_try_again", "no"),
    ("stripe.stolen_card", "no"),
    # Amazon Pay charge states
    ("amazon_pay.soft_declined", "later"),
    ("amazon_pay.hard_declined", "new_method"),
    # ISO 8583 / Visa decline categories: 2 = retry later, 1 = never the same card
    ("iso8583.51", "later"),
    ("iso8583.91", "later"),
    ("iso8583.41", "new_method"),
]


@pytest.mark.parametrize(("rule_id", "retry"), DOCUMENTED_RETRY)
def test_soft_and_hard_declines_follow_the_gateways_classification(
    catalog: Catalog, rule_id: str, retry: str
) -> None:
    rule = catalog.get(rule_id)
    assert rule is not None, rule_id
    assert rule.retry == retry


def test_every_rule_has_retry_advice(catalog: Catalog) -> None:
    assert all(rule.retry in ("no", "after_fix", "later", "new_method") for rule in catalog.rules)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_export_round_trips_to_the_same_rules(
    runner: CliRunner, catalog: Catalog, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / f"export.{fmt}"
    result = runner.invoke(app, ["rules", "export", "--format", fmt, "-o", str(target)])
    assert result.exit_code == 0, result.output
    loaded = load_catalog([target], builtin=False)
    assert loaded.problems == ()
    assert [r.to_dict() for r in loaded.catalog.rules] == [r.to_dict() for r in catalog.rules]


def test_json_export_carries_schema_version_and_filters(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["rules", "export", "--gateway", "stripe", "--category", "decline_insufficient_funds"]
    )
    document = json.loads(result.output)
    assert document["schema_version"] == 1
    assert {rule["gateway"] for rule in document["rules"]} == {"stripe"}
    assert all(rule["shopper_message"] for rule in document["rules"])


def test_csv_export_maps_codes_to_retry_and_shopper_message(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "export", "--format", "csv", "--gateway", "braintree"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    by_code = {row["code"]: row for row in rows}
    assert by_code["2001"]["retry"] == "later"
    assert by_code["2001"]["shopper_message"]


def test_rules_list_json_has_the_documented_fields(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "list", "--format", "json", "--gateway", "paypal"])
    rules = json.loads(result.output)
    assert rules and all(rule["gateway"] == "paypal" for rule in rules)
    for key in (
        "id",
        "gateway",
        "code",
        "aliases",
        "category",
        "severity",
        "fault",
        "title",
        "references",
    ):
        assert key in rules[0]


def test_readme_coverage_table_is_fresh(catalog: Catalog) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert replace_block(readme, coverage_table(catalog)) == readme, (
        "README coverage table is stale: run python scripts/update_readme.py"
    )
