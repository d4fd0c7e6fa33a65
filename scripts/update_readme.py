"""Regenerate the README's catalog coverage table; `--check` fails when it is stale.

python scripts/update_readme.py          # rewrite README.md
python scripts/update_readme.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from paydiag.catalog import load_catalog
from paydiag.catalog.coverage import coverage_table, replace_block

README = Path(__file__).resolve().parent.parent / "README.md"


def main(argv: list[str]) -> int:
    current = README.read_text(encoding="utf-8")
    fresh = replace_block(current, coverage_table(load_catalog().catalog))
    if "--check" in argv:
        if fresh != current:
            print("README.md coverage table is stale: run python scripts/update_readme.py")
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
