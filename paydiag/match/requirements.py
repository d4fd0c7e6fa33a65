"""Which rules the literals found in a text make possible.

Each rule pattern is reduced to its required literals (`catalog.patterns`): several
requirements, all of which must hold, each a set of alternatives of which one must be
present. A pattern is possible in a text only if every requirement is met, which one set
intersection per requirement decides; the regexes then confirm the few possible rules.
Both the per-line scanner and the per-record matcher use this index.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence, Set
from pathlib import Path

import ahocorasick

from paydiag.cache import cache_key, code_fingerprint, read_cached, write_cached
from paydiag.catalog.model import Rule
from paydiag.catalog.patterns import MIN_LITERAL, literal_candidates
from paydiag.match.prefilter import ascii_lower

# Requirements shorter than this are too common to narrow anything down.
_MIN_REQUIREMENT = 2

Requirement = frozenset[str]
# A requirement beside its alternatives that are not index keys (the only ones a text
# must be searched for when a scan tells which keys occur).
_Check = tuple[Requirement, Requirement]


def pattern_requirements(pattern: str) -> tuple[Requirement, ...]:
    """Each requirement is a set of lowercase alternatives; all requirements must be met."""
    return tuple(
        frozenset(ascii_lower(a) for a in literals.alternatives)
        for literals in literal_candidates(pattern)
        if literals.shortest >= _MIN_REQUIREMENT
    )


def catalog_requirements(rules: Sequence[Rule]) -> list[list[tuple[Requirement, ...]]]:
    """`pattern_requirements` of each rule's patterns, from the user's cache when the same
    patterns were seen before: parsing the catalog's regexes for their literals takes a
    quarter of a second, and every pipeline (each `--jobs` worker) needs them."""
    sources = [[p.pattern for p in rule.match.patterns] for rule in rules]
    code = code_fingerprint(*_REQUIREMENTS_CODE)
    name = f"requirements-{cache_key(json.dumps(sources), code)}.json"
    cached = read_cached(name)
    if cached is not None:
        with contextlib.suppress(ValueError, TypeError):
            return [
                [tuple(frozenset(map(str, r)) for r in requirements) for requirements in rule]
                for rule in json.loads(cached)
            ]
    found = [[pattern_requirements(source) for source in rule] for rule in sources]
    as_data = [[[sorted(r) for r in requirements] for requirements in rule] for rule in found]
    write_cached(name, json.dumps(as_data).encode("utf-8"))
    return found


# The code that turns a pattern into requirements: a change to it makes a new cache entry.
_REQUIREMENTS_CODE = (
    Path(__file__),
    Path(__file__).with_name("prefilter.py"),
    Path(__file__).parent.parent / "catalog" / "patterns.py",
)


class RequirementIndex:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.requirements = catalog_requirements(rules)
        shared: Counter[str] = Counter(
            literal
            for patterns in self.requirements
            for requirements in patterns
            for requirement in requirements
            for literal in requirement
        )
        # Each pattern is filed under its least shared requirement, so a common field name
        # ("status", "code") does not make every rule that mentions it a candidate; a
        # scanner only needs to look for these keys.
        self._index: dict[str, set[int]] = {}
        for index, patterns in enumerate(self.requirements):
            for requirements in patterns:
                usable = [r for r in requirements if min(map(len, r)) >= MIN_LITERAL]
                if not usable:
                    continue
                key = min(usable, key=lambda r: (max(shared[a] for a in r), -min(map(len, r))))
                for literal in key:
                    self._index.setdefault(literal, set()).add(index)
        keys = self.keys
        # A pattern without requirements is never possible (see `possible`): it has no checks.
        self._checks = [
            [
                tuple((r, r - keys) for r in requirements)
                for requirements in patterns
                if requirements
            ]
            for patterns in self.requirements
        ]

    @property
    def keys(self) -> frozenset[str]:
        """The literals to look for: every possible match contains at least one."""
        return frozenset(self._index)

    def possible(self, lowered: str, keys_found: Iterable[str]) -> Iterator[int]:
        """Indexes of the rules with a pattern whose every requirement `lowered` meets,
        lowest first, checked lazily so a caller that wants the first one stops early.

        `keys_found` are the index keys a scan found in `lowered` (ASCII-lowercased text).
        """
        for index in self.indexes(keys_found):
            if any(
                requirements and all_met(requirements, lowered)
                for requirements in self.requirements[index]
            ):
                yield index

    def met_given(self, index: int, lowered: str, keys_found: Set[str]) -> bool:
        """Whether rule `index` is possible in `lowered`, as `possible` decides, for a caller
        that found every key occurring in it: a requirement of keys only is then met by one
        found, with no search of the text."""
        # A loop, not any() over a generator: this runs for each candidate of each record.
        for checks in self._checks[index]:  # noqa: SIM110
            if _checked(checks, lowered, keys_found):
                return True
        return False

    def indexes(self, keys_found: Iterable[str]) -> list[int]:
        """The rules filed under any of `keys_found`, lowest first."""
        indexes: set[int] = set()
        for literal in keys_found:
            indexes |= self._index.get(literal, set())
        return sorted(indexes)


def all_met(requirements: Iterable[Iterable[str]], lowered: str) -> bool:
    """Whether every requirement has an alternative in `lowered` (none: trivially true)."""
    # Plain loops: scanners check a dozen patterns on a line with a common key, and a
    # generator per requirement would cost more than the substring tests themselves.
    for alternatives in requirements:
        for alternative in alternatives:
            if alternative in lowered:
                break
        else:
            return False
    return True


def _checked(checks: tuple[_Check, ...], lowered: str, keys_found: Set[str]) -> bool:
    """`all_met`, knowing which keys occur: loops, not any/all, as it runs per candidate."""
    for requirement, unscanned in checks:
        if not requirement.isdisjoint(keys_found):
            continue
        for alternative in unscanned:
            if alternative in lowered:
                break
        else:
            return False
    return True


def literal_automaton(literals: Iterable[str]) -> ahocorasick.Automaton:
    """An Aho-Corasick automaton whose value for each literal is the literal itself."""
    automaton = ahocorasick.Automaton()
    for literal in literals:
        automaton.add_word(literal, literal)
    automaton.make_automaton()
    return automaton
