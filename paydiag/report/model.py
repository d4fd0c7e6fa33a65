"""The Report: everything analyze found, as plain typed data every output format reads.

Text that came from logs (examples, templates) is already redacted when it enters a
Report, so no output format can leak what the logs held.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from functools import cache
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

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
class IncidentRecord:
    """Something no single line shows (an outage, a burst, orders in limbo), explained.

    Built from a detector's Incident with every string redacted (see
    `paydiag.diagnose.incidents.incident_records`).
    """

    kind: str
    gateway: str | None
    start: datetime
    end: datetime
    severity: str
    title: str
    summary: str
    fault: str
    figures: dict[str, float | int | str] = field(default_factory=dict)
    transactions: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MinuteBucket:
    """Gateway calls and errors seen in one minute (UTC), for the error timeline."""

    minute: datetime
    calls: int
    errors: int


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
    incidents: tuple[IncidentRecord, ...] = ()  # worst first
    error_timeline: tuple[MinuteBucket, ...] = ()  # per minute, in time order

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _jsonable(self)
        return data


def _jsonable(value: Any) -> Any:
    """`value` as JSON data, in one walk: asdict() would first deep-copy every leaf (a
    tenth of a second on a large report)."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _jsonable(getattr(value, name)) for name in _field_names(type(value))}
    return value


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(item.name for item in fields(cls))


class ReportFormatError(ValueError):
    """Data that does not fit the Report (a JSON report from another tool or version)."""


def report_from_dict(data: dict[str, Any]) -> Report:
    """The Report back from `Report.to_dict()` data (a saved `--format json` report).

    Driven by the dataclass fields and their types, so a field added later loads without a
    change here; a missing field takes its default. Raises ReportFormatError naming the field.
    """
    report: Report = _from_data(Report, data, "")
    return report


def _from_data(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ReportFormatError(f"{where or 'report'}: expected an object")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in fields(cls):
        if item.name in data:
            values[item.name] = _convert(hints[item.name], data[item.name], f"{where}{item.name}")
        elif item.default is MISSING and item.default_factory is MISSING:
            raise ReportFormatError(f"{where}{item.name}: missing")
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        if value is None and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], value, where)
        if any(_is_plain(arg, value) for arg in inner):  # figures: float | int | str
            return value
        raise ReportFormatError(f"{where}: unexpected value")
    if hint is datetime:
        return _datetime(value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ReportFormatError(f"{where}: expected a list")
        return tuple(_convert(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ReportFormatError(f"{where}: expected an object")
        return {key: _convert(args[1], item, f"{where}.{key}") for key, item in value.items()}
    if is_dataclass(hint):
        return _from_data(hint, value, f"{where}.")  # type: ignore[arg-type]
    if isinstance(hint, type) and not _is_plain(hint, value):
        raise ReportFormatError(f"{where}: expected {hint.__name__}")
    return value


def _is_plain(hint: Any, value: Any) -> bool:
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(hint, type) and isinstance(value, hint)


def _datetime(value: Any, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise ReportFormatError(f"{where}: expected an ISO 8601 time")
    return when if when.tzinfo else when.replace(tzinfo=UTC)
