"""The catalog's coverage as a Markdown table (the README shows it; a test keeps it fresh)."""

from __future__ import annotations

from collections import Counter

from paydiag.catalog.model import Catalog

START = "<!-- coverage:start -->"
END = "<!-- coverage:end -->"


def coverage_table(catalog: Catalog) -> str:
    families = {info.source: info for info in catalog.gateways}
    counts = Counter((rule.source.path, rule.gateway) for rule in catalog.rules)
    first_reference: dict[tuple[str, str], str] = {}
    for rule in catalog.rules:
        first_reference.setdefault((rule.source.path, rule.gateway), rule.references[0])
    rows = ["| Family | Gateway | Rules | Documentation |", "|---|---|---:|---|"]
    for (path, gateway), count in sorted(counts.items(), key=lambda item: (item[0][0], -item[1])):
        info = families.get(path)
        family = info.name if info else path
        docs = info.docs if info and info.gateway == gateway else first_reference[(path, gateway)]
        rows.append(f"| {family} | `{gateway}` | {count} | <{docs}> |")
    total = sum(counts.values())
    rows.append(f"| **All** | {len({g for _, g in counts})} gateways | **{total}** | |")
    return "\n".join(rows) + "\n"


def replace_block(document: str, table: str) -> str:
    """`document` with the text between the coverage markers replaced by `table`."""
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}{END}{tail}"
