"""A small content-addressed cache in the user's cache folder (XDG_CACHE_HOME).

Entries are named by a hash of everything that produced them, so a stale entry is never
read; a cache that cannot be read or written only costs the work it would have saved.
Entries are data (JSON, a Hyperscan database), never pickles: nothing in it runs code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


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


def read_cached(name: str) -> bytes | None:
    try:
        return (cache_dir() / name).read_bytes()
    except OSError:
        return None


def write_cached(name: str, data: bytes) -> None:
    path = cache_dir() / name
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: concurrent runs never see half an entry
