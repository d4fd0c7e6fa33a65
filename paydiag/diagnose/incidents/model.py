"""What incident detectors see and what they report.

Detectors work on Observations: one per gateway call, payment lifecycle step or error the
logs show, successes included (an outage is a *share* of failing calls). They keep only
aggregates (per-minute counts, open transactions up to a cap), never the observations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Observation:
    time: datetime
    gateway: str | None
    failed: bool  # an error event (matched by a rule, or an unrecognised error)
    source: str
    line: int
    rule_id: str | None = None
    category: str | None = None  # the rule's category (timeout, rate_limit, signature ...)
    code: str | None = None
    http_status: int | None = None
    duration_ms: float | None = None
    environment: str | None = None  # sandbox | production, from keys, hosts, livemode
    stage: str | None = None  # lifecycle: created, authorized, captured, declined, cancelled ...
    transaction_ids: tuple[str, ...] = ()
    request_ids: tuple[str, ...] = ()
    request_time: datetime | None = None  # a timestamp the request itself carried (signing)


@dataclass(frozen=True)
class Incident:
    kind: str  # gateway_outage, rate_limit_burst, environment_mismatch, credential_failure, ...
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


class Detector(Protocol):
    name: str

    def observe(self, observation: Observation) -> None: ...

    def merge(self, later: Detector) -> None:
        """Fold in a detector of the same kind that observed the input after this one
        (`analyze --jobs` runs parts of the input in other processes)."""
        ...

    def incidents(self) -> list[Incident]: ...
