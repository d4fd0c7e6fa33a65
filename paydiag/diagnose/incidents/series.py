"""Per-minute state of the detectors, stored compactly so memory stays flat.

Detectors keep numbers per key (a gateway, or a gateway and source) and minute. A dict of
objects per minute costs a few hundred bytes a minute; a month of minutes for a handful of
gateways and five detectors then grows past 100 MB. These structures hold the same numbers
in arrays instead, and each has a cap, so memory depends on the caps, not on the input size:

- `MinuteTable`: a row of int32 cells per key and minute (counts, and times as microseconds
  into the minute), plus float64 cells for sums of durations, in pages of 256 minutes made
  as minutes are first seen; the cells only failing minutes need are made per page on first
  use. At most MAX_MINUTES minutes per key (four weeks of one gateway) and
  MAX_TABLE_MINUTES in all (six such series), first come first kept, as the per-minute dicts
  were. At the caps a table is 241,920 rows: 16 bytes a row (outage), 4 (rate limits), 12
  (credentials, latency) and 12 to 16 more where calls fail, so 4 to 7 MB a detector.
- `LabelCounts`: counts per key, minute and small label (a latency bucket, a failure
  reason), 4 bytes per (minute, label) seen, kept for the minutes a table kept.
- `IdSample`: distinct transaction IDs per key and minute, at most `limit` in all (100 to
  300 bytes each). Beyond it, only the IDs whose CRC-32 has its low `level` bits zero are
  kept, so which are kept depends on the IDs alone and a run split over processes keeps the
  same.

The detectors' budget at every cap, all gateways failing in every minute: tables about
25 MB, latency cells 4 MB, IDs 4 MB, orders (limbo) 8 MB; a log whose failures are the usual
few gateways and minutes needs half that.

Minutes are ints (minutes since 0001-01-01, UTC), not datetimes: `minute_key()` and
`minute_start()` convert, `micros()` and `moment_at()` do the same for times in a minute,
`instant()` and `moment_of()` for times as one int.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from paydiag import speedups
from paydiag.diagnose.incidents.common import MAX_GATEWAYS, add_counts

K = TypeVar("K", bound=Hashable)

MAX_KEYS = MAX_GATEWAYS  # gateways (or gateway and source pairs) a table keeps
MAX_MINUTES = 40_320  # four weeks of minutes per key
MAX_TABLE_MINUTES = 6 * MAX_MINUTES  # minutes per table over all its keys
PAGE_MINUTES = 256  # rows of a MinuteTable page: few objects, and a quiet key wastes little
_PAGE_BITS = 8
_OFFSET = PAGE_MINUTES - 1
_FIRST_DAY = datetime(1, 1, 1, tzinfo=UTC)
NO_TIME = -1  # a time cell with nothing in it


def id_hash(identifier: str) -> int:
    """The hash IDs are sampled by (a sample keeps those whose low bits are zero): CRC-32 of
    the UTF-8, stable across runs and processes, and computed in C for activity rows too."""
    return zlib.crc32(identifier.encode())


def minute_key(moment: datetime) -> int:
    """The minute `moment` is in, as an int (a naive time is taken as UTC, as logs are)."""
    return (moment.toordinal() * 24 + moment.hour) * 60 + moment.minute


def minute_start(key: int) -> datetime:
    return _FIRST_DAY + timedelta(minutes=key - 1440)


def micros(moment: datetime) -> int:
    """Microseconds into its minute."""
    return moment.second * 1_000_000 + moment.microsecond


def minute_and_micros(moment: datetime | None) -> tuple[int, int] | None:
    """`moment` as the two ints rows keep (the inverse of moment_at)."""
    return None if moment is None else (minute_key(moment), micros(moment))


MICROS_PER_MINUTE = 60_000_000


def instant(moment: datetime) -> int:
    """`moment` as one int, microseconds since minute 0 (`minute * MICROS_PER_MINUTE +
    micro` of a batch row): cheaper than a datetime to make and compare, row after row."""
    return minute_key(moment) * MICROS_PER_MINUTE + micros(moment)


def moment_of(point: int) -> datetime:
    """The time an `instant()` stands for."""
    return _FIRST_DAY + timedelta(minutes=-1440, microseconds=point)


def moment_at(key: int, micro: int) -> datetime | None:
    """The time `micro` microseconds into minute `key` (None for NO_TIME)."""
    if micro < 0:
        return None
    return _FIRST_DAY + timedelta(minutes=key - 1440, microseconds=micro)


def keep_earliest(cells: array[int], index: int, micro: int) -> None:
    current = cells[index]
    if current < 0 or micro < current:
        cells[index] = micro


def keep_latest(cells: array[int], index: int, micro: int) -> None:
    if micro > cells[index]:
        cells[index] = micro


class Page:
    """256 rows of a MinuteTable: `ints[offset * width + column]`, `floats` and `extra` alike.

    `extra` holds the columns only some minutes need (failures and their times): None until
    the first of them is written, so a gateway that never fails does not pay for them.
    """

    __slots__ = ("extra", "floats", "ints")

    def __init__(self, ints: array[int], floats: array[float]) -> None:
        self.ints = ints
        self.floats = floats
        self.extra: array[int] | None = None


@dataclass(frozen=True)
class Columns:
    """One key's rows of a MinuteTable, column by column: 8 bytes a cell, not an object a
    minute, so that a detector can scan four weeks of minutes without a burst of memory."""

    minutes: array[int]  # minute_key()
    ints: tuple[array[int], ...]
    extra: tuple[array[int], ...]
    floats: tuple[array[float], ...]


class MinuteTable(Generic[K]):
    """Rows of numbers per key and minute, made as minutes are first seen.

    `columns` and `extra` say how each int cell merges: `+` a count, `<` the earliest and `>`
    the latest time in the minute (microseconds, NO_TIME for none). The first column must be a
    count that every observation of the minute adds to: a row whose first cell is 0 was never
    seen. The `floats` float64 cells are sums.
    """

    def __init__(
        self,
        columns: str,
        floats: int = 0,
        *,
        extra: str = "",
        max_keys: int = MAX_KEYS,
        max_minutes: int = MAX_MINUTES,
        max_total: int = MAX_TABLE_MINUTES,
    ) -> None:
        assert columns[:1] == "+" and set(columns + extra) <= set("+<>")
        self._columns = columns
        self._extra_columns = extra
        self.width = len(columns)
        self.extra_width = len(extra)
        self.float_width = floats
        self._blank = _blank_page(columns)
        self._blank_extra = _blank_page(extra)
        # A table without floats shares one empty array among its pages.
        self._blank_floats = array("d", [0.0] * (floats * PAGE_MINUTES))
        self._no_floats = array("d")
        self._pages: dict[K, dict[int, Page]] = {}
        self._max_keys = max_keys
        self._max_key_pages = -(-max_minutes // PAGE_MINUTES)
        self._max_pages = -(-max_total // PAGE_MINUTES)
        self._page_count = 0

    def row(self, key: K, minute: int) -> tuple[Page, int] | None:
        """The page holding `key`'s `minute` and the minute's offset in it; None over a cap."""
        number = minute >> _PAGE_BITS
        pages = self._pages.get(key)
        page = pages.get(number) if pages is not None else None
        if page is None:
            if not self._has_room(key):
                return None
            floats = array("d", self._blank_floats) if self.float_width else self._no_floats
            page = Page(array("i", self._blank), floats)
            self._add(key, number, page)
        return page, minute & _OFFSET

    def count(self, key: K, minute: int, calls: int) -> tuple[Page, int] | None:
        """`row()`, with `calls` added to the minute's count (its first column)."""
        found = self.row(key, minute)
        if found is not None:
            page, offset = found
            page.ints[offset * self.width] += calls
        return found

    def extra(self, page: Page) -> array[int]:
        """The page's extra cells (`extra[offset * extra_width + column]`), made on first use."""
        if page.extra is None:
            page.extra = array("i", self._blank_extra)
        return page.extra

    def _has_room(self, key: K) -> bool:
        pages = self._pages.get(key)
        if pages is None:
            return len(self._pages) < self._max_keys and self._page_count < self._max_pages
        return len(pages) < self._max_key_pages and self._page_count < self._max_pages

    def _add(self, key: K, number: int, page: Page) -> None:
        self._pages.setdefault(key, {})[number] = page
        self._page_count += 1

    def __iter__(self) -> Iterator[K]:
        """The keys with rows."""
        return iter(list(self._pages))

    def rows(self, key: K) -> Iterator[tuple[int, Page, int]]:
        """(minute, page, offset) of every minute seen for `key`, in time order."""
        pages = self._pages.get(key, {})
        width = self.width
        for number in sorted(pages):
            page = pages[number]
            ints = page.ints
            for offset in range(PAGE_MINUTES):
                if ints[offset * width]:
                    yield number << _PAGE_BITS | offset, page, offset

    def columns(self, key: K) -> Columns:
        """`key`'s minutes seen, in time order, as one array per column."""
        found = Columns(
            array("q"),
            tuple(array("q") for _ in range(self.width)),
            tuple(array("q") for _ in range(self.extra_width)),
            tuple(array("d") for _ in range(self.float_width)),
        )
        pages = self._pages.get(key, {})
        for number in sorted(pages):
            page = pages[number]
            # Column by column, as strided slices of the page: cell by cell, this was most of
            # the outage conclusion on a month of minutes.
            counts = page.ints[:: self.width]
            seen = [offset for offset, count in enumerate(counts) if count]
            found.minutes.extend(number << _PAGE_BITS | offset for offset in seen)
            extra = page.extra if page.extra is not None else self._blank_extra
            _append_columns(found.ints, page.ints, seen)
            _append_columns(found.extra, extra, seen)
            _append_columns(found.floats, page.floats, seen)
        return found

    def merge(self, later: MinuteTable[K]) -> None:
        """Fold in a table of the same shape: shared rows combined, new pages added while the
        caps leave room (in the order `later` made them, as if its input had come here)."""
        for key, pages in later._pages.items():
            for number, page in pages.items():
                mine = self._pages.get(key, {}).get(number)
                if mine is None:
                    if self._has_room(key):
                        self._add(key, number, page)
                else:
                    self._combine(mine, page)

    def _combine(self, mine: Page, later: Page) -> None:
        width, floats, extra_width = self.width, self.float_width, self.extra_width
        later_extra = later.extra
        if mine.extra is None:
            mine.extra, later_extra = later.extra, None  # nothing of mine to add to
        for offset in range(PAGE_MINUTES):
            if not later.ints[offset * width]:
                continue
            _combine_row(mine.ints, later.ints, offset * width, self._columns)
            for index in range(offset * floats, (offset + 1) * floats):
                mine.floats[index] += later.floats[index]
            if later_extra is not None and mine.extra is not None:
                _combine_row(mine.extra, later_extra, offset * extra_width, self._extra_columns)


