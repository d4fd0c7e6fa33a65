"""The literals a scanner looks for so that no record a rule could match is missed.

Every rule pattern requires some literal (`catalog.patterns.literal_candidates`); one
Aho-Corasick pass finds all of them at once, so the number of rules barely changes the
cost of a scan. Literals are compared in ASCII lowercase: a case-insensitive find is a
superset of the exact one, and the rules' regexes confirm every hit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paydiag.catalog.model import Rule
from paydiag.catalog.patterns import MIN_LITERAL, Literals, literal_candidates

# Words that make a record "error-looking" even when no rule knows it (unrecognised
# errors); a scanner looks for them beside the rules' own literals.
ERROR_WORDS: tuple[str, ...] = (
    "error",
    "fail",
    "declin",
    "denied",
    "invalid",
    "refused",
    "reject",
    "exception",
    "timeout",
    "timed out",
    "unauthori",
    "forbidden",
    "expired",
    # pino/bunyan write the level as a number: 50 is error, 60 fatal.
    '"level":50',
    '"level":60',
    '"level": 50',
    '"level": 60',
)


def ascii_lower(text: str) -> str:
    """Lowercase ASCII letters only, exactly as `bytes.lower` and `re.ASCII | re.I` fold."""
    return text.encode("utf-8").lower().decode("utf-8")


def pattern_literals(pattern: str) -> Literals | None:
    """The requirement a prefilter uses for one pattern: the most specific literals."""
    usable = [c for c in literal_candidates(pattern) if c.shortest >= MIN_LITERAL]
    return max(usable, key=lambda c: (c.shortest, -len(c.alternatives)), default=None)


def scan_literals(rules: Sequence[Rule], extra: Iterable[str] = ERROR_WORDS) -> tuple[str, ...]:
    """Lowercase literals such that every possible match contains at least one."""
    literals = {ascii_lower(word) for word in extra}
    for rule in rules:
        for pattern in rule.match.patterns:
            requirement = pattern_literals(pattern.pattern)
            if requirement is not None:
                literals.update(ascii_lower(a) for a in requirement.alternatives)
    return _minimal(literals)


def _minimal(literals: set[str]) -> tuple[str, ...]:
    """Drop literals that contain another one: finding the shorter finds them too."""
    kept: list[str] = []
    for literal in sorted(literals, key=len):
        if not any(shorter in literal for shorter in kept):
            kept.append(literal)
    return tuple(sorted(kept))
