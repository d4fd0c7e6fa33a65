"""The timestamp shortcuts (a minute converted once, line times read from bytes) give what
the full conversions give."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from paydiag.parse.timestamps import find_timestamp, line_time

_ZONES = ["", "Z", "UTC", "+05:30", "-0800", "+14:00", "-12:00", "+00:00", " +0200"]


def by_full_conversion(date: str, time: str, fraction: str, zone: str) -> datetime | None:
    micro = (fraction or "0")[:6].ljust(6, "0")
    offset = zone.strip()
    offset = "+00:00" if offset in ("", "Z", "UTC") else offset
    if len(offset) == 5:
        offset = offset[:3] + ":" + offset[3:]
    try:
        return datetime.fromisoformat(f"{date}T{time}.{micro}{offset}").astimezone(UTC)
    except (ValueError, OverflowError):
        return None


@given(
    year=st.sampled_from([1, 2, 1999, 2026, 9999]) | st.integers(0, 9999),
    month=st.integers(0, 13),
    day=st.integers(0, 32),
    hour=st.integers(0, 25),
    minute=st.integers(0, 61),
    second=st.integers(0, 61),
    fraction=st.sampled_from(["", "5", "123", "123456", "123456789"]),
    separator=st.sampled_from("T "),
    zone=st.sampled_from(_ZONES),
)
def test_an_iso_timestamp_converts_as_datetime_would(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
    fraction: str,
    separator: str,
    zone: str,
) -> None:
    date, time = f"{year:04d}-{month:02d}-{day:02d}", f"{hour:02d}:{minute:02d}:{second:02d}"
    text = f"{date}{separator}{time}{',' + fraction if fraction else ''}{zone} INFO paid"
    assert find_timestamp(text) == by_full_conversion(date, time, fraction, zone)


def test_lines_of_one_minute_keep_their_own_seconds() -> None:
    first = find_timestamp("2026-03-01 10:15:01,250 INFO a")
    second = find_timestamp("2026-03-01 10:15:59.999999Z INFO b")
    assert first == datetime(2026, 3, 1, 10, 15, 1, 250000, tzinfo=UTC)
    assert second == datetime(2026, 3, 1, 10, 15, 59, 999999, tzinfo=UTC)


def by_decoding_the_head(data: bytes, start: int) -> datetime | None:
    """line_time as it was: the head decoded, then the text fast paths."""
    return find_timestamp(data[start : start + 120].decode("latin-1"))


_PIECES = st.sampled_from(
    [
        *("2026-03-01", " ", "T", "10:15:01", ",250", ".5", "Z", "+0200", "-08:00", "UTC"),
        *("\x85", "\xa0", "\t", "\x1c", "x", "9", "[01/Mar/2026:10:15:01 +0000]", "Mar  1 "),
    ]
)


@given(
    prefix=st.lists(_PIECES, max_size=4),
    pieces=st.lists(_PIECES, max_size=12),
    noise=st.binary(max_size=20),
)
def test_a_line_time_read_from_bytes_is_the_one_read_from_text(
    prefix: list[str], pieces: list[str], noise: bytes
) -> None:
    line = "".join(prefix + pieces).encode("latin-1") + noise
    data = b"previous line\n" + line + b"\nnext 2026-01-01 00:00:00\n"
    start = data.index(b"\n") + 1
    if b'"ts"' not in data and b'"time' not in data:  # the epoch fallback is shared
        assert line_time(data, start) == by_decoding_the_head(data, start)
