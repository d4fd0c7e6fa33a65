"""What the CI formats (SARIF, JUnit, GitHub, Markdown) share: workspace paths and messages.

CI viewers show a path relative to the checkout and a few lines per finding, so every CI
format words a finding the same way and points at the same file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from paydiag.report.model import Finding, Location

STDIN = "-"  # how ingest names standard input: there is no file to point at
TRANSACTION_SAMPLE = 5

# Backslash-escapable ASCII punctuation that changes how Markdown renders: emphasis, code,
# links, tables and raw HTML (a masked template such as `<id>` would vanish as a tag).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&#])")


def workspace_path(path: str, base: Path) -> str | None:
    """`path` relative to `base` in POSIX form, or absolute when outside it; None for stdin."""
    if path == STDIN:
        return None
    given = Path(path)
    absolute = Path(os.path.normpath(given if given.is_absolute() else base / given))
    root = Path(os.path.normpath(base))
    if absolute.is_relative_to(root):
        return absolute.relative_to(root).as_posix()
    return absolute.as_posix()


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def time_span(finding: Finding) -> str:
    """`2026-03-01 04:02:11 to 04:52:38 UTC`, the date said once when it does not change."""
    first, last = finding.first_seen, finding.last_seen
    if first is None:
        return ""
    if last is None or last == first:
        return f"at {when(first)} UTC"
    end = last.strftime("%H:%M:%S") if last.date() == first.date() else when(last)
    return f"from {when(first)} to {end} UTC"


def headline(finding: Finding, gateway: str) -> str:
    """One sentence: how often, what, how many transactions, when."""
    # "code (title)", not "code: title": `cvv: Gateway rejected` reads as a secret field.
    text = f"{finding.count}× {finding.severity} {gateway} {finding.code} ({finding.title})"
    if finding.transaction_count:
        plural = "s" if finding.transaction_count != 1 else ""
        text += f", {finding.transaction_count} transaction{plural}"
    span = time_span(finding)
    return f"{text}, {span}." if span else f"{text}."


def transactions_sample(finding: Finding, limit: int = TRANSACTION_SAMPLE) -> str:
    shown = finding.transactions[:limit]
    more = finding.transaction_count - len(shown)
    return ", ".join(shown) + (f" (+{more} more)" if more > 0 and shown else "")


def explain_hint(finding: Finding) -> str:
    return f"paydiag explain {finding.code} --gateway {finding.gateway}"


def finding_message(finding: Finding, gateway: str) -> str:
    """A few lines for an annotation or a result: headline, transactions, the first fix."""
    lines = [headline(finding, gateway)]
    if finding.known:
        lines.append("Known: present in the baseline report.")
    if finding.transactions:
        lines.append(f"Transactions: {transactions_sample(finding)}.")
    if finding.fixes:
        lines.append(f"First fix: {finding.fixes[0]}")
    lines.append(f"Full guide: {explain_hint(finding)}")
    return "\n".join(lines)


def diagnosis_text(finding: Finding, gateway: str, base: Path) -> str:
    """The whole diagnosis as plain text (a JUnit failure body)."""
    lines = [finding_message(finding, gateway), "", finding.explanation, "", "Likely causes:"]
    lines.extend(f"  - {cause}" for cause in finding.causes)
    lines.append("Fixes, in order:")
    lines.extend(f"  {n}. {fix}" for n, fix in enumerate(finding.fixes, 1))
    seen = [_where(loc, base) for loc in finding.locations[:5]]
    if seen:
        lines.append("Seen at: " + ", ".join(seen))
    if finding.examples:
        lines.extend(("Example:", "  " + finding.examples[0].split("\n", 1)[0]))
    if finding.references:
        lines.append("Documentation: " + " ".join(finding.references))
    return "\n".join(lines)


def _where(location: Location, base: Path) -> str:
    path = workspace_path(location.path, base) or "stdin"
    return f"{path}:{location.line}"


def spread_locations(findings: Sequence[Finding], cap: int) -> Iterator[tuple[Finding, Location]]:
    """Every finding's first location, then every second one, ... up to `cap` per finding.

    CI systems keep only the first few annotations of a step, so the first ones cover as
    many different findings as possible rather than one finding's many lines.
    """
    for rank in range(cap):
        for finding in findings:
            if rank < len(finding.locations):
                yield finding, finding.locations[rank]


def markdown_text(text: str) -> str:
    """Plain text safe inside Markdown (a table cell included): one line, nothing rendered."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def markdown_code(text: str) -> str:
    """Inline code for any text: a fence longer than any backtick run inside, pipes escaped."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    # A pipe ends a table cell even inside code; GFM reads `\|` there as a pipe.
    return f"{fence}{pad}{flat.replace('|', chr(92) + '|')}{pad}{fence}"
