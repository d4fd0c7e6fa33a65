"""Ticket priority (P1..P4) from a finding's severity and the share of transactions it fails,
and the impact statement support reads first.

Logs mostly record failures, so without `total_transactions` (the merchant's own count of
attempts in the same window) the share is measured against every failing transaction in the
report, and the statement says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from paydiag.report.model import Finding, Report

# Share thresholds: "most customers" and "a significant share".
MOST = 0.5
SIGNIFICANT = 0.1

# severity -> priority at a share >= MOST, >= SIGNIFICANT, below.
_MATRIX: dict[str, tuple[int, int, int]] = {
    "critical": (1, 1, 2),
    "high": (1, 2, 3),
    "medium": (2, 3, 3),
    "low": (3, 4, 4),
    "info": (4, 4, 4),
}
_MEANING = {
    1: "urgent: payments are failing for most or many customers",
    2: "high: a significant share of payments fails",
    3: "normal: some payments fail",
    4: "low: isolated failures",
}


@dataclass(frozen=True)
class Priority:
    level: str  # "P1"
    meaning: str
    reason: str


@dataclass(frozen=True)
class Impact:
    failed_transactions: int
    failed_events: int
    share: float  # 0..1 of `basis_count`
    basis_count: int
    basis: str  # what the share is of
    first_seen: str | None  # ISO 8601, UTC
    last_seen: str | None
    duration: str | None  # "50 min"
    amounts: tuple[str, ...]  # as logged (minor or major units, as the gateway sends them)
    currencies: tuple[str, ...]
    statement: str


def priority_for(severity: str, share: float, basis: str = "transactions") -> Priority:
    """P1..P4: the worse the severity and the larger the share failing, the more urgent."""
    row = _MATRIX.get(severity, _MATRIX["info"])
    level = row[0 if share >= MOST else 1 if share >= SIGNIFICANT else 2]
    reason = f"{severity} severity; {share:.0%} of {basis}"
    return Priority(f"P{level}", _MEANING[level], reason)


def impact_of(finding: Finding, report: Report, total_transactions: int | None = None) -> Impact:
    failed = finding.transaction_count or finding.count
    basis_count, basis = _basis(finding, report, total_transactions)
    share = min(1.0, failed / basis_count) if basis_count else 1.0
    impact = Impact(
        failed_transactions=finding.transaction_count,
        failed_events=finding.count,
        share=round(share, 4),
        basis_count=basis_count,
        basis=basis,
        first_seen=iso_utc(finding.first_seen),
        last_seen=iso_utc(finding.last_seen),
        duration=_duration(finding.first_seen, finding.last_seen),
        amounts=finding.amounts,
        currencies=finding.currencies,
        statement="",
    )
    return _with_statement(impact, finding)


def iso_utc(when: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, the one time format of every ticket."""
    if when is None:
        return None
    return when.isoformat().replace("+00:00", "Z")


def _basis(finding: Finding, report: Report, total: int | None) -> tuple[int, str]:
    if total is not None:
        return total, f"all {total:,} transactions in the same period (as given)"
    if finding.transaction_count:
        failing = sum(f.transaction_count for f in report.findings) or finding.transaction_count
        return failing, f"the {failing:,} failing transactions in these logs"
    events = max(report.summary.error_events, finding.count)
    return events, f"the {events:,} error events in these logs"


def _duration(first: datetime | None, last: datetime | None) -> str | None:
    if first is None or last is None:
        return None
    minutes = int((last - first).total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min"
    return f"{hours // 24} days {hours % 24} h"


def _with_statement(impact: Impact, finding: Finding) -> Impact:
    counted = (
        f"{impact.failed_transactions:,} failed transactions ({impact.failed_events:,} errors)"
        if impact.failed_transactions
        else f"{impact.failed_events:,} errors"
    )
    parts = [f"{counted}, {impact.share:.0%} of {impact.basis}"]
    if impact.first_seen and impact.last_seen:
        span = f"from {impact.first_seen} to {impact.last_seen}"
        parts.append(f"{span} ({impact.duration})" if impact.duration else span)
    if finding.payment_methods:
        parts.append("payment methods: " + ", ".join(finding.payment_methods))
    if impact.currencies:
        parts.append("currencies: " + ", ".join(impact.currencies))
    if impact.amounts:
        parts.append("amounts as logged: " + ", ".join(impact.amounts))
    statement = "; ".join(parts) + "."
    return replace(impact, statement=statement)
