"""Cut the records around scanner hits out of a chunk.

A record is one log line plus its continuation lines (indented stack frames, `Caused by:`,
a Python traceback, a dotted exception class line), so a rule sees an error with the
line that logged it. Only records around hits are cut, which keeps the cost of a chunk
proportional to its errors rather than to its lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import starmap
from typing import Final

from paydiag.speedups import count_newlines, native

MAX_RECORD_LINES = 200
_CONTINUATION = re.compile(
    rb"[ \t]|Caused by:|Traceback \(most recent call last\)|\.\.\. \d+ more"
    rb"|(?:[A-Za-z_$][\w$]*\.)+[\w$]*(?:Exception|Error)[\w$]*(?=:|\r?\n|\r?$)"
)


# Read-only by Final fields, not frozen (one is made per error record; see parse.event.Event).
@dataclass(slots=True)
class Span:
    start: Final[int]
    end: Final[int]  # exclusive, without the final newline
    line: Final[int]  # 1-based line number of `start`


def is_continuation(chunk: bytes, line_start: int) -> bool:
    return _CONTINUATION.match(chunk, line_start) is not None


# The C form of record_spans_in_python, where it is built.
_native_record_spans = native("record_spans")


def record_spans(
    chunk: bytes, first_line: int, hits: Iterable[int], multiline: bool = True
) -> Iterator[Span]:
    """Unique record spans around `hits`, in order, with their line numbers."""
    if _native_record_spans is None:
        return record_spans_in_python(chunk, first_line, hits, multiline)
    found = _native_record_spans(chunk, first_line, hits, multiline, MAX_RECORD_LINES)
    return starmap(Span, found)


def record_spans_in_python(
    chunk: bytes, first_line: int, hits: Iterable[int], multiline: bool = True
) -> Iterator[Span]:
    """record_spans() by the regex: the reference of the C form."""
    line_starts = sorted({chunk.rfind(b"\n", 0, hit) + 1 for hit in hits})
    counted_to, line = 0, first_line
    previous_end = -1
    for line_start in line_starts:
        if line_start <= previous_end:
            continue
        start, end = line_start, _line_end(chunk, line_start)
        if multiline:
            start = _walk_back(chunk, line_start, previous_end)
            end = _walk_forward(chunk, end)
        line += count_newlines(chunk, counted_to, start)
        counted_to = start
        previous_end = end
        yield Span(start, end, line)


def _line_end(chunk: bytes, start: int) -> int:
    end = chunk.find(b"\n", start)
    return len(chunk) if end == -1 else end


def _walk_back(chunk: bytes, start: int, floor: int) -> int:
    for _ in range(MAX_RECORD_LINES):
        if start == 0 or start <= floor + 1 or not is_continuation(chunk, start):
            return start
        start = chunk.rfind(b"\n", 0, start - 1) + 1
    return start


def _walk_forward(chunk: bytes, end: int) -> int:
    for _ in range(MAX_RECORD_LINES):
        next_start = end + 1
        if next_start >= len(chunk) or not is_continuation(chunk, next_start):
            return end
        end = _line_end(chunk, next_start)
    return end


def decode(data: bytes) -> str:
    """Record bytes as text: CRLF and NUL bytes dropped, bad UTF-8 replaced, never raising."""
    text = data.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").rstrip("\r")
    return text.replace("\x00", "") if "\x00" in text else text
