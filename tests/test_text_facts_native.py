"""The C reader of a record's words (paydiag._speedups.text_facts) says what its Python
reference, event.text_facts_in_python, says: the level word, an HTTP status written out,
the gateway and the environment.

Texts are spliced from what decides the regexes: level words in either case, run into
word characters or not, and about the 120th character where the level's search stops;
status phrases, whole and broken; every gateway marker, in upper case too; environment
markers, `"livemode":` before each whitespace ASCII knows, and Amazon Pay hosts with and
without a live path.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydiag.parse import event
from paydiag.parse.event import GATEWAY_MARKERS, text_facts, text_facts_in_python

from .native import property_settings, sample_log_lines, skip_unless_built

native = event._native_text_facts
skip_unless_built(native)

PROPERTY = property_settings()

_LEVELS = [
    "ERROR",
    "ERRORS",
    "ERR",
    "WARN",
    "WARNING",
    "WARNINGS",
    "CRIT",
    "CRITICAL",
    "FATAL",
    "INFO",
    "NOTICE",
    "TRACE",
    "DEBUG",
    "SEVERE",
    "ALERT",
    "EMERG",
    "error",
    "Error",
]
_STATUSES = [
    "HTTP/1.1 ",
    "HTTP/2 ",
    'HTTP/1.0" ',
    "HTTP/1. ",
    "HTTP/",
    "status",
    "code",
    "Status",
    "=",
    ":",
    " ",
    "503",
    "200",
    "429",
    "600",
    "99",
    "5031",
]
_MARKERS = [marker for _gateway, markers in GATEWAY_MARKERS for marker in markers]
_ENVIRONMENTS = [
    "sk_test_",
    "pk_live_",
    "rk_test_",
    "sk_live_",
    "SandBox",
    '"livemode":',
    '"LiveMode":',
    "false",
    "true",
    "checkout-test.adyen",
    "-live.adyen",
    "api-m.paypal.com",
    "pay-api.amazon.",
    "eu",
    "com.",
    "/live/",
    "/LIVE/",
    "/sandbox/",
]
_PHRASES = st.one_of(  # whole phrases, so that texts often hold two (the first counts)
    st.tuples(
        st.sampled_from(["HTTP/1.1 ", "status=", "code: ", "status "]),
        st.sampled_from(_STATUSES[10:]),
    ),
    st.tuples(
        st.just("pay-api.amazon."),
        st.sampled_from(["", "eu", "com.", "x.y", "EU"]),
        st.sampled_from(["/live/", "/live", "/sandbox/"]),
    ),
).map("".join)
_GLUE = st.sampled_from([" ", "", "_", "x", "9", "-", ".", "\t", "\n", "\x1c", "\x0b", '"', "é"])
_PIECES = st.one_of(
    st.sampled_from(_LEVELS),
    st.sampled_from(_STATUSES),
    st.sampled_from(_MARKERS).flatmap(lambda m: st.sampled_from([m, m.upper(), m.title()])),
    st.sampled_from(_ENVIRONMENTS),
    _PHRASES,
    _GLUE,
    st.integers(110, 125).map(lambda n: "a " * (n // 2) + "b" * (n % 2)),
    st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=4),
)
TEXTS = st.lists(_PIECES, max_size=16).map("".join)


def _native_facts(text: str) -> event.TextFacts | None:
    assert native is not None
    facts: event.TextFacts | None = native(text, text.lower(), GATEWAY_MARKERS)
    return facts


@PROPERTY
@given(TEXTS)
def test_the_c_reader_says_what_the_regexes_say(text: str) -> None:
    facts = _native_facts(text)
    if text.isascii():
        assert facts == text_facts_in_python(text, text.lower())
    else:  # left to Python, which text_facts() then asks
        assert facts is None
        assert text_facts(text, text.lower()) == text_facts_in_python(text, text.lower())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '2026-12-07T10:00:00Z ERROR stripe HTTP/1.1 502 {"livemode": \t false}',
            ("error", 502, "stripe", "sandbox"),
        ),
        ("WARNING paypal status=429 debug_id=abc", ("warning", 429, "paypal", None)),
        # The level is read from text[:120], whose end is a word's end.
        ("x" * 114 + " ERRORS", ("error", None, None, None)),
        ("x" * 115 + " ERROR", (None, None, None, None)),
        (
            "POST https://pay-api.amazon.eu/live/v2/charges code: 401",
            (None, 401, "amazon_pay", "production"),
        ),
        ("pay-api.amazon.com/v2/live/ AmazonPay", (None, None, "amazon_pay", None)),
        ("pay-api.amazon./live/", (None, None, "amazon_pay", None)),
        ("status=429 then HTTP/1.1 503", (None, 429, None, None)),
        ("xERROR status: 5030 codes=500 HTTP/1.1 600", (None, None, None, None)),
    ],
)
def test_typical_records_read_alike(text: str, expected: event.TextFacts) -> None:
    assert _native_facts(text) == expected
    assert text_facts_in_python(text, text.lower()) == expected


def test_every_sample_log_line_reads_alike() -> None:
    for line in sample_log_lines():
        if line.isascii():
            assert _native_facts(line) == text_facts_in_python(line, line.lower()), line


@pytest.mark.parametrize(
    "arguments",
    [
        ("text", "text"),
        ("text", "text", [("stripe", ("stripe",))]),
        ("text", "text", ("stripe",)),
        ("text", "text", (("stripe", ("stripe", 1)),)),
        ("text", b"text", GATEWAY_MARKERS),
    ],
)
def test_bad_arguments_raise_type_errors(arguments: tuple[object, ...]) -> None:
    assert native is not None
    with pytest.raises(TypeError):
        native(*arguments)


_OTHER_GATEWAYS = (("none", ("zz",)), ("short", ("q",)), ("bigram", ("qx", "de")), ("any", ("",)))


@pytest.mark.parametrize(
    ("text", "gateway"),
    [("q", "short"), ("a qx", "short"), ("xq", "short"), ("dex", "bigram"), ("abc", "any")],
)
def test_other_gateway_tables_are_read_as_gateway_hint_reads_them(text: str, gateway: str) -> None:
    """Markers of one byte or none, and a table other than the last one passed (the C form
    builds its lookup once per table)."""
    assert native is not None
    for gateways in (_OTHER_GATEWAYS, GATEWAY_MARKERS, _OTHER_GATEWAYS):
        facts = native(text, text.lower(), gateways)
        expected = gateway if gateways is _OTHER_GATEWAYS else event.gateway_hint(text.lower())
        assert facts[2] == expected
