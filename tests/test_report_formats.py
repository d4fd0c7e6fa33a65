"""The CI output formats (SARIF, JUnit, GitHub annotations, Markdown) on the sample logs.

SARIF is validated against the official SARIF 2.1.0 JSON Schema, vendored as data in
tests/data/ (its source is recorded in tests/data/README.md).
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydiag.analysis import analyze
from paydiag.baseline import mark_known
from paydiag.catalog import Catalog
from paydiag.redact import redact
from paydiag.report import REPORTERS, RenderOptions
from paydiag.report.github import GithubReporter, escape_data, escape_property
from paydiag.report.junit import JunitReporter
from paydiag.report.markdown import MarkdownReporter
from paydiag.report.model import Finding, Location, Report, Summary, Unrecognised
from paydiag.report.sarif import SARIF_SCHEMA, UNRECOGNISED_RULE, SarifReporter

from .conftest import ROOT, SAMPLE_LOGS

SARIF_SCHEMA_FILE = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
OPTIONS = RenderOptions()
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# A workflow command: ::level key=value,key=value::message, values escaped (no raw : , CR LF).
COMMAND = re.compile(
    r"::(?P<level>error|warning|notice)"
    r"(?: (?P<props>[a-zA-Z]+=[^:,\r\n]*(?:,[a-zA-Z]+=[^:,\r\n]*)*))?"
    r"::(?P<message>[^\r\n]*)"
)


@pytest.fixture(scope="module")
def report(catalog: Catalog) -> Report:
    return analyze([str(SAMPLE_LOGS)], catalog)


@pytest.fixture(scope="module")
def known_report(report: Report) -> Report:
    """The sample report with its worst finding known from a baseline."""
    return mark_known(report, frozenset({report.findings[0].rule_id}), "baseline.json")


def sarif(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SarifReporter(base=ROOT).render(report, OPTIONS))
    return document


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SARIF_SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def test_every_ci_format_is_registered() -> None:
    assert {"text", "json", "sarif", "junit", "github", "markdown"} <= set(REPORTERS)


# --- SARIF ---------------------------------------------------------------------------------


def test_vendored_schema_is_the_official_sarif_2_1_0_schema() -> None:
    schema = json.loads(SARIF_SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    assert schema["id"] == SARIF_SCHEMA
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


@pytest.mark.parametrize("baseline", [False, True], ids=["plain", "with-baseline"])
def test_sarif_validates_against_the_official_schema(
    report: Report, known_report: Report, baseline: bool
) -> None:
    document = sarif(known_report if baseline else report)
    errors = sorted(sarif_validator().iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])
    assert document["version"] == "2.1.0"


def test_sarif_has_one_descriptor_per_rule_that_fired(report: Report) -> None:
    run = sarif(report)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "paydiag"
    assert driver["version"] == report.tool_version
    assert driver["informationUri"].startswith("https://")
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == [f.rule_id for f in report.findings] + [UNRECOGNISED_RULE]
    for finding, rule in zip(report.findings, driver["rules"], strict=False):
        assert rule["shortDescription"]["text"] == finding.title
        assert rule["fullDescription"]["text"] == finding.explanation
        assert rule["helpUri"] == finding.references[0]
        assert finding.fixes[0] in rule["help"]["text"]
        assert "1. " in rule["help"]["text"] and "**Fixes, in order**" in rule["help"]["markdown"]
        assert rule["properties"]["category"] == finding.category
        assert rule["properties"]["gateway"] == finding.gateway
        assert rule["properties"]["severity"] == finding.severity
        assert finding.gateway in rule["properties"]["tags"]


def test_sarif_results_point_at_log_file_and_line(report: Report) -> None:
    run = sarif(report)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = [r for r in run["results"] if r["ruleId"] != UNRECOGNISED_RULE]
    assert len(results) == len(report.findings)
    for finding, result in zip(report.findings, results, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.rule_id
        assert result["level"] == LEVEL[finding.severity]
        assert f"{finding.count}×" in result["message"]["text"]
        assert finding.fixes[0] in result["message"]["text"]
        assert result["partialFingerprints"] == {"paydiag/v1": finding.rule_id}
        primary = result["locations"][0]["physicalLocation"]
        first = finding.locations[0]
        expected = Path(first.path).relative_to(ROOT).as_posix()
        assert primary["artifactLocation"] == {"uri": expected, "uriBaseId": "SRCROOT"}
        assert primary["region"] == {"startLine": first.line}
        assert len(result.get("relatedLocations", [])) == len(set(finding.locations)) - 1
        assert "baselineState" not in result
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == ROOT.as_uri() + "/"


def test_sarif_unrecognised_errors_are_notes(report: Report) -> None:
    results = sarif(report)["runs"][0]["results"]
    notes = [r for r in results if r["ruleId"] == UNRECOGNISED_RULE]
    assert len(notes) == len(report.unrecognised) > 0
    assert {r["level"] for r in notes} == {"note"}
    assert len({r["partialFingerprints"]["paydiag/v1"] for r in notes}) == len(notes)


def test_sarif_baseline_state_marks_known_findings_unchanged(known_report: Report) -> None:
    results = sarif(known_report)["runs"][0]["results"]
    states = {r["ruleId"]: r["baselineState"] for r in results if "baselineState" in r}
    assert states[known_report.findings[0].rule_id] == "unchanged"
    assert {states[f.rule_id] for f in known_report.findings[1:]} == {"new"}


def test_sarif_paths_outside_the_workspace_are_file_uris(report: Report, tmp_path: Path) -> None:
    document = json.loads(SarifReporter(base=tmp_path).render(report, OPTIONS))
    location = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].startswith("file:///")
    assert "uriBaseId" not in location["artifactLocation"]


# --- JUnit ---------------------------------------------------------------------------------

# What the JUnit XML schema (Jenkins junit-10.xsd, as GitLab reads it) allows where we write.
JUNIT_ATTRIBUTES = {
    "testsuites": {"name", "tests", "failures", "errors", "skipped", "time"},
    "testsuite": {"name", "tests", "failures", "errors", "skipped", "time"},
    "properties": set(),
    "property": {"name", "value"},
    "testcase": {"name", "classname", "time"},
    "failure": {"message", "type"},
    "skipped": {"message"},
}
JUNIT_CHILDREN = {
    "testsuites": {"testsuite"},
    "testsuite": {"properties", "testcase"},
    "properties": {"property"},
    "testcase": {"failure", "skipped"},
}


def junit(report: Report) -> ET.Element:
    text = JunitReporter(base=ROOT).render(report, OPTIONS)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def assert_junit_structure(element: ET.Element) -> None:
    assert element.tag in JUNIT_ATTRIBUTES, element.tag
    assert set(element.attrib) <= JUNIT_ATTRIBUTES[element.tag], element.attrib
    for child in element:
        assert child.tag in JUNIT_CHILDREN.get(element.tag, set()), (element.tag, child.tag)
        assert_junit_structure(child)


@pytest.mark.parametrize("baseline", [False, True], ids=["plain", "with-baseline"])
def test_junit_counts_match_the_findings(
    report: Report, known_report: Report, baseline: bool
) -> None:
    chosen = known_report if baseline else report
    root = junit(chosen)
    assert_junit_structure(root)
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "paydiag"
    cases = suite.findall("testcase")
    known = sum(1 for f in chosen.findings if f.known)
    for element in (root, suite):
        assert int(element.get("tests", "")) == len(cases) == len(chosen.findings)
        assert int(element.get("failures", "")) == len(chosen.findings) - known
        assert int(element.get("skipped", "")) == known
        assert int(element.get("errors", "")) == 0
    failures = [case.find("failure") for case in cases if case.find("failure") is not None]
    assert len(failures) == len(chosen.findings) - known
    assert len(suite.findall("testcase/skipped")) == known


def test_junit_failures_carry_the_diagnosis(report: Report) -> None:
    cases = junit(report).findall("testsuite/testcase")
    for finding, case in zip(report.findings, cases, strict=True):
        assert case.get("classname") == f"paydiag.{finding.gateway}"
        assert case.get("name", "").startswith(finding.rule_id)
        failure = case.find("failure")
        assert failure is not None
        assert failure.get("type") == finding.severity
        assert f"{finding.count}×" in failure.get("message", "")
        body = failure.text or ""
        assert finding.explanation in body
        assert all(fix in body for fix in finding.fixes)


# --- GitHub workflow commands --------------------------------------------------------------


def test_github_lines_follow_the_workflow_command_grammar(report: Report) -> None:
    lines = GithubReporter(base=ROOT).render(report, OPTIONS).splitlines()
    expected = sum(min(len(f.locations), 10) for f in report.findings)
    assert len(lines) == expected
    for line in lines:
        match = COMMAND.fullmatch(line)
        assert match, line
        properties = dict(p.split("=", 1) for p in match["props"].split(","))
        assert set(properties) == {"file", "line", "title"}
        assert not Path(properties["file"]).is_absolute()
        assert int(properties["line"]) >= 1


def test_github_annotates_every_finding_before_repeating_one(report: Report) -> None:
    lines = GithubReporter(base=ROOT).render(report, OPTIONS).splitlines()
    first = lines[: len(report.findings)]
    for finding, line in zip(report.findings, first, strict=True):
        level = {"critical": "error", "high": "error", "medium": "warning"}
        assert line.startswith(f"::{level.get(finding.severity, 'notice')} ")
        location = finding.locations[0]
        path = Path(location.path).relative_to(ROOT).as_posix()
        assert f"file={path},line={location.line}," in line
        assert escape_property(finding.title) in line


def test_github_known_findings_are_notices(known_report: Report) -> None:
    lines = GithubReporter(base=ROOT).render(known_report, OPTIONS).splitlines()
    assert lines[0].startswith("::notice ") and "(known)" in lines[0]


def test_github_escaping_follows_the_actions_toolkit() -> None:
    assert escape_data("50% of\r\nall: a,b") == "50%25 of%0D%0Aall: a,b"
    assert escape_property("50% of\r\nall: a,b") == "50%25 of%0D%0Aall%3A a%2Cb"


# --- Markdown ------------------------------------------------------------------------------


def test_markdown_has_the_summary_table_and_top_fixes(report: Report) -> None:
    text = MarkdownReporter().render(report, OPTIONS)
    assert text.startswith("## paydiag: ")
    header = "| # | severity | gateway | code | what | count | txns | first seen | last seen |"
    assert header in text
    findings_part = text.split("### What to do first")[0]
    rows = [line for line in findings_part.splitlines() if re.match(r"\| \d+ \| ", line)]
    assert len(rows) == len(report.findings)
    assert "### What to do first" in text
    assert report.findings[0].fixes[0].split(":")[0] in text
    assert "### Unrecognised errors" in text


def test_markdown_escapes_log_text(report: Report) -> None:
    text = MarkdownReporter().render(report, OPTIONS)
    shapes = [line for line in text.splitlines() if line.startswith("| ") and "<id>" in line]
    assert shapes, "a masked template with <id> is shown"
    assert all(line.count("`") >= 2 for line in shapes)  # inside code spans: no HTML


def test_final_redaction_pass_leaves_every_format_unchanged(report: Report) -> None:
    """Log text arrives redacted and no format words catalog text like a secret field
    (`cvv: Gateway rejected` would lose its title to the last pass)."""
    for name, reporter in REPORTERS.items():
        text = reporter.render(report, OPTIONS)
        assert redact(text) == text, name


# --- any text from logs keeps every format well formed ------------------------------------

_LOG_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from("\x00\x1b\r\n|:,%<>&`'"),
    max_size=60,
)


def synthetic_report(text: str) -> Report:
    moment = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    finding = Finding(
        rule_id="stripe.rate_limit",
        gateway="stripe",
        code="rate_limit",
        title=f"title {text}",
        category="rate_limit",
        severity="high",
        fault="merchant_integration",
        retry="later",
        count=2,
        first_seen=moment,
        last_seen=moment,
        transaction_count=1,
        transactions=(text or "ORD-1",),
        request_ids=(),
        examples=(text,),
        locations=(Location(f"logs/{text or 'x'}.log", 3),),
        explanation=text,
        causes=(text,),
        fixes=(f"fix {text}",),
        support=(),
        references=("https://docs.stripe.com/rate-limits",),
    )
    group = Unrecognised(text or "shape", 1, moment, moment, None, (text,), ())
    summary = Summary(1, 3, 2, 1, moment, moment, {"high": 1}, finding.rule_id, f"h {text}")
    return Report(summary, (), (finding,), (group,), "0.0.0")


@settings(max_examples=60, deadline=None)
@given(_LOG_TEXT)
def test_any_log_text_keeps_every_ci_format_well_formed(text: str) -> None:
    report = synthetic_report(text)
    ET.fromstring(JunitReporter(base=ROOT).render(report, OPTIONS).encode("utf-8"))
    lines = GithubReporter(base=ROOT).render(report, OPTIONS).split("\n")
    assert lines[-1] == "" and all(COMMAND.fullmatch(line) for line in lines[:-1])
    document = json.loads(SarifReporter(base=ROOT).render(report, OPTIONS))
    assert document["runs"][0]["results"][0]["ruleId"] == "stripe.rate_limit"
    table = [
        line
        for line in MarkdownReporter().render(report, OPTIONS).splitlines()
        if line.startswith("| 1 |")
    ]
    unescaped_pipes = len(re.findall(r"(?<!\\)\|", table[0]))
    assert unescaped_pipes == 10  # nine cells: the row's pipes are all its own


def test_sarif_of_awkward_text_validates() -> None:
    report = synthetic_report('a "quoted" <id> | 50% \x00 text')
    document = sarif(dataclasses.replace(report, filters={"baseline": "b.json"}))
    assert not list(sarif_validator().iter_errors(document))
