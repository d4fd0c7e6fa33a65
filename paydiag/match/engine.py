"""The matching engine: which rule, if any, recognises a log record.

Running every rule's regexes on every record would be slow: one Aho-Corasick pass over
the record finds the rules' required literals, the RequirementIndex names the few rules
they make possible, and only those are confirmed with their full regexes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from paydiag.catalog.model import Rule
from paydiag.match.prefilter import ascii_lower
from paydiag.match.requirements import RequirementIndex, literal_automaton


class Matcher:
    def __init__(self, rules: Sequence[Rule]) -> None:
        order = {rule.id: index for index, rule in enumerate(rules)}
        # Highest priority first; catalog order breaks ties so results are stable.
        self.rules: tuple[Rule, ...] = tuple(
            sorted(rules, key=lambda rule: (-rule.priority, order[rule.id]))
        )
        self._index = RequirementIndex(self.rules)
        self._automaton = literal_automaton(self._index.keys) if self.rules else None

    def candidates(self, text: str) -> Iterator[Rule]:
        """Rules with a pattern whose required literals all occur in `text`, best first."""
        if self._automaton is None:
            return
        lowered = ascii_lower(text)
        found = {literal for _end, literal in self._automaton.iter(lowered)}
        for index in self._index.possible(lowered, found):
            yield self.rules[index]

    def best(self, text: str) -> Rule | None:
        """The highest-priority rule that recognises `text`."""
        for rule in self.candidates(text):
            if rule.match.matches(text):
                return rule
        return None
