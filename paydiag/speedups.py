"""Whether to use the optional C speedups (paydiag._speedups) where they are built.

Each hot loop that has a C form keeps its pure-Python reference beside it and falls back
to it when the module is not built (no compiler at install) or is turned off here.
"""

from __future__ import annotations

import os

NO_SPEEDUPS_VARIABLE = "PAYDIAG_NO_SPEEDUPS"


def wanted() -> bool:
    """False when PAYDIAG_NO_SPEEDUPS is set to anything but 0 (benchmarks, debugging)."""
    return os.environ.get(NO_SPEEDUPS_VARIABLE, "") in ("", "0")
