"""Read a byte stream as chunks of whole lines, noting what is wrong with it on the way.

Chunks are large (megabytes) so that scanning runs over big buffers in C, and they end on
a record boundary where possible so a stack trace is not cut in two. Damaged input never
stops the read: overlong lines are cut, and a truncated compressed stream ends the file
with everything before the damage still analysed.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from paydiag.ingest.records import is_continuation
from paydiag.speedups import count_newlines, native

# Big enough that scanning runs in C over long buffers and the detectors see each minute in
# few pieces, small enough that the copies a chunk makes on its way stay a few MB. Against
# 1 MiB, 2 MiB ran 4 % faster on 210 MB and peaked 3 MB higher on 1 GB; 4 MiB was no faster.
CHUNK_SIZE = 2 << 20
MAX_LINE = 8 << 20
_BOUNDARY_TRIES = 64


def keep_freed_chunks() -> bool:
    """Keep the memory of chunks read for the next ones, where malloc is glibc's.

    It hands each freed chunk (two blocks of about CHUNK_SIZE) back to the system and
    faults the pages in again for the next: half the page faults of a pass, and 3 % of
    its time on 210 MB. Its heap now serves blocks below two chunks and keeps up to four
    chunks' worth free. For the command only (paydiag.__main__), which owns its process.
    """
    keep = native("keep_freed_memory")
    return bool(keep and keep(2 * CHUNK_SIZE, 4 * CHUNK_SIZE))


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
    damage: list[tuple[str, str]] = []
    carry = b""
    skipping = False  # inside the cut-off tail of an overlong line
    for block in _blocks(stream, state, chunk_size, damage):
        if skipping:
            newline = block.find(b"\n")
            if newline == -1:
                continue
            block, skipping = block[newline + 1 :], False
        # Only the line the carry ends with can grow past max_line: the rest are whole.
        start = carry.rfind(b"\n") + 1
        line_end = block.find(b"\n")
        overlong = len(carry) - start + (len(block) if line_end == -1 else line_end) > max_line
        # Every newline _cut_point() looks at is the block's until it runs out of them, so
        # where it cuts the block it cuts carry + block there too.
        cut = -1 if overlong else _cut_point(block)
        if cut != -1:  # the usual case: the chunk in one copy, not the two of the path below
            yield _chunk(b"".join((carry, memoryview(block)[: cut + 1])), state)
            carry = block[cut + 1 :]
            continue
        data = carry + block
        if overlong:
            yield _cut_line(data, start, state, max_line)
            if line_end == -1:
                carry, skipping = b"", True
                continue
            data = data[len(carry) + line_end + 1 :]
        cut = _cut_point(data)
        if cut == -1 and len(data) > max_line:
            cut = data.rfind(b"\n")  # a record of continuations only: give up keeping it whole
        if cut == -1:
            carry = data
            continue
        carry = data[cut + 1 :]
        yield _chunk(data[: cut + 1], state)
    if carry:
        yield _chunk(carry if carry.endswith(b"\n") else carry + b"\n", state)
    # The damage is in the last line read when the stream stopped inside a line.
    line = state.lines if carry or skipping else state.lines + 1
    for kind, message in damage:
        state.report_once(kind, line, message)


def _blocks(
    stream: ByteStream, state: ReadState, size: int, damage: list[tuple[str, str]]
) -> Iterator[bytes]:
    """The stream in blocks of `size` bytes (the last may be shorter), until EOF or damage.

    Reads go through read1 where the stream has it, so a truncated or corrupt stream still
    yields every byte decompressed before the damage; one large read() would lose them all.
    """
    parts: list[bytes] = []
    filled = 0
    while True:
        piece = _read_piece(stream, size - filled, damage)
        state.bytes_read += len(piece)
        parts.append(piece)
        filled += len(piece)
        if filled >= size or (not piece and filled):
            yield b"".join(parts)
            parts, filled = [], 0
        if not piece:
            return


def _read_piece(stream: ByteStream, size: int, damage: list[tuple[str, str]]) -> bytes:
    read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
    try:
        return read(size)
    except EOFError as error:
        damage.append(("truncated", f"compressed stream is truncated ({error})"))
    except (zlib.error, lzma.LZMAError) as error:
        damage.append(("damaged", f"compressed stream is damaged ({error})"))
    except OSError as error:
        # bz2 and gzip report corrupt data as OSError without an errno.
        kind = "read" if error.errno else "damaged"
        problem = "read error" if error.errno else "compressed stream is damaged"
        damage.append((kind, f"{problem} ({error.strerror or error})"))
    return b""


def _cut_line(data: bytes, start: int, state: ReadState, max_line: int) -> Chunk:
    """The lines before `start` and the first max_line bytes of the overlong line there."""
    line = state.lines + count_newlines(data, 0, start) + 1
    state.report_once(
        "long-line", line, f"line longer than {_size(max_line)}; analysed its first part"
    )
    end = start + max_line
    # Cut on a character boundary, so the cut itself is not reported as invalid UTF-8.
    for _ in range(3):
        if data[end] & 0xC0 != 0x80:
            break
        end -= 1
    return _chunk(data[:end] + b"\n", state)


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count:,} bytes"


def _cut_point(data: bytes) -> int:
    """The last newline followed by the start of a new record (not a continuation line).

    A newline at the very end does not count: the next read may continue its record. Nor
    does the newline before a partial last line: a cut-off `com.paypal.http.` cannot be told
    from the start of a record until its line is whole.
    """
    position = data.rfind(b"\n", 0, len(data) - 1)
    if not data.endswith(b"\n") and position != -1:
        position = data.rfind(b"\n", 0, position)
    for _ in range(_BOUNDARY_TRIES):
        if position == -1 or not is_continuation(data, position + 1):
            return position
        position = data.rfind(b"\n", 0, position)
    return data.rfind(b"\n")  # no record start near the end: cut off the continuations


def _chunk(data: bytes, state: ReadState) -> Chunk:
    chunk = Chunk(data, state.lines + 1)
    state.lines += count_newlines(data)
    _note_damage(chunk, state)
    return chunk


_NUL_PROBLEM = "binary data (NUL bytes); they are ignored"
_UTF8_PROBLEM = "invalid UTF-8; undecodable bytes shown as \ufffd"


def reported_after(message: str, earlier: Iterable[str]) -> bool:
    """Whether a read of the whole input reports a problem `message` after those it
    reported as `earlier`: one of each kind, and none of invalid UTF-8 after binary data.
    (For joining the problems of a file's byte ranges, read apart.)"""
    kinds = {_kind(problem) for problem in earlier}
    covered = {_kind(_UTF8_PROBLEM)} if _kind(_NUL_PROBLEM) in kinds else set()
    return _kind(message) not in kinds | covered


def _kind(message: str) -> str:
    return message.split(";")[0]


def _note_damage(chunk: Chunk, state: ReadState) -> None:
    """Report NUL bytes and invalid UTF-8 once per input, with the first line they are on.

    Binary data is undecodable by nature: one report says it, not two. So only the lines
    before the first NUL's are checked for UTF-8, in this chunk as in the whole input (the
    answer must not depend on where chunks end, and they end only between lines).
    """
    data = chunk.data
    nul = data.find(b"\x00")
    if not ({"utf8", "nul"} & state._reported or data.isascii()):
        try:
            (data if nul == -1 else data[: data.rfind(b"\n", 0, nul) + 1]).decode("utf-8")
        except UnicodeDecodeError as error:
            line = chunk.first_line + count_newlines(data, 0, error.start)
            state.report_once("utf8", line, _UTF8_PROBLEM)
    if nul != -1:
        line = chunk.first_line + count_newlines(data, 0, nul)
        state.report_once("nul", line, _NUL_PROBLEM)
