"""Aggregate matched events into findings and unmatched error events into templates.

Memory stays bounded whatever the input size: each finding keeps counts, the first and
last time, and capped samples (IDs, examples, locations), never the events themselves.
Its distinct transactions are counted exactly, as 8-byte hashes, up to EXACT_IDS; beyond
that the count is a HyperLogLog estimate (16 KiB, within about 1%). So that many findings
cannot add up, the exact hashes of all findings together stay under MAX_EXACT_IDS: past it,
every finding switches to the estimate at half the count (then a quarter ...). Which
findings are estimated depends only on the IDs each has, so a run split over processes
(`analyze --jobs`) gives the same counts.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import TypeVar

from paydiag.catalog.model import Rule, Severity
from paydiag.diagnose.templates import template_of
from paydiag.parse.event import Event
from paydiag.redact import Redactor
from paydiag.report.model import Finding, Location, Unrecognised

MAX_EXAMPLES = 3
MAX_LOCATIONS = 20
MAX_SAMPLE = 20
EXACT_IDS = 50_000  # distinct transactions a finding counts exactly (8 bytes each)
MAX_EXACT_IDS = 400_000  # exact ones over all findings (3.2 MB)
MAX_TEMPLATES = 2_000
_SKETCH_BITS = 14  # a HyperLogLog of 2**14 one-byte registers: a standard error of 0.8%
_HASH_BITS = 64
_RECENT = 1_024  # hashes collected in a set before they are merged into the sorted array


class DistinctIds:
    """How many distinct IDs were added: exactly, as sorted 64-bit hashes, until
    `to_sketch()`; from then on estimated by a HyperLogLog sketch."""

    __slots__ = ("_recent", "_registers", "_sorted")

    def __init__(self) -> None:
        self._sorted = array("Q")
        self._recent: set[int] = set()  # not in `_sorted` yet
        self._registers: bytearray | None = None

    @property
    def exact(self) -> bool:
        return self._registers is None

    def add(self, value: str) -> bool:
        """Count `value`; True when it is new to an exact count."""
        digest = _hash(value)
        if self._registers is not None:
            _register(self._registers, digest)
            return False
        if digest in self._recent or _contains(self._sorted, digest):
            return False
        self._recent.add(digest)
        if len(self._recent) >= _RECENT:
            self._sorted = array("Q", sorted(chain(self._sorted, self._recent)))
            self._recent = set()
        return True

    def __len__(self) -> int:
        if self._registers is None:
            return len(self._sorted) + len(self._recent)
        return _estimate(self._registers)

    def to_sketch(self) -> None:
        if self._registers is None:
            self._registers = bytearray(1 << _SKETCH_BITS)
            for digest in chain(self._sorted, self._recent):
                _register(self._registers, digest)
            self._sorted, self._recent = array("Q"), set()

    def merge(self, later: DistinctIds) -> None:
        if self._registers is None and later._registers is None:
            union = set(self._sorted).union(self._recent, later._sorted, later._recent)
            self._sorted, self._recent = array("Q", sorted(union)), set()
            return
        self.to_sketch()
        later.to_sketch()
        assert self._registers is not None and later._registers is not None
        self._registers = bytearray(map(max, self._registers, later._registers))


def _hash(value: str) -> int:
    """A 64-bit hash that is the same in every process (str hashes are salted)."""
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest())


def _contains(ordered: array[int], digest: int) -> bool:
    index = bisect_left(ordered, digest)
    return index < len(ordered) and ordered[index] == digest


def _register(registers: bytearray, digest: int) -> None:
    """Note a hash: its first bits pick a register, which keeps the longest run of zeros
    (plus one) seen at the start of the remaining bits."""
    rest_bits = _HASH_BITS - _SKETCH_BITS
    index, rest = digest >> rest_bits, digest & ((1 << rest_bits) - 1)
    rank = rest_bits - rest.bit_length() + 1
    if rank > registers[index]:
        registers[index] = rank


def _estimate(registers: bytearray) -> int:
    """The HyperLogLog estimate, by linear counting while registers are still empty."""
    size = len(registers)
    raw = 0.7213 / (1 + 1.079 / size) * size * size / sum(2.0**-r for r in registers)
    empty = registers.count(0)
    if raw <= 2.5 * size and empty:
        return round(size * math.log(size / empty))
    return round(raw)


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

    def shift_lines(self, lines: int) -> None:
        self.locations = [Location(place.path, place.line + lines) for place in self.locations]

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
    transactions: dict[str, None] = field(default_factory=dict)  # the first MAX_SAMPLE
    distinct: DistinctIds = field(default_factory=DistinctIds)  # of all of them
    requests: dict[str, None] = field(default_factory=dict)
    environments: dict[str, None] = field(default_factory=dict)
    currencies: dict[str, None] = field(default_factory=dict)
    methods: dict[str, None] = field(default_factory=dict)
    amounts: dict[str, None] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        super().add(event)
        if event.transaction_ids:
            _bounded_add(self.transactions, event.transaction_ids[0], MAX_SAMPLE)
        _bounded_update(self.requests, event.request_ids, MAX_SAMPLE)
        _bounded_add(self.environments, event.environment, 4)
        _bounded_add(self.currencies, event.currency, MAX_SAMPLE)
        _bounded_add(self.methods, event.payment_method, MAX_SAMPLE)
        _bounded_add(self.amounts, event.amount, MAX_SAMPLE)

    def merge(self, later: _Tally) -> None:
        super().merge(later)
        assert isinstance(later, _FindingTally)
        _bounded_update(self.transactions, later.transactions, MAX_SAMPLE)
        self.distinct.merge(later.distinct)
        _bounded_update(self.requests, later.requests, MAX_SAMPLE)
        _bounded_update(self.environments, later.environments, 4)
        _bounded_update(self.currencies, later.currencies, MAX_SAMPLE)
        _bounded_update(self.methods, later.methods, MAX_SAMPLE)
        _bounded_update(self.amounts, later.amounts, MAX_SAMPLE)


def _bounded_update(target: dict[str, None], values: Iterable[str | None], limit: int) -> None:
    for value in values:
        _bounded_add(target, value, limit)


# One value, not a list of one: this runs several times for every recognised error.
def _bounded_add(target: dict[str, None], value: str | None, limit: int) -> None:
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
        self._level = 0  # findings count exactly up to EXACT_IDS >> level transactions
        self._exact_ids = 0  # exact hashes held, plus that limit for each estimated finding

    def add_hit(self, event: Event, rule: Rule) -> None:
        self.matched_events += 1
        tally = self._findings.get(rule.id)
        if tally is None:
            self._rules[rule.id] = rule
            tally = self._findings[rule.id] = _FindingTally()
        tally.add(event)
        transaction = event.transaction_ids[0] if event.transaction_ids else None
        if transaction and tally.distinct.add(transaction):
            self._exact_ids += 1
            if len(tally.distinct) > EXACT_IDS >> self._level or self._exact_ids > MAX_EXACT_IDS:
                self._fit(self._level)

    def _fit(self, level: int) -> None:
        """Estimate the findings with more transactions than the exact limit at `level`, and
        raise the level until the exact ones fit MAX_EXACT_IDS."""
        self._level = level
        while True:
            limit = EXACT_IDS >> self._level
            self._exact_ids = 0
            for tally in self._findings.values():
                if tally.distinct.exact and len(tally.distinct) > limit:
                    tally.distinct.to_sketch()
                self._exact_ids += len(tally.distinct) if tally.distinct.exact else limit
            if self._exact_ids <= MAX_EXACT_IDS:
                return
            self._level += 1

    def add_unrecognised(self, event: Event) -> None:
        self.unrecognised_events += 1
        template = template_of(event)
        if template not in self._templates and len(self._templates) >= MAX_TEMPLATES:
            template = "<other unrecognised errors>"
        self._templates.setdefault(template, _Tally()).add(event)
        self._template_gateway.setdefault(template, event.gateway_hint)

    def shift_lines(self, lines: int) -> None:
        """Count every line number held `lines` further on: this Diagnoser saw a later byte
        range of a file (`analyze --jobs`), numbered from the range's start."""
        for tally in [*self._findings.values(), *self._templates.values()]:
            tally.shift_lines(lines)

    def merge(self, later: Diagnoser) -> None:
        """Fold in what another Diagnoser saw of input that comes after this one's."""
        self.matched_events += later.matched_events
        self.unrecognised_events += later.unrecognised_events
        level = max(self._level, later._level)
        self._fit(level)
        later._fit(level)
        self._rules.update((rid, rule) for rid, rule in later._rules.items())
        for rule_id, tally in later._findings.items():
            _merge_into(self._findings, rule_id, tally)
        for template, template_tally in later._templates.items():
            if template not in self._templates and len(self._templates) >= MAX_TEMPLATES:
                template = "<other unrecognised errors>"
            _merge_into(self._templates, template, template_tally)
            self._template_gateway.setdefault(template, later._template_gateway.get(template))
        self._fit(self._level)

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
            transaction_count=len(tally.distinct),
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
