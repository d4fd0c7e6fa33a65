"""The matching engine: which rule, if any, recognises a log record.

Running every rule's regexes on every record would be slow: one Aho-Corasick pass over
the record finds the rules' required literals, the RequirementIndex names the few rules
they make possible, and only those are confirmed with their full regexes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from operator import itemgetter

from paydiag.catalog.model import Rule
from paydiag.match.prefilter import ascii_lower
from paydiag.match.requirements import RequirementIndex, literal_automaton

# A log holds few distinct sets of keys (about one per message shape); one of many
# shapes must not grow the cache without end.
_MAX_CACHED = 4096
_literal_of = itemgetter(1)


class Matcher:
    def __init__(self, rules: Sequence[Rule]) -> None:
        order = {rule.id: index for index, rule in enumerate(rules)}
        # Highest priority first; catalog order breaks ties so results are stable.
        self.rules: tuple[Rule, ...] = tuple(
            sorted(rules, key=lambda rule: (-rule.priority, order[rule.id]))
        )
        self._index = RequirementIndex(self.rules)
        self._automaton = literal_automaton(self._index.keys) if self.rules else None
        self._indexes: dict[frozenset[str], list[int]] = {}
        self._rank = {rule.id: index for index, rule in enumerate(self.rules)}

    def best(self, text: str, among: Collection[str] | None = None) -> Rule | None:
        """The highest-priority rule that recognises `text`: the first candidate (a rule with
        a pattern whose required literals all occur in `text`) that its regexes confirm.

        `among`: the IDs of the rules a scanner saw a pattern of match in `text`, which are
        then the only candidates (no other rule can recognise it).
        """
        if among is not None:
            for index in sorted({self._rank[rule_id] for rule_id in among}):
                rule = self.rules[index]
                if rule.match.matches(text):
                    return rule
            return None
        lowered, found, indexes = self._filed(text)
        for index in indexes:
            if self._index.met_given(index, lowered, found):
                rule = self.rules[index]
                if rule.match.matches(text):
                    return rule
        return None

    def _filed(self, text: str) -> tuple[str, frozenset[str], list[int]]:
        """`text` lowercased, the keys in it, and the rules filed under them, lowest first."""
        if self._automaton is None:
            return "", frozenset(), []
        lowered = ascii_lower(text)
        found = frozenset(map(_literal_of, self._automaton.iter(lowered)))
        indexes = self._indexes.get(found)
        if indexes is None:
            if len(self._indexes) >= _MAX_CACHED:
                self._indexes.clear()
            indexes = self._indexes[found] = self._index.indexes(found)
        return lowered, found, indexes
