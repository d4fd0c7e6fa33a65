"""GitHub Actions workflow commands: `::error file=…,line=…,title=…::message` annotations.

One command per finding location, at most `MAX_PER_FINDING` per finding, ordered so that
every finding's first location comes before any finding's second (GitHub keeps only the
first annotations of a step). critical/high are errors, medium warnings, low/info and
findings known from the baseline notices. Values are escaped as the Actions toolkit does:
`%`, CR and LF everywhere, and `:` and `,` in properties as well.
"""

from __future__ import annotations

from pathlib import Path

from paydiag.redact import redact
from paydiag.report.ci import finding_message, spread_locations, workspace_path
from paydiag.report.interface import RenderOptions
from paydiag.report.model import Finding, Location, Report

MAX_PER_FINDING = 10
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "notice"}


class GithubReporter:
    name = "github"

    def __init__(self, base: Path | None = None) -> None:
        self._base = base  # None: the working directory when rendering

    def render(self, report: Report, options: RenderOptions) -> str:
        base = self._base or Path.cwd()
        lines = [
            _command(f, loc, report, base)
            for f, loc in spread_locations(report.findings, MAX_PER_FINDING)
        ]
        lines.extend(_command(f, None, report, base) for f in report.findings if not f.locations)
        return "".join(line + "\n" for line in lines)


def _command(finding: Finding, location: Location | None, report: Report, base: Path) -> str:
    gateway = report.gateways.get(finding.gateway, finding.gateway)
    level = "notice" if finding.known else LEVELS.get(finding.severity, "notice")
    known = " (known)" if finding.known else ""
    properties: list[tuple[str, str]] = []
    path = workspace_path(location.path, base) if location else None
    if location is not None and path is not None:
        properties.append(("file", path))
        if location.line >= 1:
            properties.append(("line", str(location.line)))
    title = f"[{finding.severity}{known}] {gateway} {finding.code} ({finding.title})"
    properties.append(("title", title))
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{level} {rendered}::{escape_data(finding_message(finding, gateway))}"


def escape_data(value: str) -> str:
    """A command's message: redacted first, as escaping would hide secrets from later passes."""
    return redact(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
