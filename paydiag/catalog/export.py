"""`paydiag rules export`: the catalog as data for merchants' own checkout code.

JSON and YAML exports are in the catalog's own rule format (catalog-export.schema.json),
so loading an export gives the same rules back; CSV is a flat table for spreadsheets.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

import yaml

from paydiag import __version__
from paydiag.catalog.model import Rule

EXPORT_SCHEMA_VERSION = 1
CSV_COLUMNS = (
    "id",
    "gateway",
    "code",
    "aliases",
    "title",
    "category",
    "severity",
    "fault",
    "http_status",
    "retry",
    "retry_after",
    "shopper_message",
    "references",
)


def export_document(rules: Sequence[Rule]) -> dict[str, object]:
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "generated_by": f"paydiag {__version__}",
        "rules": [rule.to_dict() for rule in rules],
    }


def export_rules(rules: Sequence[Rule], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(export_document(rules), indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(
            export_document(rules), sort_keys=False, allow_unicode=True, width=1 << 20
        )
    if fmt == "csv":
        return _csv(rules)
    raise ValueError(f"unknown export format {fmt!r}")


def _csv(rules: Sequence[Rule]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rule in rules:
        data = rule.to_dict()
        writer.writerow(_cell(data.get(column)) for column in CSV_COLUMNS)
    return buffer.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " | ".join(str(item) for item in value)
    return str(value)
