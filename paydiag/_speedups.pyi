# The C scan of paydiag.parse.activity (built from _speedups.c where a compiler is at hand).
from array import array
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Literal

from paydiag.diagnose.incidents.model import ActivityColumns, MinuteGroup
from paydiag.parse.activity import ActivityLine

_Moment = tuple[int, int] | None  # (series.minute_key, micros into the minute)

class ActivityScanner:
    def __init__(
        self,
        words: list[tuple[bytes, int, int]],
        gateways: tuple[str, ...],
        stages: tuple[str, ...],
        environments: tuple[str, ...],
        flags: bytes,
        shape_rank: int,
        max_duration_ms: float,
        buckets: tuple[float, float],  # event.duration_bucket(): (BUCKET_FLOOR_MS, BUCKET_STEP)
    ) -> None: ...
    def scan(self, chunk: bytes) -> list[ActivityLine]: ...
    def batch(
        self,
        chunk: bytes,
        first_line: int,
        skips: list[tuple[int, int]],
        gateway: str | None,
        since: _Moment,
        until: _Moment,
        last: _Moment,
        minute_of: Callable[[str, str, str | None], int | None],
        time_of: Callable[[int], _Moment],
        rows: tuple[int, float, bool] | None,
    ) -> tuple[ActivityColumns, list[MinuteGroup]]: ...

class LiteralScanner:
    def __init__(
        self,
        words: list[tuple[bytes, int, int]],
        patterns: list[list[list[tuple[bytes, ...]]]],
    ) -> None: ...
    def hits(self, chunk: bytes) -> list[int]: ...

def builtin_ids(
    text: str,
    fields: dict[str, list[object]],
    transaction_ranks: dict[str, int],
    request_ranks: dict[str, int],
    /,
) -> tuple[dict[str, None], dict[str, None]] | None: ...
def count_newlines(data: bytes, start: int = 0, end: int = ..., /) -> int: ...
def record_spans(
    chunk: bytes, first_line: int, hits: Iterable[int], multiline: bool, most_lines: int, /
) -> list[tuple[int, int, int]]: ...

_CreepRules = tuple[int, int, int, int, int, float, float, float]

def creep_episodes(
    minutes: array[int],
    pages: list[tuple[int, array[int]]],
    values: Sequence[float],
    rules: _CreepRules,
) -> list[list[tuple[int, float, float]]]:
    """LatencyDetector._episodes_walked over `minutes` (increasing), each minute's histogram
    read from `pages` (LabelCounts.pages() of the gateway, which may hold other minutes
    too; a minute they lack has none): `rules` are (window_minutes, baseline_minutes,
    min_samples, merge_gap_minutes, min_creep_minutes, creep_factor, the creep factor of
    the current bucket width, min_increase_ms); `values` the milliseconds of each label
    (1 to 512 of them), which every label in the pages must have."""

def text_fields(text: str, fields: dict[str, list[object]], /) -> bool:
    """fields._add_text_fields for an ASCII record: adds its XML elements and key/value
    pairs to `fields` and returns True, or returns False having added nothing (the text is
    not ASCII, or a bare value reaches 200 characters) for Python to read it."""

def text_facts(
    text: str, lowered: str, gateways: tuple[tuple[str, tuple[str, ...]], ...], /
) -> tuple[str | None, int | None, str | None, str | None] | None:
    """event.text_facts_in_python(text, lowered) for ASCII text (`lowered` is text.lower(),
    `gateways` event.GATEWAY_MARKERS); None for any other text."""

def iso_time(
    head: str, minute_of: Callable[[str, str, str | None], tuple[int, int, int, int, int] | None], /
) -> datetime | Literal[False] | None:
    """timestamps.iso_in_python(head) for ASCII `head` (a TypeError for other text), whose
    UTC minutes it asks of `minute_of` (timestamps.iso_minute)."""

def coarsen_cells(cells: array[int], /) -> bytes:
    """series.relabelled(cells, label >> 1) for one LabelCounts page (sorted cells, as
    pages keep them), as the machine bytes of the new cells."""

def encode_cells(totals: dict[int, int], shift: int = 0, /) -> bytes:
    """series.encoded_in_python(totals, shift) as the machine bytes of the cells (an
    OverflowError for a shift beyond any cell's key)."""

def keep_freed_memory(mmap_threshold: int, trim_threshold: int, /) -> bool:
    """Whether glibc's malloc now serves blocks smaller than `mmap_threshold` bytes from its
    heap and keeps up to `trim_threshold` bytes free at the heap's top (False elsewhere)."""
