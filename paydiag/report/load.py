"""Read a saved JSON report (`paydiag analyze --format json -o FILE`) back into a Report.

The file is checked against `paydiag/schemas/report.schema.json` first, so a file from another
tool or a newer schema version fails with one line that says where, not with a traceback.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from paydiag.report.model import Report, ReportFormatError, report_from_dict


class ReportLoadError(Exception):
    """A report file that cannot be read or is not a paydiag JSON report; the message is one
    line naming the file and the place."""


@cache
def report_schema() -> dict[str, Any]:
    text = resources.files("paydiag").joinpath("schemas/report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_report(path: Path) -> Report:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReportLoadError(f"{path}: cannot read it: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ReportLoadError(f"{path}: not a paydiag JSON report (not UTF-8 text)") from None
    except json.JSONDecodeError as error:
        raise ReportLoadError(
            f"{path}:{error.lineno}: not a paydiag JSON report (invalid JSON: {error.msg})"
        ) from None
    problem = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(report_schema()).iter_errors(data)
    )
    if problem is not None:
        where = _json_path(problem.absolute_path)
        message = _short(problem.message)
        raise ReportLoadError(f"{path}: not a paydiag JSON report: {where}: {message}")
    try:
        return report_from_dict(data)
    except ReportFormatError as error:
        raise ReportLoadError(f"{path}: not a paydiag JSON report: {error}") from None


def _short(message: str, limit: int = 160) -> str:
    # Schema messages quote the offending value, which may be a whole finding.
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _json_path(parts: Any) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return path.lstrip(".") or "top level"
