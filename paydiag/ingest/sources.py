"""Turn the paths a user gives (files, folders, globs, `-`) into byte streams.

Compression is detected by content (magic bytes), not by file name, so a rotated
`app.log.1` that is really gzip is read correctly.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import importlib
import io
import lzma
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paydiag.ingest.chunks import ByteStream

STDIN = "-"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Source:
    """One input: a file path, or `-` for standard input."""

    name: str

    @property
    def is_stdin(self) -> bool:
        return self.name == STDIN


@dataclass(frozen=True)
class InputError:
    """An input that could not be used at all (missing, unreadable, empty glob)."""

    name: str
    message: str


def expand_inputs(arguments: Sequence[str]) -> tuple[list[Source], list[InputError]]:
    sources: list[Source] = []
    errors: list[InputError] = []
    for argument in arguments:
        if argument == STDIN:
            sources.append(Source(STDIN))
            continue
        path = Path(argument)
        if path.is_dir():
            sources.extend(Source(str(p)) for p in sorted(path.rglob("*")) if p.is_file())
        elif path.exists():
            sources.append(Source(argument))
        elif _GLOB_CHARS & set(argument):
            # glob.glob, not Path.glob: users pass absolute and `**` patterns alike.
            matches = sorted(glob.glob(argument, recursive=True))  # noqa: PTH207
            files = [m for m in matches if Path(m).is_file()]
            sources.extend(Source(m) for m in files)
            if not files:
                errors.append(InputError(argument, "no files match this pattern"))
        else:
            errors.append(InputError(argument, "no such file or directory"))
    return list(dict.fromkeys(sources)), errors  # a file named twice is read once


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def compression_of(head: bytes) -> str | None:
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def open_source(source: Source) -> tuple[ByteStream, str | None]:
    """A binary stream of the source's decompressed content, and the compression found.

    Raises OSError for a file that cannot be opened, and for zstd input when the optional
    `zstandard` package is missing.
    """
    raw = _stdin() if source.is_stdin else Path(source.name).open("rb")  # noqa: SIM115
    head = raw.peek(8)[:8]
    compression = compression_of(head)
    if compression is None:
        return raw, None
    return _decompressor(compression, raw), compression


def _stdin() -> io.BufferedReader:
    """Standard input as a peekable byte stream (it may be a pipe, or a test's buffer)."""
    stream: Any = sys.stdin.buffer
    return stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)


def _decompressor(compression: str, raw: io.BufferedReader) -> ByteStream:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw)
    if compression == "bzip2":
        return bz2.BZ2File(raw)
    if compression == "xz":
        return lzma.LZMAFile(raw)
    try:
        zstandard: Any = importlib.import_module("zstandard")
    except ImportError:
        raw.close()
        raise OSError("zstd-compressed; install the 'zstandard' package to read it") from None
    reader: ByteStream = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    return reader
