"""--baseline FILE: findings already in a saved JSON report are known and do not fail the build.

A team adopting paydiag in CI saves today's report (`--format json -o baseline.json`),
checks it in, and from then on only new kinds of failure fail the build. A finding is known
when its rule id is in the baseline: rule ids are stable and name the gateway, and counts,
times and lines change from run to run. Only `schema_version` and each finding's `rule_id`
are read, so a baseline written by an older or newer paydiag still works.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from paydiag.report.model import SCHEMA_VERSION, Report


class BaselineError(Exception):
    """A baseline file that cannot be used; the message is one line naming the file."""


def load_baseline(path: Path) -> frozenset[str]:
    """The rule ids of the findings in a saved JSON report."""
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise BaselineError(f"{path}: not a paydiag JSON report (no findings list)")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BaselineError(f"{path}: not a paydiag JSON report (no schema_version)")
    if version > SCHEMA_VERSION:
        raise BaselineError(
            f"{path}: written by a newer paydiag (schema_version {version}); upgrade paydiag"
        )
    ids = []
    for index, finding in enumerate(data["findings"]):
        rule_id = finding.get("rule_id") if isinstance(finding, dict) else None
        if not isinstance(rule_id, str) or not rule_id:
            raise BaselineError(f"{path}: findings[{index}]: no rule_id")
        ids.append(rule_id)
    return frozenset(ids)


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file") from None
    except OSError as error:
        raise BaselineError(f"{path}: cannot read it: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{path}: not a paydiag JSON report (not UTF-8 text)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BaselineError(
            f"{path}:{error.lineno}: not a paydiag JSON report (invalid JSON: {error.msg})"
        ) from None


def mark_known(report: Report, known: frozenset[str], source: str) -> Report:
    """The report with baseline findings marked known; `filters` records the baseline used."""
    findings = tuple(replace(f, known=f.rule_id in known) for f in report.findings)
    return replace(report, findings=findings, filters={**report.filters, "baseline": source})
