"""A small content-addressed cache in the user's cache folder (XDG_CACHE_HOME).

Entries are named by a hash of everything that produced them, so a stale entry is never
read; a cache that cannot be read or written only costs the work it would have saved.
Entries are data (JSON, a Hyperscan database), never pickles: nothing in it runs code.
Each starts with a checksum of its data, so an entry that was truncated, damaged or edited
by hand is ignored (and written again) rather than trusted; and the least recently used
entries go once the folder outgrows MAX_CACHE_BYTES, so editing custom rules (each version
an entry) does not fill the disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zlib
from functools import cache
from pathlib import Path

_MAGIC = b"paydiag-cache-1 "
_HEADER = len(_MAGIC) + 9  # the magic, eight hex digits of CRC-32, a newline
# The built-in catalog (16 files), its requirements and a Hyperscan database take about
# 5 MB; the rest is room for custom rules and other versions.
MAX_CACHE_BYTES = 64 << 20


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paydiag"


def cache_key(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:32]


@cache
def code_fingerprint(*files: Path) -> bytes:
    """The text of the files whose code produces an entry, for its key: a change to that
    code makes a new entry rather than reading one the old code wrote."""
    return b"".join(file.read_bytes() for file in files)


def read_cached(name: str) -> bytes | None:
    """The data stored under `name`, or None when there is none or it fails its checksum."""
    path = cache_dir() / name
    try:
        stored = path.read_bytes()
    except OSError:
        return None
    data = stored[_HEADER:]
    if stored[:_HEADER] != _header(data):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: the last to be removed
    return data


def write_cached(name: str, data: bytes) -> None:
    path = cache_dir() / name
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(_header(data) + data)
        partial.replace(path)  # atomic: concurrent runs never see half an entry
        _prune(path)


def _header(data: bytes) -> bytes:
    return _MAGIC + b"%08x\n" % zlib.crc32(data)


def _prune(written: Path) -> None:
    """Remove the least recently used entries beyond MAX_CACHE_BYTES (never `written`)."""
    entries = []
    for entry in written.parent.iterdir():
        with contextlib.suppress(OSError):  # another run may remove it meanwhile
            if entry.name.endswith(".tmp") or entry == written:
                continue
            status = entry.stat()
            entries.append((status.st_mtime, status.st_size, entry))
    entries.sort(reverse=True)
    total = written.stat().st_size
    for _mtime, size, entry in entries:
        total += size
        if total > MAX_CACHE_BYTES:
            with contextlib.suppress(OSError):
                entry.unlink()
