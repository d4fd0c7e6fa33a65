"""The terminal report: summary panel, incidents, error timeline, findings table, what to do
first, unrecognised errors."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from paydiag.report.interface import RenderOptions
from paydiag.report.model import (
    Finding,
    IncidentRecord,
    InputSummary,
    MinuteBucket,
    Report,
    Unrecognised,
)

TOP_FINDINGS = 3
SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


class TextReporter:
    """The full terminal report; `quiet` keeps the headline and the findings table only,
    for CI logs and pre-commit hooks where a long report buries the line people read."""

    name = "text"

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

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
        blocks = _quiet_blocks(report) if self.quiet else _blocks(report, options.width)
        for block in blocks:
            console.print(block)
        return buffer.getvalue()


def _quiet_blocks(report: Report) -> list[RenderableType]:
    blocks: list[RenderableType] = [Text(report.summary.headline, style="bold")]
    if report.findings:
        blocks.append(_findings_table(report))
    return blocks


def _blocks(report: Report, width: int = 100) -> list[RenderableType]:
    blocks: list[RenderableType] = [_summary(report)]
    blocks.extend(_incident_panel(i) for i in report.incidents)
    timeline = _timeline(report.error_timeline, width)
    if timeline is not None:
        blocks.append(timeline)
    if report.findings:
        blocks.append(_findings_table(report))
        blocks.extend(_finding_detail(f, report) for f in report.findings[:TOP_FINDINGS])
    if report.unrecognised:
        blocks.append(_unrecognised_table(report.unrecognised))
    problems = _input_problems(report.inputs)
    if problems is not None:
        blocks.append(problems)
    return blocks


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def _summary(report: Report) -> Panel:
    s = report.summary
    files = sum(1 for i in report.inputs if i.error is None)
    lines = [
        Text(s.headline, style="bold"),
        Text(
            f"Read {s.lines_read:,} lines in {files} file{'s' if files != 1 else ''}; "
            f"{s.error_events:,} error events: {s.matched_events:,} recognised, "
            f"{s.unrecognised_events:,} unrecognised."
        ),
    ]
    if s.first_seen:
        lines.append(Text(f"Errors from {_when(s.first_seen)} to {_when(s.last_seen)} UTC."))
    return Panel(Group(*lines), title="paydiag", title_align="left")


def _findings_table(report: Report) -> Table:
    table = Table(title="Findings, worst first", title_justify="left", expand=False)
    for column in (
        "#",
        "severity",
        "gateway",
        "code",
        "what",
        "count",
        "txns",
        "first seen",
        "last seen",
        "who acts",
    ):
        table.add_column(column, overflow="fold")
    for index, f in enumerate(report.findings, 1):
        label = f"{f.severity}{' (known)' if f.known else ''}"
        table.add_row(
            str(index),
            Text(label, style=SEVERITY_STYLE.get(f.severity, "")),
            report.gateways.get(f.gateway, f.gateway),
            Text(f.code),
            Text(f.title),
            f"{f.count:,}",
            f"{f.transaction_count:,}",
            _when(f.first_seen),
            _when(f.last_seen),
            f.fault,
        )
    return table


def _finding_detail(finding: Finding, report: Report) -> Panel:
    gateway = report.gateways.get(finding.gateway, finding.gateway)
    body: list[RenderableType] = [Text(finding.explanation)]
    body.append(Text("\nLikely causes:", style="bold"))
    body.extend(Text(f"  • {cause}") for cause in finding.causes)
    body.append(Text("\nFixes, in order:", style="bold"))
    body.extend(Text(f"  {n}. {fix}") for n, fix in enumerate(finding.fixes, 1))
    if finding.transactions:
        more = finding.transaction_count - len(finding.transactions)
        sample = ", ".join(finding.transactions[:8]) + (f" (+{more} more)" if more > 0 else "")
        body.append(Text("\nTransactions: ", style="bold") + Text(sample))
    if finding.request_ids:
        body.append(Text("Request IDs: ", style="bold") + Text(", ".join(finding.request_ids[:5])))
    if finding.locations:
        where = ", ".join(f"{loc.path}:{loc.line}" for loc in finding.locations[:3])
        body.append(Text("Seen at: ", style="bold") + Text(where))
    body.append(Text("\nExample:", style="bold"))
    body.extend(Text("  " + _one_line(example)) for example in finding.examples[:1])
    body.append(
        Text(
            f"\nFor the full guide: paydiag explain {finding.code} --gateway {finding.gateway}",
            style="dim",
        )
    )
    title = f"[{finding.severity}] {gateway} {finding.code}: {finding.title}"
    return Panel(
        Group(*body),
        title=Text(title),
        title_align="left",
        border_style=SEVERITY_STYLE.get(finding.severity, ""),
    )


def _one_line(text: str, limit: int = 400) -> str:
    first = text.split("\n", 1)[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _unrecognised_table(groups: Sequence[Unrecognised]) -> Table:
    table = Table(
        title="Unrecognised errors (no rule yet: new failure modes show up here)",
        title_justify="left",
    )
    for column in ("count", "gateway", "shape", "first seen at"):
        table.add_column(column, overflow="fold")
    for group in groups[:15]:
        where = f"{group.locations[0].path}:{group.locations[0].line}" if group.locations else ""
        table.add_row(f"{group.count:,}", group.gateway_hint or "?", Text(group.template), where)
    if len(groups) > 15:
        table.caption = f"{len(groups) - 15} more shapes in the JSON report"
    return table


def _input_problems(inputs: Sequence[InputSummary]) -> Table | None:
    rows = [(i.path, 0, i.error) for i in inputs if i.error] + [
        (i.path, p.line, p.message) for i in inputs for p in i.problems
    ]
    if not rows:
        return None
    table = Table(title="Input problems", title_justify="left")
    table.add_column("where", overflow="fold")
    table.add_column("problem", overflow="fold")
    for path, line, message in rows:
        table.add_row(f"{path}:{line}" if line else path, message or "")
    return table


def _incident_panel(incident: IncidentRecord) -> Panel:
    body: list[RenderableType] = [Text(incident.summary)]
    if incident.figures:
        body.append(Text("\n" + _figures(incident.figures), style="dim"))
    body.append(Text("\nLikely causes:", style="bold"))
    body.extend(Text(f"  • {cause}") for cause in incident.causes)
    body.append(Text("\nWhat to do, in order:", style="bold"))
    body.extend(Text(f"  {n}. {fix}") for n, fix in enumerate(incident.fixes, 1))
    body.append(Text("\nWho must act: ", style="bold") + Text(incident.fault))
    if incident.transactions:
        body.append(Text("Transactions: ", style="bold") + Text(", ".join(incident.transactions)))
    return Panel(
        Group(*body),
        title=Text(f"[{incident.severity}] {incident.title}"),
        title_align="left",
        border_style=SEVERITY_STYLE.get(incident.severity, ""),
    )


_UNITS = (("_ms", " ms"), ("_minutes", " min"), ("_seconds", " s"))


def _figures(figures: dict[str, float | int | str]) -> str:
    """`duration: 12 min · failed calls: 44 · peak failure rate: 77.3%`."""
    shown = []
    for key, value in figures.items():
        name, unit = key, ""
        for suffix, label in _UNITS:
            if key.endswith(suffix):
                name, unit = key.removesuffix(suffix), label
        if isinstance(value, float) and key.endswith(("_rate", "_share")):
            text = f"{value * 100:.1f}%"
        elif isinstance(value, int | float):
            text = (f"{value:,}" if isinstance(value, int) else f"{value:g}") + unit
        else:
            text = value
        shown.append(f"{name.replace('_', ' ')}: {text}")
    return " · ".join(shown)


_BARS = "▁▂▃▄▅▆▇█"
_LABEL = 8  # width of the row labels ("errors", "calls")


def _timeline(buckets: Sequence[MinuteBucket], width: int) -> Panel | None:
    """Errors and calls per minute as two rows of bars; columns merge minutes on long logs."""
    if len(buckets) < 2 or not any(b.errors for b in buckets):
        return None
    columns = max(10, width - _LABEL - 4)
    per_column = math.ceil(len(buckets) / columns)
    groups = [buckets[i : i + per_column] for i in range(0, len(buckets), per_column)]
    errors = [sum(b.errors for b in group) for group in groups]
    calls = [sum(b.calls for b in group) for group in groups]
    error_row = Text("errors".ljust(_LABEL))
    for count, total in zip(errors, calls, strict=True):
        style = "red" if total and count * 2 >= total else "yellow" if count else ""
        error_row.append(_bar(count, max(errors)), style=style)
    call_row = Text("calls".ljust(_LABEL)) + Text("".join(_bar(c, max(calls)) for c in calls))
    first, last = buckets[0].minute, buckets[-1].minute
    end = f"{last:%H:%M} UTC"
    axis = " " * _LABEL + f"{first:%H:%M}".ljust(max(len(groups) - len(end), 6)) + end
    peak = max(range(len(groups)), key=lambda i: errors[i])
    scale = "one column per minute" if per_column == 1 else f"{per_column} minutes a column"
    caption = (
        f"{scale.capitalize()}; the most errors: {errors[peak]:,} of {calls[peak]:,} calls at "
        f"{groups[peak][0].minute:%H:%M} UTC."
    )
    body = Group(error_row, call_row, Text(axis, style="dim"), Text(caption, style="dim"))
    return Panel(body, title="Error timeline (UTC)", title_align="left", expand=False)


def _bar(value: int, highest: int) -> str:
    if not value or not highest:
        return " "
    return _BARS[min(len(_BARS) - 1, math.ceil(value / highest * len(_BARS)) - 1)]
