"""Output formats: one module each behind `Reporter`; the CLI picks one by name."""

from paydiag.report.github import GithubReporter
from paydiag.report.interface import RenderOptions, Reporter
from paydiag.report.json import JsonReporter
from paydiag.report.junit import JunitReporter
from paydiag.report.markdown import MarkdownReporter
from paydiag.report.model import Report
from paydiag.report.sarif import SarifReporter


class _TextOnFirstRender:
    """Stands in for paydiag.report.text.TextReporter and imports it when it first renders:
    it draws with rich, whose import (40 ms) a run writing JSON, SARIF or JUnit for CI
    never needs."""

    name = "text"

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def render(self, report: Report, options: RenderOptions) -> str:
        from paydiag.report import text

        return text.TextReporter(self.quiet).render(report, options)


REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter
    for reporter in (
        _TextOnFirstRender(),
        JsonReporter(),
        SarifReporter(),
        JunitReporter(),
        GithubReporter(),
        MarkdownReporter(),
    )
}
# --quiet with the text format: the headline and the findings table only.
QUIET_TEXT: Reporter = _TextOnFirstRender(quiet=True)

__all__ = ["QUIET_TEXT", "REPORTERS", "RenderOptions", "Report", "Reporter"]
