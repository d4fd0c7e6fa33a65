"""Incidents: what a stream of observations shows that no single error line does.

Each detector is one small module with its own thresholds (a frozen dataclass, defaults in
its docstring): `outage`, `rate_limit`, `environment`, `credentials` (sudden onset and
clock skew), `limbo` (orders in limbo and duplicate charges) and `latency`; `timeline`
counts calls and errors per minute. The pipeline hands every detector from
`make_detectors(settings)` each chunk's observations at once (`observe_chunk()`, which must
do what `observe()` on each of them in log order would) and calls `merge()` to join partial
runs; then `incident_records()` turns their `incidents()` into redacted report records and
`error_timeline()` gives the per-minute counts:

    report = Report(...,
        incidents=incident_records((i for d in detectors for i in d.incidents()), redactor),
        error_timeline=error_timeline(detectors))

`conclude(detector)` holds both for one detector, for a worker process to send back.

`IncidentSettings.from_mapping()` reads an `[incidents]` config table, one sub-table per
detector, e.g. `[incidents.outage] window_minutes = 10`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from paydiag.diagnose.incidents.credentials import CredentialDetector, CredentialThresholds
from paydiag.diagnose.incidents.environment import EnvironmentDetector, EnvironmentThresholds
from paydiag.diagnose.incidents.latency import LatencyDetector, LatencyThresholds
from paydiag.diagnose.incidents.limbo import LimboThresholds, OrderDetector
from paydiag.diagnose.incidents.model import Detector, Incident, Observation
from paydiag.diagnose.incidents.outage import OutageDetector, OutageThresholds
from paydiag.diagnose.incidents.rate_limit import RateLimitDetector, RateLimitThresholds
from paydiag.diagnose.incidents.thresholds import field_names
from paydiag.diagnose.incidents.timeline import ErrorTimeline, MinuteBucket, TimelineCounts
from paydiag.redact import Redactor
from paydiag.report.model import IncidentRecord

__all__ = [
    "Conclusion",
    "Detector",
    "ErrorTimeline",
    "Incident",
    "IncidentSettings",
    "MinuteBucket",
    "Observation",
    "conclude",
    "error_timeline",
    "incident_records",
    "make_detectors",
]

_SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


@dataclass(frozen=True)
class IncidentSettings:
    """Every detector's thresholds; each table's defaults are in its class docstring."""

    outage: OutageThresholds = field(default_factory=OutageThresholds)
    rate_limit: RateLimitThresholds = field(default_factory=RateLimitThresholds)
    environment: EnvironmentThresholds = field(default_factory=EnvironmentThresholds)
    credentials: CredentialThresholds = field(default_factory=CredentialThresholds)
    limbo: LimboThresholds = field(default_factory=LimboThresholds)
    latency: LatencyThresholds = field(default_factory=LatencyThresholds)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> IncidentSettings:
        """Settings from a config table such as `{"outage": {"window_minutes": 10}}`.

        Raises ValueError naming the table and key for an unknown detector or setting, a
        value of the wrong type, or one out of range.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"incidents: expected a table of detectors, got {data!r}")
        tables = {item.name: item for item in fields(cls)}
        values: dict[str, Any] = {}
        for name, table in data.items():
            if name not in tables:
                known = ", ".join(tables)
                raise ValueError(f"incidents: unknown detector {name!r} (known: {known})")
            if not isinstance(table, Mapping):
                raise ValueError(f"incidents.{name}: expected a table of settings, got {table!r}")
            thresholds = _THRESHOLDS[name]
            allowed = field_names(thresholds)
            for key in table:
                if key not in allowed:
                    raise ValueError(
                        f"incidents.{name}: unknown setting {key!r} (known: {', '.join(allowed)})"
                    )
            values[name] = thresholds(**table)
        return cls(**values)


_THRESHOLDS: dict[str, type[Any]] = {
    "outage": OutageThresholds,
    "rate_limit": RateLimitThresholds,
    "environment": EnvironmentThresholds,
    "credentials": CredentialThresholds,
    "limbo": LimboThresholds,
    "latency": LatencyThresholds,
}


def make_detectors(settings: IncidentSettings | None = None) -> list[Detector]:
    """A fresh detector for each enabled table of `settings`, and the error timeline (which
    reports no incidents; `error_timeline()` reads it)."""
    s = settings or IncidentSettings()
    candidates: list[tuple[bool, Callable[[], Detector]]] = [
        (s.outage.enabled, lambda: OutageDetector(s.outage)),
        (s.rate_limit.enabled, lambda: RateLimitDetector(s.rate_limit)),
        (s.environment.enabled, lambda: EnvironmentDetector(s.environment)),
        (s.credentials.enabled, lambda: CredentialDetector(s.credentials)),
        (s.limbo.enabled, lambda: OrderDetector(s.limbo)),
        (s.latency.enabled, lambda: LatencyDetector(s.latency)),
    ]
    return [*(make() for enabled, make in candidates if enabled), ErrorTimeline()]


@dataclass(frozen=True)
class Conclusion:
    """What the report takes from one detector once it has seen the whole input."""

    incidents: tuple[Incident, ...]
    timeline: TimelineCounts | None = None  # the ErrorTimeline's minutes; None for the others


def conclude(detector: Detector) -> Conclusion:
    """The detector's incidents and timeline: a small value, where the detector's state may
    be megabytes, so `analyze --jobs` concludes each detector in a worker and sends this."""
    timeline = detector.counts() if isinstance(detector, ErrorTimeline) else None
    return Conclusion(tuple(detector.incidents()), timeline)


def error_timeline(detectors: Iterable[Detector]) -> tuple[MinuteBucket, ...]:
    """The per-minute calls and errors counted by the ErrorTimeline among `detectors`."""
    for detector in detectors:
        if isinstance(detector, ErrorTimeline):
            return tuple(detector.buckets())
    return ()


def incident_records(
    incidents: Iterable[Incident], redactor: Redactor
) -> tuple[IncidentRecord, ...]:
    """Report records for `incidents`, worst first, with every string redacted (IDs as
    fields, so an all-digit pspReference is not taken for a card number)."""
    redact = redactor.redact
    records = [
        IncidentRecord(
            kind=i.kind,
            gateway=i.gateway,
            start=i.start,
            end=i.end,
            severity=i.severity,
            title=redact(i.title),
            summary=redact(i.summary),
            fault=i.fault,
            figures={k: redact(v) if isinstance(v, str) else v for k, v in i.figures.items()},
            transactions=tuple(redactor.redact_field("transaction_id", t) for t in i.transactions),
            causes=tuple(redact(c) for c in i.causes),
            fixes=tuple(redact(f) for f in i.fixes),
        )
        for i in incidents
    ]
    records.sort(key=lambda r: (-_SEVERITY_RANK.get(r.severity, 0), r.start, r.kind))
    return tuple(records)
