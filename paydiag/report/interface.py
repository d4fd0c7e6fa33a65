"""One small interface for every output format (as pip-audit's `_format`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paydiag.report.model import Report


@dataclass(frozen=True)
class RenderOptions:
    color: bool = False
    width: int = 100


class Reporter(Protocol):
    name: str

    def render(self, report: Report, options: RenderOptions) -> str:
        """The whole report in this format, as text ready to print or write."""
        ...