def _append_columns(columns: tuple[array[Any], ...], cells: array[Any], offsets: list[int]) -> None:
    """Append to each of `columns` its cells of a page (`cells`, row by row) at `offsets`
    (increasing): all of a column at once for a full page."""
    for column, values in enumerate(columns):
        picked = cells[column :: len(columns)]
        if len(offsets) == len(picked):
            values.fromlist(picked.tolist())
        else:
            values.fromlist([picked[offset] for offset in offsets])


def _blank_page(columns: str) -> array[int]:
    return array("i", [NO_TIME if op in "<>" else 0 for op in columns] * PAGE_MINUTES)


def _combine_row(mine: array[int], later: array[int], start: int, columns: str) -> None:
    for column, op in enumerate(columns):
        index = start + column
        value = later[index]
        if op == "+":
            mine[index] += value
        elif op == "<" and value >= 0:
            keep_earliest(mine, index, value)
        elif op == ">":
            keep_latest(mine, index, value)


_COUNT_BITS = 17
_LABEL_BITS = 9
MAX_LABEL = (1 << _LABEL_BITS) - 1
_MAX_COUNT = (1 << _COUNT_BITS) - 1
_MINUTE_SHIFT = _LABEL_BITS + _COUNT_BITS
_CELL_PAGE_BITS = 6  # LabelCounts pages are 64 minutes: a minute's offset takes 6 bits
_CELL_OFFSET = (1 << _CELL_PAGE_BITS) - 1
_native_coarsen = speedups.native("coarsen_cells")
_native_encode = speedups.native("encode_cells")


