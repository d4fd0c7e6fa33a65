"""Output formats: one module each behind `Reporter`; the CLI picks one by name."""

from paydiag.report.interface import RenderOptions, Reporter
from paydiag.report.json import JsonReporter
from paydiag.report.model import Report
from paydiag.report.text import TextReporter

REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter for reporter in (TextReporter(), JsonReporter())
}

__all__ = ["REPORTERS", "RenderOptions", "Report", "Reporter"]
