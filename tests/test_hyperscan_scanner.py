"""Hyperscan finds every line a rule pattern matches, though it counts bytes where the
rule's regex counts characters (paydiag.catalog.patterns.to_byte_regex)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag.catalog import load_catalog
from paydiag.catalog.patterns import compile_pattern, to_byte_regex
from paydiag.match import Matcher
from paydiag.match.prefilter import ERROR_WORDS, ascii_lower
from paydiag.match.scanners import HyperscanScanner, available_engines

pytestmark = pytest.mark.skipif(
    "hyperscan" not in available_engines(), reason="the fast extra (hyperscan) is not installed"
)

CATALOG = load_catalog().catalog
PATTERNS = sorted({pattern.pattern for rule in CATALOG.rules for pattern in rule.match.patterns})


@cache
def _database(source: str) -> Any:
    import hyperscan

    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[to_byte_regex(source).encode("utf-8")], flags=[hyperscan.HS_FLAG_MULTILINE]
    )
    return database


def _found_by_hyperscan(source: str, text: str) -> bool:
    found: list[int] = []
    _database(source).scan(
        text.encode("utf-8"), match_event_handler=lambda *match: found.append(match[2])
    )
    return bool(found)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_hyperscan_finds_any_text_a_catalog_pattern_matches(data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(PATTERNS))
    # from_regex draws any Unicode character where the pattern allows one: `\W`, `[^"]`, `.`
    text = data.draw(st.from_regex(compile_pattern(source)))
    assert _found_by_hyperscan(source, text)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        # Four characters for `\W{1,5}`, but eight bytes.
        (r"(?i)\bde39\W{1,5}05\b", "iso reply de39 →→ 05"),
        # `è` starts with the same byte as `é`: a byte class cannot leave out only `é`.
        (r"code[^é]x", "codeèx"),
        (r"name=[^é]+;", "name=\n;"),
        (r"caf[eé]{2} ok", "cafée ok"),
        (r"\bx.{2}y", "x€€y"),
    ],
)
def test_a_match_over_characters_of_several_bytes_is_found(source: str, text: str) -> None:
    assert compile_pattern(source).search(text)
    assert _found_by_hyperscan(source, text)


def test_the_catalog_scanner_finds_a_line_with_no_error_word() -> None:
    # No error word ("error", "declin"...) makes this line a candidate: only the rule does.
    line = "2026-03-01T10:00:00Z INFO iso response de39 →→ 05 txn=abc\n"
    scanner = HyperscanScanner(CATALOG.rules)
    assert scanner.hits(b"2026-03-01T09:59:59Z INFO ok\n" + line.encode()) != []


SCANNER = HyperscanScanner(CATALOG.rules)
MATCHER = Matcher(CATALOG.rules)
RULE_PATTERNS = sorted(
    (pattern.pattern, rule.id) for rule in CATALOG.rules for pattern in rule.match.patterns
)


def _rules_named(text: str) -> set[str]:
    found = SCANNER.scan(text.encode("utf-8"))
    assert found.rule_matches is not None
    return {rule_id for _offset, rule_id in found.rule_matches}


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_the_scan_names_the_rule_of_any_pattern_that_matches(data: st.DataObject) -> None:
    source, rule_id = data.draw(st.sampled_from(RULE_PATTERNS))
    text = data.draw(st.from_regex(compile_pattern(source)))
    assert rule_id in _rules_named(text)


def test_the_rules_the_scan_names_are_the_only_candidates_a_record_needs() -> None:
    """On every example of the catalog, the matcher picks the same rule from the rules the
    scan named as from all of them (analysis passes it only those)."""
    for rule in CATALOG.rules:
        for line in (*rule.examples.match, *rule.examples.no_match):
            named = _rules_named(line + "\n")
            assert MATCHER.best(line, named) == MATCHER.best(line), (rule.id, line)
            if line in rule.examples.match:
                assert rule.id in named, (rule.id, line)


WORDS_ONLY = HyperscanScanner([])  # the error words' expression alone
_LINE_PIECES = [
    *ERROR_WORDS,
    *(word.upper() for word in ERROR_WORDS),
    "Timed Out",
    "erro",  # a word cut short is no word
    "r",
    "ok ",
    "level",
    ":",
    "\r",
    "é",
]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.lists(st.sampled_from(_LINE_PIECES), max_size=8).map("".join), min_size=1),
    st.booleans(),
)
def test_each_line_holding_an_error_word_is_one_hit(lines: list[str], last_newline: bool) -> None:
    data = ("\n".join(lines) + ("\n" if last_newline else "")).encode("utf-8")
    starts, start = [], 0
    for line in lines:
        if any(word in ascii_lower(line) for word in ERROR_WORDS):
            starts.append(start)
        start += len(line.encode("utf-8")) + 1
    hits = WORDS_ONLY.scan(data).hits
    assert [data.rfind(b"\n", 0, hit) + 1 for hit in hits] == starts
