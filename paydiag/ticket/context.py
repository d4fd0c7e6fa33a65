"""The ticket's template context: typed data built from one Finding, its Report, the gateway's
support profile and the user's options. Templates only format it.

Everything here comes from the Report (already redacted) or the command line; it holds no
"now", so the same report always gives the same ticket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from paydiag.explain import FAULT_NAMES, RETRY_NAMES
from paydiag.redact import DEFAULT_REDACTOR
from paydiag.report.model import Finding, Report
from paydiag.ticket.priority import Impact, Priority, impact_of, iso_utc, priority_for
from paydiag.ticket.profiles import GENERIC, SupportProfile, profile_for

MAX_IDS = 20  # per kind: enough for support to look up, short enough to read
_MARKER = "[REDACTED"


class TicketError(Exception):
    """A problem the user can fix (bad option, unknown finding, bad template): one line."""


class NoFinding(TicketError):
    """The logs or report hold no finding to write a ticket about."""


@dataclass(frozen=True)
class TicketOptions:
    rule_id: str | None = None
    code: str | None = None
    tried: tuple[str, ...] = ()
    done: tuple[int, ...] = ()  # fix numbers (1-based) already done
    merchant_id: str | None = None
    environment: str | None = None
    contact: str | None = None
    total_transactions: int | None = None  # attempts in the same period, for the share


@dataclass(frozen=True)
class IdGroup:
    kind: str
    label: str
    field: str  # each ID is printed as `field: value`
    values: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    fix: int | None  # the finding's fix number, or None for free text (--tried)
    text: str


@dataclass(frozen=True)
class SupportInfo:
    gateway: str
    name: str
    portal: str | None
    channel: str
    urgent: str | None
    response_times: str | None
    asks_for: tuple[str, ...]
    references: tuple[str, ...]


@dataclass(frozen=True)
class ErrorInfo:
    rule_id: str
    code: str
    title: str
    category: str
    severity: str
    http_status: int | None
    explanation: str
    fault: str
    who_acts: str
    retry: str
    retry_advice: str
    causes: tuple[str, ...]
    rule_support: tuple[str, ...]  # what the rule says support needs for this code
    references: tuple[str, ...]


@dataclass(frozen=True)
class TicketContext:
    """Every variable a ticket template sees (documented in the README)."""

    subject: str
    priority: Priority
    impact: Impact
    merchant_id: str | None
    environment: str | None  # sandbox, production, or None when unknown
    environment_source: str  # "option", "logs" or "unknown"
    contact: str | None
    gateway: SupportInfo
    error: ErrorInfo
    first_seen: str | None  # ISO 8601 UTC
    last_seen: str | None
    timezone: str
    ids: tuple[IdGroup, ...]
    payment_methods: tuple[str, ...]
    currencies: tuple[str, ...]
    amounts: tuple[str, ...]
    examples: tuple[str, ...]  # redacted log lines
    locations: tuple[str, ...]  # "path:line"
    steps_taken: tuple[Step, ...]
    not_yet_tried: tuple[Step, ...]
    references: tuple[str, ...]  # the rule's documentation, then the support profile's sources
    lines_read: int
    other_findings: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data; IDs flattened to one `{kind, label, field, id}` object each so that a
        JSON reader (and redaction) sees every ID under an ID key."""
        data = asdict(self)
        data["ids"] = [
            {"kind": g.kind, "label": g.label, "field": g.field, "id": value}
            for g in self.ids
            for value in g.values
        ]
        return data


def select_finding(report: Report, options: TicketOptions) -> Finding:
    """The finding named by rule id or code, else the most severe (findings are ranked)."""
    findings = report.findings
    if not findings:
        raise NoFinding("no payment errors found; nothing to report")
    wanted = [f for f in findings if _named(f, options)]
    if not wanted:
        asked = f"--rule {options.rule_id}" if options.rule_id else f"--code {options.code}"
        there = ", ".join(f"{f.code} ({f.rule_id})" for f in findings)
        raise NoFinding(f"{asked}: no such finding in these logs; found: {there}")
    return wanted[0]


def _named(finding: Finding, options: TicketOptions) -> bool:
    if options.rule_id is not None and finding.rule_id != options.rule_id:
        return False
    return options.code is None or _fold(finding.code) == _fold(options.code)


