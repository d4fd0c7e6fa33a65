"""Read a byte stream as chunks of whole lines, noting what is wrong with it on the way.

Chunks are large (megabytes) so that scanning runs over big buffers in C, and they end on
a record boundary where possible so a stack trace is not cut in two. Damaged input never
stops the read: overlong lines are cut, and a truncated compressed stream ends the file
with everything before the damage still analysed.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

CHUNK_SIZE = 4 << 20
MAX_LINE = 8 << 20
_BOUNDARY_TRIES = 64


class ByteStream(Protocol):
    """What the reader needs of a (possibly decompressing) input."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Chunk:
    data: bytes
    first_line: int  # 1-based number of the chunk's first line


@dataclass(frozen=True)
class InputProblem:
    line: int
    message: str


@dataclass
class ReadState:
    """What the reader learnt about one input while reading it."""

    lines: int = 0
    bytes_read: int = 0
    problems: list[InputProblem] = field(default_factory=list)
    _reported: set[str] = field(default_factory=set)

    def report_once(self, kind: str, line: int, message: str) -> None:
        if kind not in self._reported:
            self._reported.add(kind)
            self.problems.append(InputProblem(line, message))


def read_chunks(
    stream: ByteStream,
    state: ReadState,
    chunk_size: int = CHUNK_SIZE,
    max_line: int = MAX_LINE,
) -> Iterator[Chunk]:
    carry = b""
    skipping = False  # inside the cut-off tail of an overlong line
    while True:
        block = _read_block(stream, state, chunk_size)
        if not block:
            break
        if skipping:
            newline = block.find(b"\n")
            if newline == -1:
                continue
            block, skipping = block[newline + 1 :], False
        data = carry + block
        cut = _cut_point(data)
        if cut == -1:
            if len(data) > max_line:
                state.report_once(
                    "long-line",
                    state.lines + 1,
                    f"line longer than {max_line >> 20} MiB; analysed its first part",
                )
                data, carry, skipping = data[:max_line] + b"\n", b"", True
                yield _chunk(data, state)
            else:
                carry = data
            continue
        carry = data[cut + 1 :]
        yield _chunk(data[: cut + 1], state)
    if carry:
        yield _chunk(carry + b"\n", state)


def _read_block(stream: ByteStream, state: ReadState, size: int) -> bytes:
    try:
        block = stream.read(size)
    except (EOFError, zlib.error) as error:
        state.report_once("truncated", state.lines + 1, f"compressed stream is truncated ({error})")
        return b""
    except OSError as error:
        state.report_once("read", state.lines + 1, f"read error: {error}")
        return b""
    state.bytes_read += len(block)
    return block


def _cut_point(data: bytes) -> int:
    """The last newline that is followed by a new record (not an indented continuation)."""
    position = data.rfind(b"\n")
    first = position
    for _ in range(_BOUNDARY_TRIES):
        if position == -1 or position + 1 >= len(data) or data[position + 1] not in b" \t":
            return position
        position = data.rfind(b"\n", 0, position)
    return first


def _chunk(data: bytes, state: ReadState) -> Chunk:
    chunk = Chunk(data, state.lines + 1)
    state.lines += data.count(b"\n")
    _note_damage(chunk, state)
    return chunk


def _note_damage(chunk: Chunk, state: ReadState) -> None:
    """Report NUL bytes and invalid UTF-8 once per input, with the first line they are on."""
    data = chunk.data
    nul = data.find(b"\x00")
    if nul != -1:
        line = chunk.first_line + data.count(b"\n", 0, nul)
        state.report_once("nul", line, "binary data (NUL bytes); they are ignored")
    if "utf8" in state._reported or data.isascii():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = chunk.first_line + data.count(b"\n", 0, error.start)
        state.report_once("utf8", line, "invalid UTF-8; undecodable bytes shown as \ufffd")
