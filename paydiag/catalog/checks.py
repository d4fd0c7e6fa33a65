"""Catalog checks that need the rules compiled: each rule's examples, and who wins a line.

Like pySigma's validators, each check is a small generator of Problems; `validate`
runs them all so an author sees every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from paydiag.catalog.model import Catalog, Problem, Rule
from paydiag.match import Matcher


def example_problems(rule: Rule) -> Iterator[Problem]:
    """The rule must match each of its `match` examples and none of its `no_match` ones."""
    for line in rule.examples.match:
        if not rule.match.matches(line):
            yield _problem(rule, f"examples.match not matched: {_short(line)}")
    for line in rule.examples.no_match:
        if rule.match.matches(line):
            yield _problem(rule, f"examples.no_match matched: {_short(line)}")


def shadowing_problems(catalog: Catalog, matcher: Matcher) -> Iterator[Problem]:
    """Each `match` example must be won by its own rule against the whole catalog."""
    for rule in catalog.rules:
        for line in rule.examples.match:
            winner = matcher.best(line)
            if winner is not None and winner.id != rule.id and rule.match.matches(line):
                yield _problem(
                    rule,
                    f"examples.match is won by {winner.id} (priority {winner.priority}); "
                    "raise this rule's priority or narrow the other rule",
                    level="warning",
                )


def validate(catalog: Catalog) -> list[Problem]:
    matcher = Matcher(catalog.rules)
    problems: list[Problem] = []
    for rule in catalog.rules:
        problems.extend(example_problems(rule))
    problems.extend(shadowing_problems(catalog, matcher))
    return problems


def _problem(rule: Rule, message: str, level: str = "error") -> Problem:
    return Problem(rule.source.path, rule.source.line, message, rule.id, level)


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.path, p.line, p.message))