class LabelCounts(Generic[K]):
    """Counts per key, minute and label (0 to MAX_LABEL): latency buckets, failure reasons.

    Each (minute, label) seen is one uint32 cell, `offset << 26 | label << 17 | count`, in one
    sorted array per key and page of 64 minutes; a count above 131,071 takes more cells.
    """

    def __init__(self) -> None:
        self._pages: dict[K, dict[int, array[int]]] = {}
        self.cells = 0  # cells held, the measure of its memory (4 bytes each)

    def add(self, key: K, minute: int, counts: dict[int, int], label_shift: int = 0) -> None:
        """Add `counts` to `key`'s `minute`, each count under the label `its key +
        label_shift` (latency adds its buckets so, as they are, rather than making a dict of
        labels for every minute)."""
        pages = self._pages.setdefault(key, {})
        number, offset = minute >> _CELL_PAGE_BITS, minute & _CELL_OFFSET
        cells = pages.get(number)
        if cells is None:
            cells = pages[number] = array("I")
        low = bisect_left(cells, offset << _MINUTE_SHIFT)
        high = bisect_left(cells, (offset + 1) << _MINUTE_SHIFT, low)
        base = (offset << _LABEL_BITS) + label_shift  # + label: offset << 9 | label
        if low == high:  # a minute not seen before (the usual case): nothing to add to
            packed = _encode(counts, base)
        else:
            totals = _decode(cells[low:high])
            for label, count in counts.items():
                totals[base + label] = totals.get(base + label, 0) + count
            packed = _encode(totals)
        cells[low:high] = packed
        self.cells += len(packed) - (high - low)

    def get(self, key: K, minute: int) -> dict[int, int]:
        """`key`'s counts in `minute`, label -> count."""
        cells = self._pages.get(key, {}).get(minute >> _CELL_PAGE_BITS)
        if not cells:
            return {}
        offset = minute & _CELL_OFFSET
        low = bisect_left(cells, offset << _MINUTE_SHIFT)
        high = bisect_left(cells, (offset + 1) << _MINUTE_SHIFT, low)
        return _minute_counts(cells[low:high])

    def minutes(self, key: K) -> Iterator[tuple[int, dict[int, int]]]:
        """(minute, get(key, minute)) for every minute of `key` with counts, in time order,
        each page read once (get() looks each minute up on its own)."""
        for number, cells in self.pages(key):
            for offset, counts in page_minutes(cells):
                yield number << _CELL_PAGE_BITS | offset, counts

    def pages(self, key: K) -> list[tuple[int, array[int]]]:
        """`key`'s pages, (number, cells) in time order: its counts as the C walk of latency
        creep reads them, without a dict for every minute."""
        return sorted(self._pages.get(key, {}).items())

    def relabel(self, new_label: Callable[[int], int]) -> None:
        """Give every count a new label (labels that become one are added together)."""
        self._repack(lambda cells: relabelled(cells, new_label))

    def coarsen(self) -> None:
        """relabel() every label to half of it, in C where it is built."""
        self._repack(coarsened)

    def _repack(self, repacked: Callable[[array[int]], array[int]]) -> None:
        self.cells = 0
        for pages in self._pages.values():
            for number, cells in pages.items():
                pages[number] = repacked(cells)
                self.cells += len(pages[number])

    def merge(self, later: LabelCounts[K]) -> None:
        for key, pages in later._pages.items():
            mine = self._pages.setdefault(key, {})
            for number, cells in pages.items():
                current = mine.get(number)
                if current is None:
                    mine[number] = cells
                    self.cells += len(cells)
                    continue
                totals = _decode(current)
                add_counts(totals, _decode(cells))
                mine[number] = _encode(totals)
                self.cells += len(mine[number]) - len(current)


