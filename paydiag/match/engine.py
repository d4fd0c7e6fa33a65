"""The matching engine: which rule, if any, recognises a log record.

Running every rule's regexes on every record would be slow, so each pattern is reduced to
the literals it requires (`catalog.patterns.literal_candidates`: every top-level
requirement, each a set of alternatives). One Aho-Corasick pass over the record finds the
literals present; only rules with a pattern whose every requirement is met are confirmed
with their full regexes.
"""

from __future__ import annotations

from collections.abc import Sequence

import ahocorasick

from paydiag.catalog.model import Rule
from paydiag.catalog.patterns import literal_candidates
from paydiag.match.prefilter import ascii_lower

# Requirements shorter than this are too common to narrow anything down.
_MIN_REQUIREMENT = 2

Requirement = frozenset[str]


def pattern_requirements(pattern: str) -> tuple[Requirement, ...]:
    """Each requirement is a set of lowercase alternatives; all requirements must be met."""
    return tuple(
        frozenset(ascii_lower(a) for a in literals.alternatives)
        for literals in literal_candidates(pattern)
        if literals.shortest >= _MIN_REQUIREMENT
    )


class Matcher:
    def __init__(self, rules: Sequence[Rule]) -> None:
        order = {rule.id: index for index, rule in enumerate(rules)}
        # Highest priority first; catalog order breaks ties so results are stable.
        self.rules: tuple[Rule, ...] = tuple(
            sorted(rules, key=lambda rule: (-rule.priority, order[rule.id]))
        )
        self._requirements = [
            [pattern_requirements(p.pattern) for p in rule.match.patterns] for rule in self.rules
        ]
        # Each rule is indexed under the first alternative set of each pattern.
        self._index: dict[str, set[int]] = {}
        literals: set[str] = set()
        for index, patterns in enumerate(self._requirements):
            for requirements in patterns:
                for requirement in requirements:
                    literals |= requirement
                for literal in requirements[0] if requirements else ():
                    self._index.setdefault(literal, set()).add(index)
        self._automaton = ahocorasick.Automaton()
        for literal in literals:
            self._automaton.add_word(literal, literal)
        if literals:
            self._automaton.make_automaton()

    def candidates(self, text: str) -> list[Rule]:
        """Rules with a pattern whose required literals all occur in `text`, best first."""
        if not self._index:
            return []
        found = {literal for _end, literal in self._automaton.iter(ascii_lower(text))}
        indexes: set[int] = set()
        for literal in found & self._index.keys():
            indexes |= self._index[literal]
        return [
            self.rules[index]
            for index in sorted(indexes)
            if any(_met(requirements, found) for requirements in self._requirements[index])
        ]

    def best(self, text: str) -> Rule | None:
        """The highest-priority rule that recognises `text`."""
        for rule in self.candidates(text):
            if rule.match.matches(text):
                return rule
        return None

    def all(self, text: str) -> list[Rule]:
        return [rule for rule in self.candidates(text) if rule.match.matches(text)]


def _met(requirements: tuple[Requirement, ...], found: set[str]) -> bool:
    return bool(requirements) and all(
        not requirement.isdisjoint(found) for requirement in requirements
    )
