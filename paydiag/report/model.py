"""The Report: everything analyze found, as plain typed data every output format reads.

Text that came from logs (examples, templates) is already redacted when it enters a
Report, so no output format can leak what the logs held.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Location:
    path: str
    line: int


@dataclass(frozen=True)
class Finding:
    """All events one rule recognised, with the rule's diagnosis."""

    rule_id: str
    gateway: str
    code: str
    title: str
    category: str
    severity: str
    fault: str
    retry: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    transaction_count: int
    transactions: tuple[str, ...]
    request_ids: tuple[str, ...]
    examples: tuple[str, ...]
    locations: tuple[Location, ...]
    explanation: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    support: tuple[str, ...]
    references: tuple[str, ...]
    http_status: int | None = None
    shopper_message: str | None = None
    environments: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    payment_methods: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()
    known: bool = False  # present in the --baseline report


@dataclass(frozen=True)
class Unrecognised:
    """Error-looking records no rule knows, grouped by their shape with variables masked."""

    template: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    gateway_hint: str | None
    examples: tuple[str, ...]
    locations: tuple[Location, ...]


@dataclass(frozen=True)
class InputProblem:
    line: int
    message: str


@dataclass(frozen=True)
class InputSummary:
    path: str
    lines: int
    bytes: int
    format: str
    compression: str | None = None
    problems: tuple[InputProblem, ...] = ()
    error: str | None = None  # the input could not be read at all


@dataclass(frozen=True)
class Summary:
    lines_read: int
    error_events: int
    matched_events: int
    unrecognised_events: int
    first_seen: datetime | None
    last_seen: datetime | None
    findings_by_severity: dict[str, int]
    worst_rule_id: str | None
    headline: str


@dataclass(frozen=True)
class Report:
    summary: Summary
    inputs: tuple[InputSummary, ...]
    findings: tuple[Finding, ...]
    unrecognised: tuple[Unrecognised, ...]
    tool_version: str
    gateways: dict[str, str] = field(default_factory=dict)  # gateway id -> display name
    engine: str = "literal"
    schema_version: int = SCHEMA_VERSION
    filters: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
