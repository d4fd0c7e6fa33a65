"""The literals a rule pattern requires (the prefilters' input) hold in every text it matches."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag.catalog import load_catalog
from paydiag.catalog.patterns import compile_pattern, literal_candidates

CATALOG = load_catalog().catalog
PATTERNS = sorted({pattern.pattern for rule in CATALOG.rules for pattern in rule.match.patterns})


def _unmet(source: str, text: str) -> list[tuple[str, ...]]:
    """The requirements of `source` that `text` holds no alternative of."""
    found = []
    for literals in literal_candidates(source):
        haystack = text.lower() if literals.ignore_case else text
        if not any(alternative in haystack for alternative in literals.alternatives):
            found.append(literals.alternatives)
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_every_requirement_holds_in_any_text_a_catalog_pattern_matches(
    data: st.DataObject,
) -> None:
    source = data.draw(st.sampled_from(PATTERNS))
    text = data.draw(st.from_regex(compile_pattern(source)))
    assert _unmet(source, text) == []


def test_every_requirement_holds_in_every_rule_example() -> None:
    unmet = {
        (pattern.pattern, line): _unmet(pattern.pattern, line)
        for rule in CATALOG.rules
        for pattern in rule.match.patterns
        for line in rule.examples.match
        if pattern.search(line)
    }
    assert {key: value for key, value in unmet.items() if value} == {}


def _alternatives(source: str) -> list[set[str]]:
    return [set(literals.alternatives) for literals in literal_candidates(source)]


def test_a_status_code_is_required_with_what_can_stand_before_it() -> None:
    found = _alternatives(r"status[:=]\s*[\"']?400\b")
    assert {"400"} in found
    assert {char + "400" for char in " \t\n\r\x0b\x0c\"'=:"} in found


@pytest.mark.parametrize(
    ("source", "why"),
    [
        (r"(?:status=)?400\b", "nothing need stand before it"),
        (r"^400 Bad", "it may start the line"),
        (r"code=[^,]400", "a negated class allows too many characters"),
        (r"error_code[=:]\s*12345", "five digits are rare enough"),
        (r"response[_ ]code=", "words are not grown"),
    ],
)
def test_a_run_is_not_grown_when(source: str, why: str) -> None:
    assert all(len(alternatives) == 1 for alternatives in _alternatives(source)), why


def test_a_grown_requirement_of_a_caseless_pattern_is_lowercase() -> None:
    assert {"a400", "b400"} in _alternatives("(?i)code [AB]400")
