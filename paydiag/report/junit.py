"""JUnit XML for CI test-report widgets (GitLab `artifacts:reports:junit`, Jenkins, Azure).

One `<testsuite name="paydiag">` with one `<testcase>` per rule that fired: a `<failure>`
holding the diagnosis, or `<skipped>` when the finding is known from the baseline report.
The counts on `<testsuites>` and `<testsuite>` are those of the test cases.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

from paydiag.redact import redact
from paydiag.report.ci import diagnosis_text, headline
from paydiag.report.interface import RenderOptions
from paydiag.report.model import Finding, Report


@cache
def _not_xml() -> re.Pattern[str]:
    """Characters XML 1.0 cannot hold at all (most C0 controls, lone surrogates): log text
    may. Compiled on first use: it takes milliseconds, which every run would pay at import."""
    return re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class JunitReporter:
    name = "junit"

    def __init__(self, base: Path | None = None) -> None:
        self._base = base  # None: the working directory when rendering

    def render(self, report: Report, options: RenderOptions) -> str:
        root = junit_tree(report, self._base or Path.cwd())
        ET.indent(root)
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def junit_tree(report: Report, base: Path) -> ET.Element:
    tests = len(report.findings)
    skipped = sum(1 for f in report.findings if f.known)
    counts = {
        "tests": str(tests),
        "failures": str(tests - skipped),
        "errors": "0",
        "skipped": str(skipped),
        "time": "0",
    }
    root = ET.Element("testsuites", {"name": "paydiag", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "paydiag", **counts})
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("paydiag.version", report.tool_version),
        ("paydiag.headline", report.summary.headline),
    ):
        ET.SubElement(properties, "property", name=name, value=_xml_text(value))
    for finding in report.findings:
        suite.append(_testcase(finding, report, base))
    return root


def _testcase(finding: Finding, report: Report, base: Path) -> ET.Element:
    gateway = report.gateways.get(finding.gateway, finding.gateway)
    case = ET.Element(
        "testcase",
        classname=f"paydiag.{finding.gateway}",
        name=_xml_text(f"{finding.rule_id} ({finding.title})"),
        time="0",
    )
    if finding.known:
        ET.SubElement(case, "skipped", message="known: present in the baseline report")
        return case
    failure = ET.SubElement(
        case, "failure", message=_xml_text(headline(finding, gateway)), type=finding.severity
    )
    failure.text = _xml_text(diagnosis_text(finding, gateway, base))
    return case


def _xml_text(text: str) -> str:
    """Redacted before XML escaping (which would hide `"password":"…"` from a later pass),
    and without characters XML cannot carry."""
    return _not_xml().sub("\ufffd", redact(text))
