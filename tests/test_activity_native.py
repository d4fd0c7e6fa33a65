"""The C activity scan (paydiag._speedups) reads exactly what the Python reference reads.

The reference is `ActivityScanner(native=False)`; both take the same words and character
classes, so any difference is a bug in one of the two. Texts are built from the words and
the bytes that decide the value readers (quotes, separators, spaces of latin-1, digits,
units, newlines), spliced with random bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag.parse import activity
from paydiag.parse.activity import ActivityScanner

try:
    NATIVE = ActivityScanner(native=True)
except RuntimeError:  # not built here: .ci/run checks that CI builds it
    pytest.skip("paydiag._speedups is not built", allow_module_level=True)

REFERENCE = ActivityScanner(native=False)
SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"
PROPERTY = settings(deadline=None, max_examples=1500, suppress_health_check=[HealthCheck.too_slow])

_WORDS = sorted(activity._words())
_DECIDERS = [
    "=",
    ":",
    ": ",
    "   ",
    "    ",
    '"',
    "'",
    "\t",
    "\xa0",
    "\x85",
    "\x1c",
    " #",
    "#:",
    "ms",
    "s",
    ".",
    "5",
    "42.5",
    "123",
    "\n",
    "\r\n",
    "ORD-0001",
    "pi_3L3Fzjz207QC18rEF3Bc",
    "req_AbC123dEf456",
    "S01-1234567-7654321",
    "é",
    "²",
    "ª",
    "_",
    "-",
    "/",
    "x" * 120,
    "9" * 90,
    "DURATION_MS",
    "Stripe",
    "ORDER",
]


_SEPARATORS = ["=", ":", ": ", '":"', "='", " = ", "    =", " ", " #", "", "\xa0:\xa0", '"']
_VALUES = ["ORD-0001", "12345", "0.25", "5ms", "7s", "1.5.5", "ab", "x" * 9, "é1", "1" * 400]


def _pieces() -> st.SearchStrategy[bytes]:
    text_piece = st.sampled_from(_WORDS + _DECIDERS).map(lambda s: s.encode("latin-1"))
    # A word with what follows it: where the value readers decide.
    keyed = st.tuples(
        st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS), st.sampled_from(_VALUES)
    ).map(lambda parts: "".join(parts).encode("latin-1"))
    return st.one_of(text_piece, keyed, keyed, st.binary(min_size=1, max_size=4))


_CHUNKS = st.lists(_pieces(), max_size=40).map(b"".join)


def _both(chunk: bytes) -> tuple[list[activity.ActivityLine], list[activity.ActivityLine]]:
    return list(REFERENCE.scan(chunk)), list(NATIVE.scan(chunk))


@PROPERTY
@given(_CHUNKS)
def test_native_scan_agrees_with_the_reference_on_built_texts(chunk: bytes) -> None:
    reference, native = _both(chunk)
    assert native == reference


@PROPERTY
@given(st.binary(max_size=300))
def test_native_scan_agrees_with_the_reference_on_random_bytes(chunk: bytes) -> None:
    reference, native = _both(chunk)
    assert native == reference


_GAPS = st.text(alphabet="\"' :=\t\xa0\x85#", max_size=10)
_NUMBERS = st.from_regex(r"\A[0-9]{0,4}(\.[0-9]{0,3})?(ms|s|m|x)?\Z").filter(bool)


@PROPERTY
@given(st.sampled_from(_WORDS), _GAPS, st.one_of(_NUMBERS, st.sampled_from(_VALUES)))
def test_native_value_readers_agree_with_the_reference(word: str, gap: str, value: str) -> None:
    chunk = f"x stripe {word}{gap}{value} tail\n".encode("latin-1")
    reference, native = _both(chunk)
    assert native == reference


@pytest.mark.parametrize(
    "path", sorted(p for p in SAMPLES.rglob("*") if p.is_file()), ids=lambda p: p.name
)
def test_native_scan_agrees_with_the_reference_on_sample_logs(path: Path) -> None:
    reference, native = _both(path.read_bytes())
    assert native == reference


def test_native_scan_reads_an_activity_line() -> None:
    line = (
        b"2026-03-01 00:00:00,520 INFO [checkout.stripe] payment_intent.succeeded "
        b"order_id=ORD-00000003 payment_intent=pi_3L3Fzjz207QC18rEF3BcAwwR "
        b"amount=33210 currency=eur duration_ms=678 key=sk_test_x\n"
    )
    assert NATIVE.scan(line) == [
        (
            0,
            "stripe",
            "captured",
            "sandbox",
            678.0,
            ("ORD-00000003", "pi_3L3Fzjz207QC18rEF3BcAwwR"),
            (),
        )
    ]


def test_native_scan_takes_no_word_twice_and_skips_quiet_lines() -> None:
    assert NATIVE.scan(b"") == []
    assert NATIVE.scan(b"2026-03-01 INFO [inventory] reserved sku=1\n" * 3) == []
    lines = NATIVE.scan(b"a\nPAYPAL order 12345 captured rt=0.25\n")
    assert lines == [(2, "paypal", "captured", None, 250.0, ("12345",), ())]


def test_native_scan_survives_a_long_line_of_hits() -> None:
    chunk = b"stripe " + b"order_id=ORD-1 duration_ms=5 pi_12345678 " * 20_000 + b"\n"
    reference, native = _both(chunk)
    assert native == reference
    assert native[0][5] == ("ORD-1", "pi_12345678")


def test_no_speedups_variable_turns_the_native_scan_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(activity.NO_SPEEDUPS_VARIABLE, "1")
    assert not ActivityScanner().native
    monkeypatch.setenv(activity.NO_SPEEDUPS_VARIABLE, "0")
    assert ActivityScanner().native
