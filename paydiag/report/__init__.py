"""Output formats: one module each behind `Reporter`; the CLI picks one by name."""

from paydiag.report.github import GithubReporter
from paydiag.report.interface import RenderOptions, Reporter
from paydiag.report.json import JsonReporter
from paydiag.report.junit import JunitReporter
from paydiag.report.markdown import MarkdownReporter
from paydiag.report.model import Report
from paydiag.report.sarif import SarifReporter
from paydiag.report.text import TextReporter

REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter
    for reporter in (
        TextReporter(),
        JsonReporter(),
        SarifReporter(),
        JunitReporter(),
        GithubReporter(),
        MarkdownReporter(),
    )
}
# --quiet with the text format: the headline and the findings table only.
QUIET_TEXT: Reporter = TextReporter(quiet=True)

__all__ = ["QUIET_TEXT", "REPORTERS", "RenderOptions", "Report", "Reporter"]
