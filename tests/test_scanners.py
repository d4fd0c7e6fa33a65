"""The pure-Python scanner never misses a line a rule or an error word would match."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from paydiag.catalog import load_catalog
from paydiag.match.prefilter import ERROR_WORDS
from paydiag.match.scanners import LiteralScanner

CATALOG = load_catalog().catalog
SCANNER = LiteralScanner(CATALOG.rules)
EXAMPLES = sorted(line for rule in CATALOG.rules for line in rule.examples.match)
HEALTHY = (
    "2026-03-01 00:00:00,069 INFO [session] user session refreshed session_id=5utg79bg",
    "2026-03-01 00:00:02,968 INFO [http] GET /healthz 200 duration_ms=4",
    "2026-03-01 00:00:01,276 DEBUG [inventory] reserved sku=SKU-99982 qty=2 status=200",
)


def _line_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, byte in enumerate(data[:-1]) if byte == ord("\n")]


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.sampled_from(HEALTHY), max_size=5),
    example=st.sampled_from(EXAMPLES),
    after=st.lists(st.sampled_from(HEALTHY), max_size=5),
)
def test_a_rule_example_among_healthy_lines_is_a_hit(
    before: list[str], example: str, after: list[str]
) -> None:
    data = "\n".join([*before, example, *after, ""]).encode("utf-8")
    example_start = len("\n".join([*before, ""]).encode("utf-8")) if before else 0
    assert example_start in SCANNER.hits(data)


@given(word=st.sampled_from(ERROR_WORDS), upper=st.booleans())
def test_an_error_word_in_any_case_is_a_hit(word: str, upper: bool) -> None:
    data = f"{HEALTHY[0]}\nok {word.upper() if upper else word} here\n".encode()
    assert _line_starts(data)[1] in SCANNER.hits(data)


def test_healthy_lines_are_not_hits() -> None:
    assert SCANNER.hits("\n".join([*HEALTHY, ""]).encode()) == []
