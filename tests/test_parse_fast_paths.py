"""The parser's fast paths find exactly what the plain regexes they stand in for find.

Each fast path (a literal test before a regex, a regex rewritten so the engine can skip
ahead, key/value pairs read once per run of key characters) is checked against the plain
form on texts built from the characters that decide it.
"""

from __future__ import annotations

import re
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag.diagnose import templates
from paydiag.parse import event, fields, ids
from paydiag.parse.event import environment_of, request_time

PROPERTY = settings(deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow])


def _text(pieces: list[str]) -> st.SearchStrategy[str]:
    """Texts of the given pieces and single characters, runs of letters among them."""
    piece = st.one_of(
        st.sampled_from(pieces),
        st.text(alphabet="aZ_@.-1é \t\n=:\"'<>{},;&#/", min_size=1, max_size=3),
        st.integers(1, 70).map(lambda n: "k" * n),
    )
    return st.lists(piece, max_size=24).map("".join)


_KV_PIECES = ["key", "=", ": ", '"v a"', "'x'", "value", "a" * 200, "9x=", "é=", "ab.cd-ef@g"]
_ID_PIECES = [
    "req_",
    "ch_",
    "pi_",
    "cs_test_",
    "ABCdef1234567",
    "S12-",
    "P99-1234567-7654321",
    "-1234567",
    "-A123456",
    "order",
    "Order ID",
    "ORDER",
    " #:",
    "5O190127TN364715T",
    "x",
    "-",
]


@PROPERTY
@given(_text(_KV_PIECES))
def test_key_values_by_run_agree_with_the_plain_regex(text: str) -> None:
    assert fields.key_values(text) == fields._KEY_VALUE.findall(text)


_ASCII_KV_TEXT = st.lists(
    st.one_of(
        st.sampled_from([p for p in _KV_PIECES if p.isascii()]),
        st.text(alphabet="aZ_@.-19 \t\n\r\x0b\x0c\x1c\x1f=:\"'<>{},;&#/", min_size=1, max_size=3),
        st.integers(1, 70).map(lambda n: "k" * n),
    ),
    max_size=24,
).map("".join)


@PROPERTY
@given(_ASCII_KV_TEXT)
def test_key_values_in_ascii_text_agree_with_the_plain_regex(text: str) -> None:
    # ASCII text takes the regex with ASCII classes, including Unicode's \x1c-\x1f spaces.
    assert fields.key_values(text) == fields._KEY_VALUE.findall(text)


_PLAIN_SHAPES = (
    re.compile(r"(?<![\w-])(req_[A-Za-z0-9]{10,32})(?![\w-])"),
    re.compile(r"(?<![\w-])((?:ch|pi|py|in|re|cs_live|cs_test)_[A-Za-z0-9]{10,64})(?![\w-])"),
    re.compile(r"(?<![\w-])([SPBC]\d{2}-\d{7}-\d{7}(?:-[A-Z]\d{6})?)(?![\w-])"),
    re.compile(r"\border(?: id)?[ #:]+([A-Za-z0-9][\w-]{4,40}\d[\w-]*)\b", re.I),
)


@PROPERTY
@given(_text(_ID_PIECES))
def test_id_shapes_find_what_their_plain_regexes_find(text: str) -> None:
    for shape, plain in zip(ids._BUILTIN_SHAPES, _PLAIN_SHAPES, strict=True):
        found = shape.pattern.findall(text)
        assert found == plain.findall(text)
        if found and shape.needs is not None:  # the cheap search never rules out a shape
            assert shape.needs.search(text.lower() if shape.folded else text)


_STATUS_PIECES = ["HTTP/1.1 ", 'HTTP/2" ', "status", "code", "=", ": ", "503", "200", "x"]
_PLAIN_STATUS = re.compile(r"\b(?:HTTP/\d(?:\.\d)?\"? |status[ =:]+|code[ =:]+)([1-5]\d\d)\b")


@PROPERTY
@given(_text(_STATUS_PIECES))
def test_status_in_text_is_found_as_by_the_plain_regex(text: str) -> None:
    assert event._HTTP_STATUS_TEXT.findall(text) == _PLAIN_STATUS.findall(text)
    assert event.status_in_text(text) == (
        int(m.group(1)) if (m := _PLAIN_STATUS.search(text)) else None
    )


