"""The summary: counts, time span, the worst finding, and a one-sentence headline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from paydiag.report.model import Finding, Summary, Unrecognised


def summarise(
    findings: Sequence[Finding],
    unrecognised: Sequence[Unrecognised],
    lines_read: int,
    gateway_names: Mapping[str, str],
) -> Summary:
    times = [t for f in findings for t in (f.first_seen, f.last_seen) if t] + [
        t for u in unrecognised for t in (u.first_seen, u.last_seen) if t
    ]
    matched = sum(f.count for f in findings)
    unmatched = sum(u.count for u in unrecognised)
    return Summary(
        lines_read=lines_read,
        error_events=matched + unmatched,
        matched_events=matched,
        unrecognised_events=unmatched,
        first_seen=min(times, default=None),
        last_seen=max(times, default=None),
        findings_by_severity=dict(Counter(f.severity for f in findings)),
        worst_rule_id=findings[0].rule_id if findings else None,
        headline=headline(findings, unmatched, gateway_names),
    )


def headline(
    findings: Sequence[Finding], unrecognised_events: int, gateway_names: Mapping[str, str]
) -> str:
    """E.g. "42 Stripe errors: Card declined for insufficient funds across 40 transactions
    since 03:10 UTC; 1 critical: Amazon Pay signature mismatch since 04:02 UTC"."""
    if not findings:
        if unrecognised_events:
            return f"No known payment error; {unrecognised_events} unrecognised error lines."
        return "No payment errors found."
    parts = [_describe(findings[0], gateway_names)]
    critical = [f for f in findings[1:] if f.severity == "critical"]
    if critical:
        parts.append(f"{len(critical)} more critical: " + _describe(critical[0], gateway_names))
    rest = len(findings) - 1 - len(critical)
    if rest > 0:
        parts.append(f"{rest} other finding{'s' if rest != 1 else ''}")
    return "; ".join(parts) + "."


def _describe(finding: Finding, gateway_names: Mapping[str, str]) -> str:
    gateway = gateway_names.get(finding.gateway, finding.gateway)
    text = f"{finding.severity}: {finding.count}× {gateway} {finding.code} ({finding.title})"
    if finding.transaction_count:
        plural = "s" if finding.transaction_count != 1 else ""
        text += f" across {finding.transaction_count} transaction{plural}"
    if finding.first_seen:
        text += f" since {_when(finding.first_seen, finding.last_seen)}"
    return text


def _when(first: datetime, last: datetime | None) -> str:
    same_day = last is not None and last.date() == first.date()
    return first.strftime("%H:%M UTC" if same_day else "%Y-%m-%d %H:%M UTC")