def _fold(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def build_context(finding: Finding, report: Report, options: TicketOptions) -> TicketContext:
    profile = profile_for(finding.gateway, finding.examples)
    impact = impact_of(finding, report, options.total_transactions)
    priority = priority_for(finding.severity, impact.share, impact.basis)
    taken, remaining = _steps(finding, options)
    environment, source = _environment(finding, options)
    gateway = _support_info(profile, finding, report)
    return TicketContext(
        subject=_subject(priority, gateway.name, finding, impact),
        priority=priority,
        impact=impact,
        merchant_id=DEFAULT_REDACTOR.redact(options.merchant_id) if options.merchant_id else None,
        environment=environment,
        environment_source=source,
        contact=options.contact,
        gateway=gateway,
        error=_error_info(finding),
        first_seen=iso_utc(finding.first_seen),
        last_seen=iso_utc(finding.last_seen),
        timezone="UTC",
        ids=group_ids(finding, profile),
        payment_methods=finding.payment_methods,
        currencies=finding.currencies,
        amounts=finding.amounts,
        examples=finding.examples,
        locations=tuple(f"{loc.path}:{loc.line}" for loc in finding.locations),
        steps_taken=taken,
        not_yet_tried=remaining,
        references=tuple(dict.fromkeys((*finding.references, *gateway.references))),
        lines_read=report.summary.lines_read,
        other_findings=len(report.findings) - 1,
    )


def group_ids(finding: Finding, profile: SupportProfile) -> tuple[IdGroup, ...]:
    """The finding's IDs by kind: the profile's kinds first (by shape, or named in the example
    lines), then the transaction and request IDs no kind claims."""
    kinds: dict[str, dict[str, None]] = {f.kind: {} for f in profile.id_fields}
    leftovers: dict[str, dict[str, None]] = {"transaction": {}, "request": {}}
    for source, values in (("transaction", finding.transactions), ("request", finding.request_ids)):
        for value in _usable(values):
            kind = next((f.kind for f in profile.id_fields if f.claims(value)), None)
            (kinds[kind] if kind else leftovers[source])[value] = None
    for id_field in profile.id_fields:
        for example in finding.examples:
            kinds[id_field.kind].update((v, None) for v in _usable(id_field.find(example)))
    claimed = {value for values in kinds.values() for value in values}
    groups = [_group(f.kind, f.label, f.field, kinds[f.kind], True) for f in profile.id_fields]
    for kind, label in (("transaction", "Order / transaction IDs"), ("request", "Request IDs")):
        unclaimed = [v for v in leftovers[kind] if v not in claimed]
        groups.append(_group(kind, label, f"{kind}_id", unclaimed, False))
    return tuple(g for g in groups if g.values)


def _usable(values: Iterable[str]) -> Iterable[str]:
    return (v for v in values if v and _MARKER not in v)


def _group(kind: str, label: str, field_name: str, values: Iterable[str], known: bool) -> IdGroup:
    # A known field lets redaction judge a digit run as the ID it is (a 16-digit
    # pspReference); an ID of unknown kind is judged bare, as analyze did.
    redactor = DEFAULT_REDACTOR
    cleaned: dict[str, None] = {}
    for value in values:
        safe = redactor.redact_field(field_name, value) if known else redactor.redact(value)
        if _MARKER not in safe:
            cleaned[safe] = None
    return IdGroup(kind, label, field_name, tuple(cleaned)[:MAX_IDS])


def _steps(finding: Finding, options: TicketOptions) -> tuple[tuple[Step, ...], tuple[Step, ...]]:
    fixes = finding.fixes
    for number in options.done:
        if not 1 <= number <= len(fixes):
            raise TicketError(
                f"--done {number}: the finding has {len(fixes)} fixes, numbered 1 to {len(fixes)}"
            )
    done = sorted(set(options.done))
    taken = [Step(n, fixes[n - 1]) for n in done]
    taken.extend(Step(None, text) for text in _texts(options.tried))
    remaining = [Step(n, text) for n, text in enumerate(fixes, 1) if n not in done]
    return tuple(taken), tuple(remaining)


def _texts(values: Sequence[str]) -> list[str]:
    return [DEFAULT_REDACTOR.redact(" ".join(v.split())) for v in values if v.strip()]


def _environment(finding: Finding, options: TicketOptions) -> tuple[str | None, str]:
    if options.environment:
        return options.environment, "option"
    if finding.environments:
        return ", ".join(finding.environments), "logs"
    return None, "unknown"


def _support_info(profile: SupportProfile, finding: Finding, report: Report) -> SupportInfo:
    if profile.gateway == GENERIC:
        name = report.gateways.get(finding.gateway, finding.gateway)
    else:
        name = profile.name
    return SupportInfo(
        gateway=profile.gateway,
        name=name,
        portal=profile.portal,
        channel=profile.channel,
        urgent=profile.urgent,
        response_times=profile.response_times,
        asks_for=profile.asks_for,
        references=profile.references,
    )


def _error_info(finding: Finding) -> ErrorInfo:
    return ErrorInfo(
        rule_id=finding.rule_id,
        code=finding.code,
        title=finding.title,
        category=finding.category,
        severity=finding.severity,
        http_status=finding.http_status,
        explanation=finding.explanation,
        fault=finding.fault,
        who_acts=FAULT_NAMES.get(finding.fault, finding.fault),
        retry=finding.retry,
        retry_advice=RETRY_NAMES.get(finding.retry, finding.retry),
        causes=finding.causes,
        rule_support=finding.support,
        references=finding.references,
    )


def _subject(priority: Priority, gateway: str, finding: Finding, impact: Impact) -> str:
    count = impact.failed_transactions or impact.failed_events
    noun = "failed transactions" if impact.failed_transactions else "errors"
    since = f" since {impact.first_seen}" if impact.first_seen else ""
    return f"[{priority.level}] {gateway} {finding.code}: {finding.title} ({count:,} {noun}{since})"
