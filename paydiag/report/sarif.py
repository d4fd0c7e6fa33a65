"""SARIF 2.1.0 for code-scanning viewers (GitHub code scanning, the VS Code SARIF viewer).

One `reportingDescriptor` per rule that fired, carrying the rule's diagnosis as help, and one
result per finding. A result's first location is where the finding was first seen; the
others (up to 20) are related locations, because viewers show one primary location per
result. Paths are relative to the working directory (`SRCROOT`) where possible, as CI
checks out the repository there. Unrecognised error shapes are `note` results of the
`paydiag.unrecognised` rule.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from paydiag.report.ci import finding_message, markdown_text, workspace_path
from paydiag.report.interface import RenderOptions
from paydiag.report.model import Finding, InputSummary, Location, Report, Unrecognised

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/paydiag/paydiag"
UNRECOGNISED_RULE = "paydiag.unrecognised"
BASE_ID = "SRCROOT"
FINGERPRINT = "paydiag/v1"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}

Json = dict[str, Any]


class SarifReporter:
    name = "sarif"

    def __init__(self, base: Path | None = None) -> None:
        self._base = base  # None: the working directory when rendering

    def render(self, report: Report, options: RenderOptions) -> str:
        document = sarif_log(report, self._base or Path.cwd())
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def sarif_log(report: Report, base: Path) -> Json:
    rules = [_descriptor(f) for f in report.findings]
    results = [_result(f, index, report, base) for index, f in enumerate(report.findings)]
    if report.unrecognised:
        rules.append(_unrecognised_descriptor())
        index = len(rules) - 1
        results.extend(_unrecognised_result(u, index, base) for u in report.unrecognised)
    driver: Json = {
        "name": "paydiag",
        "version": report.tool_version,
        "semanticVersion": report.tool_version,
        "informationUri": INFORMATION_URI,
        "rules": rules,
    }
    run: Json = {
        "tool": {"driver": driver},
        "invocations": [_invocation(report.inputs, base)],
        "originalUriBaseIds": {BASE_ID: {"uri": _directory_uri(base)}},
        "results": results,
        "properties": {"headline": report.summary.headline, "engine": report.engine},
    }
    if report.filters:
        run["properties"]["filters"] = dict(report.filters)
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _directory_uri(base: Path) -> str:
    uri = base.absolute().as_uri()
    return uri if uri.endswith("/") else uri + "/"  # a base URI must end with a slash


def _descriptor(finding: Finding) -> Json:
    descriptor: Json = {
        "id": finding.rule_id,
        "name": _pascal(f"{finding.gateway} {finding.code}"),
        "shortDescription": {"text": finding.title},
        "fullDescription": {"text": finding.explanation},
        "help": {"text": _help_text(finding), "markdown": _help_markdown(finding)},
        "defaultConfiguration": {"level": LEVELS.get(finding.severity, "warning")},
        "properties": {
            "category": finding.category,
            "gateway": finding.gateway,
            "severity": finding.severity,
            "fault": finding.fault,
            "retry": finding.retry,
            "tags": list(dict.fromkeys(("payments", finding.gateway, finding.category))),
        },
    }
    uri = next((r for r in finding.references if r.startswith(("https://", "http://"))), None)
    if uri:
        descriptor["helpUri"] = uri
    return descriptor


def _pascal(text: str) -> str:
    """`amazon_pay InvalidRequestSignature` -> `AmazonPayInvalidRequestSignature`."""
    words = "".join(ch if ch.isalnum() else " " for ch in text).split()
    return "".join(word[:1].upper() + word[1:] for word in words)


def _help_text(finding: Finding) -> str:
    lines = [finding.explanation, "", "Likely causes:"]
    lines.extend(f"- {cause}" for cause in finding.causes)
    lines.extend(("", "Fixes, in order:"))
    lines.extend(f"{n}. {fix}" for n, fix in enumerate(finding.fixes, 1))
    if finding.references:
        lines.extend(("", "Documentation: " + " ".join(finding.references)))
    return "\n".join(lines)


def _help_markdown(finding: Finding) -> str:
    parts = [markdown_text(finding.explanation), "**Likely causes**"]
    parts.append("\n".join(f"- {markdown_text(c)}" for c in finding.causes))
    parts.append("**Fixes, in order**")
    parts.append("\n".join(f"{n}. {markdown_text(f)}" for n, f in enumerate(finding.fixes, 1)))
    if finding.references:
        parts.append("**Documentation**")
        parts.append("\n".join(f"- <{r}>" for r in finding.references))
    return "\n\n".join(parts)


def _result(finding: Finding, rule_index: int, report: Report, base: Path) -> Json:
    gateway = report.gateways.get(finding.gateway, finding.gateway)
    result: Json = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS.get(finding.severity, "warning"),
        "message": {"text": finding_message(finding, gateway)},
        "partialFingerprints": {FINGERPRINT: finding.rule_id},
        "occurrenceCount": finding.count,
        "properties": _finding_properties(finding),
    }
    result.update(_locations(finding.locations, base))
    if "baseline" in report.filters:
        result["baselineState"] = "unchanged" if finding.known else "new"
    return result


def _finding_properties(finding: Finding) -> Json:
    properties: Json = {
        "severity": finding.severity,
        "fault": finding.fault,
        "retry": finding.retry,
        "count": finding.count,
        "transactionCount": finding.transaction_count,
        "transactions": list(finding.transactions),
        "requestIds": list(finding.request_ids),
        "known": finding.known,
    }
    for key, moment in (("firstSeen", finding.first_seen), ("lastSeen", finding.last_seen)):
        if moment is not None:
            properties[key] = moment.isoformat().replace("+00:00", "Z")
    return properties


def _locations(locations: tuple[Location, ...], base: Path) -> Json:
    """The first location as primary, the rest (deduplicated) as related locations."""
    physical = [p for p in (_physical(loc, base) for loc in dict.fromkeys(locations)) if p]
    if not physical:
        return {}
    placed: Json = {"locations": [{"physicalLocation": physical[0]}]}
    if len(physical) > 1:
        placed["relatedLocations"] = [
            {"id": n, "physicalLocation": p, "message": {"text": "Also seen here."}}
            for n, p in enumerate(physical[1:], 1)
        ]
    return placed


def _physical(location: Location, base: Path, line: bool = True) -> Json | None:
    artifact = _artifact(location.path, base)
    if artifact is None:
        return None
    physical: Json = {"artifactLocation": artifact}
    if line and location.line >= 1:
        physical["region"] = {"startLine": location.line}
    return physical


def _artifact(path: str, base: Path) -> Json | None:
    shown = workspace_path(path, base)
    if shown is None:
        return None
    if Path(shown).is_absolute():
        return {"uri": Path(shown).as_uri()}
    return {"uri": quote(shown), "uriBaseId": BASE_ID}


def _unrecognised_descriptor() -> Json:
    return {
        "id": UNRECOGNISED_RULE,
        "name": "UnrecognisedPaymentError",
        "shortDescription": {"text": "An error no paydiag rule recognises"},
        "fullDescription": {
            "text": "Error lines that no rule in the catalog knows, grouped by shape with "
            "their variable parts masked: a new failure mode shows here the first time."
        },
        "help": {
            "text": "Read the example lines. If the error is a documented gateway code, "
            "add a rule for it (see rules/README.md) so it is diagnosed next time."
        },
        "helpUri": INFORMATION_URI,
        "defaultConfiguration": {"level": "note"},
        "properties": {"tags": ["payments", "unrecognised"]},
    }


def _unrecognised_result(group: Unrecognised, rule_index: int, base: Path) -> Json:
    hint = f" ({group.gateway_hint})" if group.gateway_hint else ""
    digest = hashlib.sha256(group.template.encode("utf-8")).hexdigest()[:16]
    result: Json = {
        "ruleId": UNRECOGNISED_RULE,
        "ruleIndex": rule_index,
        "level": "note",
        "message": {"text": f"{group.count}× unrecognised error{hint}: {group.template}"},
        "partialFingerprints": {FINGERPRINT: f"{UNRECOGNISED_RULE}:{digest}"},
        "occurrenceCount": group.count,
    }
    result.update(_locations(group.locations, base))
    return result


def _invocation(inputs: tuple[InputSummary, ...], base: Path) -> Json:
    notifications: list[Json] = []
    for item in inputs:
        if item.error:
            text = f"{item.path}: {item.error}"
            notifications.append(_notification("error", text, item, 0, base))
        notifications.extend(
            _notification("warning", f"{item.path}:{p.line}: {p.message}", item, p.line, base)
            for p in item.problems
        )
    invocation: Json = {"executionSuccessful": not any(i.error for i in inputs)}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _notification(level: str, text: str, item: InputSummary, line: int, base: Path) -> Json:
    notification: Json = {"level": level, "message": {"text": text}}
    physical = _physical(Location(item.path, line), base, line=line >= 1)
    if physical:
        notification["locations"] = [{"physicalLocation": physical}]
    return notification
