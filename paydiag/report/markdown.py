"""A Markdown summary for `$GITHUB_STEP_SUMMARY` or a pull-request comment.

The headline, a findings table, the fixes for the top findings and the unrecognised shapes.
Text from logs is escaped or put in code spans, so a masked `<id>` or a `|` in a log line
cannot turn into HTML or break the table.
"""

from __future__ import annotations

from paydiag.report.ci import (
    explain_hint,
    markdown_code,
    markdown_text,
    time_span,
    transactions_sample,
    when,
)
from paydiag.report.interface import RenderOptions
from paydiag.report.model import Finding, Report, Unrecognised

TOP_FINDINGS = 3
MAX_UNRECOGNISED = 10
SEVERITY_MARK = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}


class MarkdownReporter:
    name = "markdown"

    def render(self, report: Report, options: RenderOptions) -> str:
        blocks = [_summary(report)]
        if report.findings:
            blocks.append(_findings_table(report))
            blocks.append(_top_fixes(report))
        if report.unrecognised:
            blocks.append(_unrecognised(report.unrecognised))
        return "\n\n".join(blocks) + "\n"


def _summary(report: Report) -> str:
    s = report.summary
    files = sum(1 for i in report.inputs if i.error is None)
    lines = [
        f"## paydiag: {markdown_text(s.headline)}",
        "",
        f"Read {s.lines_read:,} lines in {files} file{'s' if files != 1 else ''}; "
        f"{s.error_events:,} error events: {s.matched_events:,} recognised, "
        f"{s.unrecognised_events:,} unrecognised.",
    ]
    if s.first_seen:
        lines[-1] += f" Errors from {when(s.first_seen)} to {when(s.last_seen)} UTC."
    known = sum(1 for f in report.findings if f.known)
    if known:
        lines.append("")
        lines.append(f"{known} finding{'s' if known != 1 else ''} known from the baseline report.")
    return "\n".join(lines)


def _findings_table(report: Report) -> str:
    header = "| # | severity | gateway | code | what | count | txns | first seen | last seen |"
    rows = [header, "|---:|---|---|---|---|---:|---:|---|---|"]
    for index, f in enumerate(report.findings, 1):
        severity = f"{SEVERITY_MARK.get(f.severity, '')} {f.severity}".strip()
        if f.known:
            severity += " (known)"
        cells = (
            str(index),
            severity,
            markdown_text(report.gateways.get(f.gateway, f.gateway)),
            markdown_code(f.code),
            markdown_text(f.title),
            f"{f.count:,}",
            f"{f.transaction_count:,}",
            when(f.first_seen),
            when(f.last_seen),
        )
        rows.append("| " + " | ".join(cells) + " |")
    return "### Findings, worst first\n\n" + "\n".join(rows)


def _top_fixes(report: Report) -> str:
    parts = ["### What to do first"]
    for index, finding in enumerate(report.findings[:TOP_FINDINGS], 1):
        parts.append(_fix_section(index, finding, report))
    return "\n\n".join(parts)


def _fix_section(index: int, finding: Finding, report: Report) -> str:
    gateway = markdown_text(report.gateways.get(finding.gateway, finding.gateway))
    title = (
        f"#### {index}. [{finding.severity}] {gateway} {markdown_code(finding.code)}: "
        f"{markdown_text(finding.title)}"
    )
    facts = f"{finding.count:,} events, {finding.transaction_count:,} transactions"
    span = time_span(finding)
    if span:
        facts += f", {span}"
    lines = [title, "", markdown_text(finding.explanation), "", f"*{facts}.*", ""]
    lines.extend(f"{n}. {markdown_text(fix)}" for n, fix in enumerate(finding.fixes, 1))
    if finding.transactions:
        lines.extend(("", f"Transactions: {markdown_code(transactions_sample(finding))}"))
    lines.extend(("", f"Full guide: {markdown_code(explain_hint(finding))}"))
    return "\n".join(lines)


def _unrecognised(groups: tuple[Unrecognised, ...]) -> str:
    rows = ["| count | gateway | shape |", "|---:|---|---|"]
    for group in groups[:MAX_UNRECOGNISED]:
        gateway = markdown_text(group.gateway_hint or "?")
        rows.append(f"| {group.count:,} | {gateway} | {markdown_code(group.template)} |")
    more = len(groups) - MAX_UNRECOGNISED
    tail = f"\n\n{more} more shapes in the JSON report." if more > 0 else ""
    title = "### Unrecognised errors (no rule yet: new failure modes show up here)"
    return f"{title}\n\n" + "\n".join(rows) + tail
