"""The per-minute shortcut for ISO timestamps gives what a full conversion gives."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from paydiag.parse.timestamps import find_timestamp

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