def _minute_counts(cells: Iterable[int]) -> dict[int, int]:
    """Label -> count of one minute's cells (sorted, as a page keeps them)."""
    # Runs for every cell of a gateway's minutes in incidents(): one shift a cell, and a
    # count spread over several cells found by its neighbour, not by a lookup.
    counts: dict[int, int] = {}
    previous = -1
    for cell in cells:
        key = cell >> _COUNT_BITS  # offset << 9 | label, the same for the whole minute
        if key == previous:
            counts[key & MAX_LABEL] += cell & _MAX_COUNT
        else:
            counts[key & MAX_LABEL] = cell & _MAX_COUNT
            previous = key
    return counts


def page_minutes(cells: array[int]) -> list[tuple[int, dict[int, int]]]:
    """Each minute's offset in a page and its label -> count, in order."""
    found = []
    low = 0
    while low < len(cells):
        offset = cells[low] >> _MINUTE_SHIFT
        high = bisect_left(cells, (offset + 1) << _MINUTE_SHIFT, low)
        found.append((offset, _minute_counts(cells[low:high])))
        low = high
    return found


def relabelled(cells: Iterable[int], new_label: Callable[[int], int]) -> array[int]:
    """A page's cells, each count under `new_label` of its label."""
    totals: dict[int, int] = {}
    for cell, count in _decode(cells).items():
        moved = cell >> _LABEL_BITS << _LABEL_BITS | new_label(cell & MAX_LABEL)
        totals[moved] = totals.get(moved, 0) + count
    return _encode(totals)


