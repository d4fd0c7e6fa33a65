"""Timestamps as logs write them, normalised to UTC.

Fast paths cover the shapes most logs use (ISO 8601, epoch seconds or milliseconds,
syslog, Apache/nginx); python-dateutil handles the odd rest. Times without a zone are
taken as UTC, the usual convention for server logs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

from paydiag import speedups

_ISO_SOURCE = r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?\s?(Z|[+-]\d\d:?\d\d|UTC)?"
_ISO = re.compile(_ISO_SOURCE)
# The same on raw bytes, where the hot path reads line times without decoding: \s spelled
# out as the latin-1 whitespace the text pattern accepts (bytes \s knows ASCII only).
_ISO_BYTES = re.compile(_ISO_SOURCE.replace(r"\s?", "[\t-\r\x1c- \x85\xa0]?").encode("latin-1"))
_APACHE = re.compile(r"\[(\d\d)/(\w{3})/(\d{4}):(\d\d:\d\d:\d\d) ([+-]\d{4})\]")
_SYSLOG = re.compile(r"^(\w{3}) +(\d{1,2}) (\d\d:\d\d:\d\d)")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_EPOCH_MS_MIN = 10**11  # numbers above this are milliseconds (after 1973 in ms)


def parse_timestamp(value: object, year_hint: int | None = None) -> datetime | None:
    """A timestamp from a field value (string or epoch number), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if not isinstance(value, str) or not value:
        return None
    # isdecimal, not isdigit: float() rejects digits such as "²" that isdigit accepts.
    if value.replace(".", "", 1).isdecimal():
        return _from_epoch(float(value))
    return find_timestamp(value, year_hint) or _dateutil(value)


def find_timestamp(text: str, year_hint: int | None = None) -> datetime | None:
    """The first timestamp near the start of a log line, by the fast paths only."""
    head = text[:80]
    found = _iso_in(head)
    if found is not False:
        return found
    if match := _APACHE.search(head):
        return _from_apache(match)
    if match := _SYSLOG.match(head):
        return _from_syslog(match, year_hint)
    return None


# The C form of iso_in_python, for ASCII text, where it is built.
_native_iso_time = speedups.native("iso_time")


def _iso_in(head: str) -> datetime | Literal[False] | None:
    """The first ISO 8601 time in `head`, None if it is no real time, False if none."""
    if _native_iso_time is not None and head.isascii():
        found: datetime | Literal[False] | None = _native_iso_time(head, iso_minute)
        return found
    return iso_in_python(head)


def iso_in_python(head: str) -> datetime | Literal[False] | None:
    """_iso_in() by the regex: the reference of the C form (which reads ASCII text, and
    leaves the rest to this)."""
    match = _ISO.search(head)
    return _from_iso(match) if match else False


def _from_iso(match: re.Match[str]) -> datetime | None:
    return _iso_time(*match.groups())


def _iso_time(date: str, time: str, fraction: str | None, zone: str | None) -> datetime | None:
    seconds = int(time[6:])
    if seconds > 59:
        return None  # a leap second, which datetime cannot hold
    minute = iso_minute(date, time[:5], zone)
    if minute is None:
        return None
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    # The minute starts at second 0 in UTC (zone offsets are whole minutes), so the time is
    # that minute's fields with these seconds: the constructor is four times cheaper than
    # replace() or adding a timedelta.
    year, month, day, hour, minute_of_hour = minute
    return datetime(year, month, day, hour, minute_of_hour, seconds, micro, UTC)


# Lines of one minute share the date, hour and minute: each minute is converted once, and
# kept as the fields of its UTC start.
_Minute = tuple[int, int, int, int, int]
_MINUTES: dict[tuple[str, str, str | None], _Minute | None] = {}
_MAX_MINUTES = 4096


def iso_minute(date: str, hour_minute: str, zone: str | None) -> _Minute | None:
    """The UTC start of the minute `date`T`hour_minute` in `zone`, None when invalid."""
    key = (date, hour_minute, zone)
    if key in _MINUTES:
        return _MINUTES[key]
    offset = "+00:00" if zone in (None, "Z", "UTC") else zone
    if len(offset) == 5:
        offset = offset[:3] + ":" + offset[3:]
    found: _Minute | None = None
    try:
        # Converting a time at the edge of the calendar (year 1 or 9999) can overflow.
        start = datetime.fromisoformat(f"{date}T{hour_minute}:00{offset}").astimezone(UTC)
        found = (start.year, start.month, start.day, start.hour, start.minute)
    except (ValueError, OverflowError):
        pass
    if len(_MINUTES) >= _MAX_MINUTES:
        _MINUTES.clear()
    _MINUTES[key] = found
    return found


def _from_apache(match: re.Match[str]) -> datetime | None:
    day, month, year, time, zone = match.groups()
    if month not in _MONTHS:
        return None
    try:
        parsed = datetime.fromisoformat(
            f"{year}-{_MONTHS[month]:02d}-{day}T{time}{zone[:3]}:{zone[3:]}"
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _from_syslog(match: re.Match[str], year_hint: int | None) -> datetime | None:
    month, day, time = match.groups()
    if month not in _MONTHS:
        return None
    now = datetime.now(UTC)
    year = year_hint or now.year
    try:
        parsed = datetime.fromisoformat(f"{year}-{_MONTHS[month]:02d}-{int(day):02d}T{time}+00:00")
        # Syslog has no year: a date in the future belongs to last year (Feb 29 may not).
        if year_hint is None and parsed > now + timedelta(days=1):
            parsed = parsed.replace(year=year - 1)
    except ValueError:
        return None
    return parsed


def _from_epoch(number: float) -> datetime | None:
    seconds = number / 1000 if number > _EPOCH_MS_MIN else number
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _dateutil(value: str) -> datetime | None:
    # Imported here: the odd formats it is for are rare, and its import is not cheap.
    from dateutil import parser as dateutil_parser

    try:
        parsed = dateutil_parser.parse(value[:64])
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """A --since/--until value: a date/time, or a span back from now such as `2h` or `3d`.

    Raises ValueError with a message fit for the user.
    """
    now = now or datetime.now(UTC)
    if match := _RELATIVE.match(value.strip().lower()):
        return now - timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValueError(f"cannot read {value!r} as a time (try 2026-03-01T10:00Z or 2h)")
    return parsed


_EPOCH_FIELD = re.compile(rb'"(?:ts|time|timestamp)"\s*:\s*(\d{10,13}(?:\.\d+)?)')


def line_time(data: bytes, start: int) -> datetime | None:
    """The time of the line at `start` in a chunk, by the fast paths only (hot path):
    `find_timestamp` of the line's head, read from the bytes when the time is ISO 8601."""
    if match := _ISO_BYTES.search(data, start, start + 80):
        date, time, fraction, zone = match.groups()
        return _iso_time(
            date.decode("latin-1"),
            time.decode("latin-1"),
            fraction.decode("latin-1") if fraction is not None else None,
            zone.decode("latin-1") if zone is not None else None,
        )
    head = data[start : start + 120].decode("latin-1")
    found = find_timestamp(head)
    if found is None and (match := _EPOCH_FIELD.search(data, start, start + 200)):
        found = _from_epoch(float(match.group(1)))
    return found
