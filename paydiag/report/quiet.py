"""The text report in --quiet: the headline and the findings table, nothing else.

For CI logs and pre-commit hooks, where the full diagnosis is one `paydiag explain` away and
a long report buries the one line people read.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from paydiag.report.interface import RenderOptions
from paydiag.report.model import Report
from paydiag.report.text import _findings_table


class QuietTextReporter:
    name = "text"

    def render(self, report: Report, options: RenderOptions) -> str:
        buffer = io.StringIO()
        console = Console(
            file=buffer,
            width=options.width,
            force_terminal=options.color,
            no_color=not options.color,
            color_system="standard" if options.color else None,
            highlight=False,
            emoji=False,
        )
        console.print(Text(report.summary.headline, style="bold"))
        if report.findings:
            console.print(_findings_table(report))
        return buffer.getvalue()
