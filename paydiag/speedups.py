"""Whether to use the optional C speedups (paydiag._speedups) where they are built.

Each hot loop that has a C form keeps its pure-Python reference beside it and falls back
to it when the module is not built (no compiler at install) or is turned off here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

NO_SPEEDUPS_VARIABLE = "PAYDIAG_NO_SPEEDUPS"


def usable() -> bool:
    """Whether paydiag._speedups is built and not turned off by PAYDIAG_NO_SPEEDUPS set to
    anything but 0 (benchmarks, debugging)."""
    if os.environ.get(NO_SPEEDUPS_VARIABLE, "") not in ("", "0"):
        return False
    return importlib.util.find_spec("paydiag._speedups") is not None


def _count_newlines(data: bytes, start: int = 0, end: int = sys.maxsize, /) -> int:
    """How many newlines `data[start:end]` holds (the reference of the C form)."""
    return data.count(b"\n", start, end)


def native(name: str) -> Any:
    """The C form `name` from paydiag._speedups, or None where it is not usable."""
    if not usable():
        return None
    from paydiag import _speedups

    return getattr(_speedups, name)


# count_newlines(data, start=0, end=len(data)): the C form where it is built.
count_newlines: Callable[..., int] = native("count_newlines") or _count_newlines
