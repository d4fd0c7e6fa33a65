"""Aggregate matched events into findings and unmatched error events into templates.

Memory stays bounded whatever the input size: each finding keeps counts, the first and
last time, and capped samples (IDs, examples, locations), never the events themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from paydiag.catalog.model import Rule, Severity
from paydiag.diagnose.templates import template_of
from paydiag.parse.event import Event
from paydiag.redact import Redactor
from paydiag.report.model import Finding, Location, Unrecognised

MAX_EXAMPLES = 3
MAX_LOCATIONS = 20
MAX_SAMPLE = 20
MAX_DISTINCT_IDS = 100_000
MAX_TEMPLATES = 2_000


@dataclass
class _Tally:
    """What one finding or template has seen so far."""

    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    examples: list[str] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)

    def add(self, event: Event) -> None:
        self.count += 1
        if event.timestamp is not None:
            if self.first_seen is None or event.timestamp < self.first_seen:
                self.first_seen = event.timestamp
            if self.last_seen is None or event.timestamp > self.last_seen:
                self.last_seen = event.timestamp
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(event.text)
        if len(self.locations) < MAX_LOCATIONS:
            self.locations.append(Location(event.source, event.line))

    def merge(self, later: _Tally) -> None:
        """Fold in the tally of input read after this one (parallel runs merge in order)."""
        self.count += later.count
        self.first_seen = _earliest(self.first_seen, later.first_seen)
        self.last_seen = _latest(self.last_seen, later.last_seen)
        self.examples.extend(later.examples[: MAX_EXAMPLES - len(self.examples)])
        self.locations.extend(later.locations[: MAX_LOCATIONS - len(self.locations)])


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class _FindingTally(_Tally):
    transactions: dict[str, None] = field(default_factory=dict)
    requests: dict[str, None] = field(default_factory=dict)
    environments: dict[str, None] = field(default_factory=dict)
    currencies: dict[str, None] = field(default_factory=dict)
    methods: dict[str, None] = field(default_factory=dict)
    amounts: dict[str, None] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        super().add(event)
        _bounded_update(self.transactions, event.transaction_ids[:1], MAX_DISTINCT_IDS)
        _bounded_update(self.requests, event.request_ids, MAX_SAMPLE)
        _bounded_update(self.environments, [event.environment], 4)
        _bounded_update(self.currencies, [event.currency], MAX_SAMPLE)
        _bounded_update(self.methods, [event.payment_method], MAX_SAMPLE)
        _bounded_update(self.amounts, [event.amount], MAX_SAMPLE)

    def merge(self, later: _Tally) -> None:
        super().merge(later)
        assert isinstance(later, _FindingTally)
        _bounded_update(self.transactions, later.transactions, MAX_DISTINCT_IDS)
        _bounded_update(self.requests, later.requests, MAX_SAMPLE)
        _bounded_update(self.environments, later.environments, 4)
        _bounded_update(self.currencies, later.currencies, MAX_SAMPLE)
        _bounded_update(self.methods, later.methods, MAX_SAMPLE)
        _bounded_update(self.amounts, later.amounts, MAX_SAMPLE)


def _bounded_update(target: dict[str, None], values: Iterable[str | None], limit: int) -> None:
    for value in values:
        if value and len(target) < limit:
            target[value] = None


class Diagnoser:
    """Collects hits and unrecognised errors; `findings()` ranks them by impact."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._redact = redactor.redact
        self._rules: dict[str, Rule] = {}
        self._findings: dict[str, _FindingTally] = {}
        self._templates: dict[str, _Tally] = {}
        self._template_gateway: dict[str, str | None] = {}
        self.matched_events = 0
        self.unrecognised_events = 0

    def add_hit(self, event: Event, rule: Rule) -> None:
        self.matched_events += 1
        self._rules.setdefault(rule.id, rule)
        self._findings.setdefault(rule.id, _FindingTally()).add(event)

    def add_unrecognised(self, event: Event) -> None:
        self.unrecognised_events += 1
        template = template_of(event)
        if template not in self._templates and len(self._templates) >= MAX_TEMPLATES:
            template = "<other unrecognised errors>"
        self._templates.setdefault(template, _Tally()).add(event)
        self._template_gateway.setdefault(template, event.gateway_hint)

    def merge(self, later: Diagnoser) -> None:
        """Fold in what another Diagnoser saw of input that comes after this one's."""
        self.matched_events += later.matched_events
        self.unrecognised_events += later.unrecognised_events
        self._rules.update((rid, rule) for rid, rule in later._rules.items())
        for rule_id, tally in later._findings.items():
            _merge_into(self._findings, rule_id, tally)
        for template, template_tally in later._templates.items():
            if template not in self._templates and len(self._templates) >= MAX_TEMPLATES:
                template = "<other unrecognised errors>"
            _merge_into(self._templates, template, template_tally)
            self._template_gateway.setdefault(template, later._template_gateway.get(template))

    def findings(self) -> list[Finding]:
        built = [self._finding(self._rules[rid], tally) for rid, tally in self._findings.items()]
        return sorted(built, key=impact_key)

    def unrecognised(self) -> list[Unrecognised]:
        groups = [
            Unrecognised(
                template=self._redact(template),
                count=tally.count,
                first_seen=tally.first_seen,
                last_seen=tally.last_seen,
                gateway_hint=self._template_gateway.get(template),
                examples=tuple(self._redact(e) for e in tally.examples),
                locations=tuple(tally.locations),
            )
            for template, tally in self._templates.items()
        ]
        return sorted(groups, key=lambda u: (-u.count, u.template))

    def _finding(self, rule: Rule, tally: _FindingTally) -> Finding:
        redact = self._redact
        return Finding(
            rule_id=rule.id,
            gateway=rule.gateway,
            code=rule.code,
            title=rule.title,
            category=rule.category,
            severity=rule.severity.value,
            fault=rule.fault,
            retry=rule.retry,
            count=tally.count,
            first_seen=tally.first_seen,
            last_seen=tally.last_seen,
            transaction_count=len(tally.transactions),
            # As fields, so an all-digit ID (an Adyen pspReference) is not taken for a card.
            transactions=tuple(
                self._redactor.redact_field("transaction_id", t)
                for t in list(tally.transactions)[:MAX_SAMPLE]
            ),
            request_ids=tuple(self._redactor.redact_field("request_id", r) for r in tally.requests),
            examples=tuple(redact(e) for e in tally.examples),
            locations=tuple(tally.locations),
            explanation=rule.explanation,
            causes=rule.causes,
            fixes=rule.fixes,
            support=rule.support,
            references=rule.references,
            http_status=rule.http_status,
            shopper_message=rule.shopper_message,
            environments=tuple(tally.environments),
            currencies=tuple(tally.currencies),
            payment_methods=tuple(redact(m) for m in tally.methods),
            amounts=tuple(redact(a) for a in tally.amounts),
        )


_T = TypeVar("_T", bound=_Tally)


def _merge_into(tallies: dict[str, _T], key: str, later: _T) -> None:
    if key in tallies:
        tallies[key].merge(later)
    else:
        tallies[key] = later


def impact_key(finding: Finding) -> tuple[int, int, int, str]:
    """Worst first: severity, then transactions affected, then events."""
    return (
        -Severity(finding.severity).rank,
        -finding.transaction_count,
        -finding.count,
        finding.rule_id,
    )
