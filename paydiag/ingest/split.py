"""Split the work of one analysis into units that processes can take in parallel.

A unit is a whole input, or a byte range of a large plain file. Ranges start on a record
boundary (a line that is not an indented continuation), so no record is cut in two and
each range is read exactly as the whole-file read would have read it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from paydiag.ingest.records import is_continuation
from paydiag.ingest.sources import Source, compression_of

# Below this a file is not worth splitting: process start-up costs more than it saves.
MIN_SPLIT_BYTES = 32 << 20
_PROBE = 1 << 16


@dataclass(frozen=True)
class WorkUnit:
    source: Source
    start: int = 0
    end: int | None = None  # exclusive; None reads to the end

    @property
    def is_range(self) -> bool:
        return self.start > 0 or self.end is not None


def worth_parallel(sources: Sequence[Source]) -> bool:
    """Whether the inputs are large enough to repay starting worker processes."""
    total = 0
    for source in sources:
        with contextlib.suppress(OSError):
            total += 0 if source.is_stdin else Path(source.name).stat().st_size
    return total >= MIN_SPLIT_BYTES


def plan_units(sources: Sequence[Source], jobs: int) -> list[WorkUnit]:
    """One unit per input, large plain files cut into `jobs` ranges, in input order."""
    units: list[WorkUnit] = []
    for source in sources:
        size = _splittable_size(source) if jobs > 1 else 0
        if size < MIN_SPLIT_BYTES:
            units.append(WorkUnit(source))
            continue
        cuts = sorted(
            {record_boundary(Path(source.name), size * i // jobs) for i in range(1, jobs)}
        )
        edges = [0, *[c for c in cuts if 0 < c < size], size]
        units.extend(WorkUnit(source, a, b) for a, b in pairwise(edges) if a < b)
    return units


def _splittable_size(source: Source) -> int:
    if source.is_stdin:
        return 0
    path = Path(source.name)
    try:
        with path.open("rb") as handle:
            if compression_of(handle.read(8)) is not None:
                return 0
        return path.stat().st_size
    except OSError:
        return 0


def record_boundary(path: Path, offset: int) -> int:
    """The first record start at or after `offset` (the file size if there is none).

    A record starts after a newline, on a line that is not a continuation (an indented
    frame, `Caused by:`, an exception class line): the same rule the reader cuts by.
    """
    if offset <= 0:
        return 0
    with path.open("rb") as handle:
        handle.seek(offset - 1)
        position = offset - 1  # a newline just before `offset` makes `offset` a start
        while block := handle.read(_PROBE):
            # Look at whole lines only (a cut-off `com.paypal.http.` is no record start):
            # up to the block's last newline, reading on only while it has none past its
            # first byte. (Reading on until a block ended on a newline read megabytes.)
            while (last := block.rfind(b"\n")) <= 0 and (more := handle.read(_PROBE)):
                block += more
            if last > 0:
                block = block[: last + 1]
            newline = block.find(b"\n")
            while newline != -1 and newline + 1 < len(block):
                if not is_continuation(block, newline + 1):
                    return position + newline + 1
                newline = block.find(b"\n", newline + 1)
            if len(block) <= 1:
                return position + len(block)
            # Step back one byte so the next block starts with this one's last newline.
            position += len(block) - 1
            handle.seek(position)
    return position


class RangeReader:
    """A binary file read from `start` to `end` only."""

    def __init__(self, path: Path, start: int, end: int | None) -> None:
        self._handle = path.open("rb")
        self._handle.seek(start)
        self._remaining = None if end is None else end - start

    def read(self, size: int = -1, /) -> bytes:
        if self._remaining is None:
            return self._handle.read(size)
        want = self._remaining if size < 0 else min(size, self._remaining)
        data = self._handle.read(want)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()