def _half(label: int) -> int:
    return label >> 1


def coarsened(cells: array[int]) -> array[int]:
    """relabelled(cells, _half), in C where it is built (a month of minutes is millions of
    cells, relabelled in Python at about half a microsecond each)."""
    if _native_coarsen is None:
        return relabelled(cells, _half)
    coarse = array("I")
    coarse.frombytes(_native_coarsen(cells))
    return coarse


def _decode(cells: Iterable[int]) -> dict[int, int]:
    """Count per `offset << 9 | label`."""
    totals: dict[int, int] = {}
    for cell in cells:
        key = cell >> _COUNT_BITS
        totals[key] = totals.get(key, 0) + (cell & _MAX_COUNT)
    return totals


def _encode(totals: dict[int, int], shift: int = 0) -> array[int]:
    """The cells of `totals` (count per `offset << 9 | label`, that key less `shift`), in
    C where it is built."""
    if _native_encode is None:
        return encoded_in_python(totals, shift)
    cells = array("I")
    cells.frombytes(_native_encode(totals, shift))
    return cells


def encoded_in_python(totals: dict[int, int], shift: int = 0) -> array[int]:
    """_encode() in Python: the reference of the C form."""
    cells = array("I")
    for key, count in sorted(totals.items()):
        base = (key + shift) << _COUNT_BITS
        while count > _MAX_COUNT:
            cells.append(base | _MAX_COUNT)
            count -= _MAX_COUNT
        if count:
            cells.append(base | count)
    return cells


_LIST_IDS = 16  # a minute's IDs are a list up to this many (most have one or two), then a dict
_Ids = list[str] | dict[str, None]


class IdSample(Generic[K]):
    """Distinct IDs per key and minute, in the order seen; at most `limit`, then a sample."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.level = 0  # the IDs kept are 1 in 2**level (all of them at level 0)
        self.size = 0
        self._ids: dict[K, dict[int, _Ids]] = {}

    @property
    def one_in(self) -> int:
        return 1 << self.level

    def add(self, key: K, minute: int, value: str) -> None:
        if self.level and not self._kept(value):
            return
        minutes = self._ids.get(key)
        if minutes is None:
            minutes = self._ids[key] = {}
        ids = minutes.get(minute)
        if ids is None:
            minutes[minute] = [value]
        elif value in ids:
            return
        elif isinstance(ids, dict):
            ids[value] = None
        elif len(ids) < _LIST_IDS:
            ids.append(value)
        else:
            minutes[minute] = dict.fromkeys([*ids, value])
        self.size += 1
        if self.size > self.limit:
            self._thin(self.level)

    def between(self, key: K, first: int, last: int) -> dict[str, None]:
        """The distinct IDs of `key` in minutes `first` to `last`, in time order."""
        found: dict[str, None] = {}
        minutes = self._ids.get(key, {})
        for minute in sorted(m for m in minutes if first <= m <= last):
            found.update(dict.fromkeys(minutes[minute]))
        return found

    def merge(self, later: IdSample[K]) -> None:
        level = max(self.level, later.level)
        self._thin(level)
        later._thin(level)
        for key, minutes in later._ids.items():
            mine = self._ids.setdefault(key, {})
            for minute, ids in minutes.items():
                current = mine.get(minute)
                if current is None:
                    mine[minute] = ids
                    self.size += len(ids)
                else:
                    mine[minute] = _distinct([*current, *ids])
                    self.size += len(mine[minute]) - len(current)
        self._thin(self.level)

    def _kept(self, value: str) -> bool:
        return id_hash(value) & ((1 << self.level) - 1) == 0

    def _thin(self, level: int) -> None:
        """Keep only the IDs sampled at `level`, raising it until they fit the limit."""
        while self.level < level or self.size > self.limit:
            self.level = max(level, self.level + 1)
            self.size = 0
            for minutes in self._ids.values():
                for minute in list(minutes):
                    kept = _distinct([i for i in minutes[minute] if self._kept(i)])
                    if kept:
                        minutes[minute] = kept
                        self.size += len(kept)
                    else:
                        del minutes[minute]


def _distinct(values: list[str]) -> _Ids:
    """The values once each, in order: a list while short, else a dict (a set kept in order)."""
    distinct = dict.fromkeys(values)
    return list(distinct) if len(distinct) <= _LIST_IDS else distinct