_LEVEL_PIECES = ["ERROR", "ERR", "WARN", "WARNING", "CRIT", "CRITICAL", "INFO", "xERROR", "-", "_"]
_PLAIN_LEVEL = re.compile(
    r"\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|FATAL|CRIT(?:ICAL)?|SEVERE|ALERT|EMERG)\b"
)


@PROPERTY
@given(_text(_LEVEL_PIECES))
def test_level_words_are_found_as_by_the_plain_regex(text: str) -> None:
    assert event._LEVEL_WORD.findall(text) == _PLAIN_LEVEL.findall(text)


_ENVIRONMENT_PIECES = [
    "sk_test_",
    "rk_live_",
    "sandbox",
    '"livemode": false',
    '"livemode":true',
    "checkout-test.adyen",
    "-live.adyen",
    "api-m.paypal.com",
    "pay-api.amazon.eu/live/",
    "x",
]


@PROPERTY
@given(_text(_ENVIRONMENT_PIECES))
def test_environment_literal_tests_never_hide_a_marker(text: str) -> None:
    lowered = text.lower()
    expected = (
        "sandbox"
        if event._SANDBOX.search(lowered)
        else "production"
        if event._LIVE.search(lowered)
        else None
    )
    assert environment_of(lowered) == expected


_SIGNED_PIECES = [
    "X-Amz-Pay-Date: 20260301T030000Z",
    "x-amz-date=20260301T030000Z",
    "Timestamp=2026-03-01T03%3A00%3A00Z",
    "Stripe-Signature: t=1772334000",
    "STRIPE-SIGNATURE='t=1772334000,v1=ab'",
    "x",
]


@PROPERTY
@given(_text(_SIGNED_PIECES))
def test_request_time_literal_tests_never_hide_a_signature(text: str) -> None:
    plain = (
        event._AMZ_DATE.search(text)
        or event._MWS_TIMESTAMP.search(text)
        or event._STRIPE_SIGNATURE_TIME.search(text)
    )
    assert (request_time(text) is not None) == (plain is not None)


def test_letters_tested_in_lowercase_match_only_themselves_under_ignorecase() -> None:
    # The literal tests for "order", "x-amz" and "stripe-signature" look in `str.lower()`;
    # that holds only if IGNORECASE matches these letters to their ASCII cases alone
    # (it does not for "s", "i" and "k": "ſ", "ı" and the Kelvin sign match those).
    every_character = "".join(map(chr, range(sys.maxunicode + 1)))
    for letter in set("order" + "x-amz" + "gnature"):
        matched = set(re.findall(f"(?i){re.escape(letter)}", every_character))
        assert matched == {letter, letter.upper()}


_MASK_PIECES = [
    "2026-03-01T10:00:00.5Z",
    "Mar  1 10:00:00",
    "[01/Mar/2026:10:00:00 +0000]",
    "a.b+c@shop-1.example.com",
    "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "'quoted x'",
    '"msg":"v 1"',
    'key="v-2"',
    "ORD-00001",
    "pi_3L3Fz",
    "0xdeadbeef",
    "deadbeef12",
    "42.5",
    "x",
]


def _mask_unfiltered(line: str) -> str:
    """templates.mask without its literal tests: every pattern tried on every line."""
    for pattern, replacement, _needs in templates._TIME_AND_PII:
        line = pattern.sub(replacement, line)
    line = templates._QUOTED.sub(templates._mask_quoted, line)
    for pattern, replacement, _needs in templates._VALUES:
        line = pattern.sub(replacement, line)
    return templates._LEADING_NOISE.sub("", line)[: templates._MAX_TEMPLATE]


@PROPERTY
@given(_text(_MASK_PIECES))
def test_template_literal_tests_never_skip_a_mask(text: str) -> None:
    assert templates.mask(text) == _mask_unfiltered(text)


_PLAIN_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


_EMAIL_PIECES = st.lists(
    st.sampled_from(
        ["a@b.c", "+x@y.z", "j.doe+tag@shop.io", "@", "+", ".", "-", "a", "1", " ", "é"]
    ),
    max_size=16,
).map("".join)


@PROPERTY
@given(_EMAIL_PIECES)
def test_emails_are_masked_as_by_the_plain_regex(text: str) -> None:
    assert templates._EMAIL.sub("<email>", text) == _PLAIN_EMAIL.sub("<email>", text)
