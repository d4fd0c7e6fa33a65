"""The matcher picks the rule the plain requirement check picks, however often it has seen
the literals of a record before (it keeps what a set of literals decides)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag.catalog import Catalog, Rule
from paydiag.match.engine import Matcher
from paydiag.match.prefilter import ascii_lower


def _plain_best(matcher: Matcher, text: str) -> Rule | None:
    """Every key scanned for by `in`, every requirement tested against the text."""
    lowered = ascii_lower(text)
    index = matcher._index
    found = [key for key in index.keys if key in lowered]
    for position in index.possible(lowered, found):
        rule = matcher.rules[position]
        if rule.match.matches(text):
            return rule
    return None


@pytest.fixture(scope="module")
def matcher(catalog: Catalog) -> Matcher:
    return Matcher(catalog.rules)


def _examples(catalog: Catalog) -> list[str]:
    return [text for rule in catalog.rules for text in rule.examples.match + rule.examples.no_match]


def test_every_rule_example_gets_the_rule_the_plain_check_gives(catalog: Catalog) -> None:
    matcher = Matcher(catalog.rules)  # its own: nothing kept from other tests
    for _ in range(2):  # the second pass answers from what the first one kept
        for text in _examples(catalog):
            assert matcher.best(text) == _plain_best(matcher, text), text


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_examples_cut_and_joined_get_the_rule_the_plain_check_gives(
    catalog: Catalog, matcher: Matcher, data: st.DataObject
) -> None:
    examples = _examples(catalog)
    parts = data.draw(st.lists(st.sampled_from(examples), min_size=1, max_size=3))
    cuts = data.draw(st.lists(st.integers(0, 400), min_size=len(parts), max_size=len(parts)))
    text = " ".join(
        part[cut // 2 : cut // 2 + 60 + cut] for part, cut in zip(parts, cuts, strict=True)
    )
    assert matcher.best(text) == _plain_best(matcher, text)
