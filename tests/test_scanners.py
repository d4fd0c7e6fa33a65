"""The literal scanner never misses a line a rule or an error word would match, and its C
form (paydiag._speedups) finds exactly the lines its Python reference finds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag.catalog import load_catalog
from paydiag.match.prefilter import ERROR_WORDS
from paydiag.match.scanners import LiteralScanner

CATALOG = load_catalog().catalog
REFERENCE = LiteralScanner(CATALOG.rules, native=False)
try:
    NATIVE: LiteralScanner | None = LiteralScanner(CATALOG.rules, native=True)
except RuntimeError:  # not built here: .ci/run checks that CI builds it
    NATIVE = None
SCANNERS = [REFERENCE] if NATIVE is None else [REFERENCE, NATIVE]
each_scanner = pytest.mark.parametrize("scanner", SCANNERS, ids=["python", "c"][: len(SCANNERS)])
EXAMPLES = sorted(line for rule in CATALOG.rules for line in rule.examples.match)
HEALTHY = (
    "2026-03-01 00:00:00,069 INFO [session] user session refreshed session_id=5utg79bg",
    "2026-03-01 00:00:02,968 INFO [http] GET /healthz 200 duration_ms=4",
    "2026-03-01 00:00:01,276 DEBUG [inventory] reserved sku=SKU-99982 qty=2 status=200",
)


def _line_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, byte in enumerate(data[:-1]) if byte == ord("\n")]


@each_scanner
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(st.sampled_from(HEALTHY), max_size=5),
    example=st.sampled_from(EXAMPLES),
    after=st.lists(st.sampled_from(HEALTHY), max_size=5),
)
def test_a_rule_example_among_healthy_lines_is_a_hit(
    scanner: LiteralScanner, before: list[str], example: str, after: list[str]
) -> None:
    data = "\n".join([*before, example, *after, ""]).encode("utf-8")
    example_start = len("\n".join([*before, ""]).encode("utf-8")) if before else 0
    assert example_start in scanner.hits(data)


@each_scanner
@given(word=st.sampled_from(ERROR_WORDS), upper=st.booleans())
def test_an_error_word_in_any_case_is_a_hit(
    scanner: LiteralScanner, word: str, upper: bool
) -> None:
    data = f"{HEALTHY[0]}\nok {word.upper() if upper else word} here\n".encode()
    assert _line_starts(data)[1] in scanner.hits(data)


@each_scanner
def test_healthy_lines_are_not_hits(scanner: LiteralScanner) -> None:
    assert scanner.hits("\n".join([*HEALTHY, ""]).encode()) == []


def _pieces_of(line: str) -> list[str]:
    """A rule example cut in three, so that lines may hold part of what a pattern needs."""
    third = max(len(line) // 3, 1)
    return [line[:third], line[third : 2 * third], line[2 * third :]]


_PIECES = sorted({piece for line in EXAMPLES for piece in _pieces_of(line)} | set(HEALTHY))
_MIXES = st.lists(
    st.one_of(
        st.sampled_from(_PIECES).map(str.encode),
        st.sampled_from(["\n", " ", "ERROR ", "Paypal"]).map(str.encode),
        st.binary(max_size=3),
    ),
    max_size=30,
).map(b"".join)


@pytest.mark.skipif(NATIVE is None, reason="paydiag._speedups is not built")
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MIXES)
def test_the_c_scanner_finds_the_lines_the_python_one_finds(data: bytes) -> None:
    assert NATIVE is not None
    assert NATIVE.hits(data) == REFERENCE.hits(data)
