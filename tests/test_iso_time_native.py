"""The C reader of a record's ISO 8601 time (paydiag._speedups.iso_time) gives what its
Python reference, timestamps.iso_in_python, gives: the same datetime, None for a time that
is no real one (a leap second, 30 February, an offset past the calendar's end), False when
there is none in the first 80 characters.

Heads are spliced from dates and times in and out of range, both separators and others,
fractions of every length and none, the whitespace the regex allows before a zone, every
zone form and broken ones, and padding that puts the time about the 80th character.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydiag.parse import timestamps
from paydiag.parse.timestamps import find_timestamp, iso_in_python, iso_minute

from .native import property_settings, skip_unless_built

native = timestamps._native_iso_time
skip_unless_built(native)

PROPERTY = property_settings()

_DATES = st.tuples(
    st.sampled_from(["0001", "1999", "2024", "2026", "9999", "20x4"]),
    st.sampled_from(["-"]),
    st.sampled_from(["00", "01", "02", "12", "13"]),
    st.sampled_from(["-", "/"]),
    st.sampled_from(["00", "01", "29", "30", "31"]),
).map("".join)
_TIMES = st.tuples(
    st.sampled_from(["T", " ", "t", "_"]),
    st.sampled_from(["00", "23", "24"]),
    st.sampled_from([":00", ":59", ":60"]),
    st.sampled_from([":00", ":59", ":60", ":5"]),
).map("".join)
_TAILS = st.tuples(
    st.sampled_from(["", ".1", ",123456", ".123456789", ".1234567891", ".", ",x"]),
    st.sampled_from(["", " ", "\t", "\x1c", "  "]),
    st.sampled_from(["", "Z", "+05:30", "-0800", "+01", "+5", "UTC", "utc", "-14:00", "+0"]),
    st.sampled_from(["", " ", "x", "9", "Z"]),
).map("".join)
_ISO = st.tuples(_DATES, _TIMES, _TAILS).map("".join)
_PIECES = st.one_of(
    _ISO,
    st.integers(50, 70).map(lambda n: "p" * n),
    st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=5),
    st.sampled_from(["2024-03-01", "10:00:00", "[07/Dec/2026:10:00:00 +0000]", "Dec  7 10:00:00"]),
)
HEADS = st.lists(_PIECES, max_size=5).map("".join)


@PROPERTY
@given(HEADS)
def test_the_c_reader_gives_what_the_regex_gives(head: str) -> None:
    assert native is not None
    assert native(head, iso_minute) == iso_in_python(head[:80])


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("2026-12-07T10:00:00.5Z ERROR", datetime.fromisoformat("2026-12-07T10:00:00.5+00:00")),
        (
            "x 2026-12-07 23:30:00,123456789 +05:30",
            datetime.fromisoformat("2026-12-07T18:00:00.123456+00:00"),
        ),
        ("2026-12-07T10:00:60Z", None),
        ("2026-02-30T10:00:00Z", None),
        ("9999-12-31T23:59:59-01:00", None),
        ("p" * 62 + "2026-12-07T10:00:00Z", False),
        ("p" * 61 + "2026-12-07T10:00:00Z", datetime.fromisoformat("2026-12-07T10:00:00+00:00")),
        ("[07/Dec/2026:10:00:00 +0000] GET /", False),
    ],
)
def test_typical_heads_read_alike(head: str, expected: datetime | bool | None) -> None:
    assert native is not None
    assert native(head, iso_minute) == iso_in_python(head[:80]) == expected


def test_each_minute_is_asked_once_of_the_function_it_was_asked_of() -> None:
    assert native is not None
    asked: list[tuple[str, str, str | None]] = []

    def minute_of(date: str, hour_minute: str, zone: str | None) -> tuple[int, int, int, int, int]:
        asked.append((date, hour_minute, zone))
        return (2000, 1, 2, 3, 4)

    for second in ("01", "02"):
        assert native(f"2026-12-07T10:00:{second}Z", minute_of) == datetime.fromisoformat(
            f"2000-01-02T03:04:{second}+00:00"
        )
    assert asked == [("2026-12-07", "10:00", "Z")]
    assert native("2026-12-07T10:00:03Z", iso_minute) == datetime.fromisoformat(
        "2026-12-07T10:00:03+00:00"
    )  # another function: asked anew, not answered from the last


def test_records_that_are_not_ascii_are_read_by_python() -> None:
    assert native is not None
    head = "2026-12-07T10:00:00\u3000Z café"
    with pytest.raises(TypeError):
        native(head, iso_minute)
    assert find_timestamp(head) == datetime.fromisoformat("2026-12-07T10:00:00+00:00")


def test_a_failing_or_wrong_minute_function_raises() -> None:
    assert native is not None

    def failing(*_: object) -> None:
        raise RuntimeError("no minute")

    with pytest.raises(RuntimeError):
        native("2026-12-07T11:00:00Z", failing)
    with pytest.raises(TypeError):
        native("2026-12-07T12:00:00Z", lambda *_: (1, 2))
    assert native("2026-12-07T12:00:00Z", iso_minute) == datetime.fromisoformat(
        "2026-12-07T12:00:00+00:00"
    )
