"""Environment mismatch: sandbox (test) credentials, hosts or IDs mixed into production
traffic, or live credentials in a log that is otherwise sandbox.

Each observation may carry the environment its line shows (`sk_test_` / `sk_live_` keys,
sandbox hosts, `livemode`). The environment most of the log shows is taken as the expected
one; a gateway whose lines show the other one is reported, with where they were seen, since
one misconfigured host or worker is the usual cause.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from paydiag.diagnose.incidents.common import (
    MAX_GATEWAYS,
    SAMPLE_IDS,
    add_capped,
    earliest,
    gateway_label,
    latest,
    merge_keyed,
    order_id,
    plural,
    same_kind,
    span_text,
)
from paydiag.diagnose.incidents.model import (
    ChunkObservations,
    Detector,
    Incident,
    Observation,
    RowsWanted,
)
from paydiag.diagnose.incidents.thresholds import at_least, check

SANDBOX, PRODUCTION = "sandbox", "production"
_SAMPLE_PLACES = 5


@dataclass(frozen=True)
class EnvironmentThresholds:
    """When mixed environments are reported. Defaults in brackets.

    min_events: lines of a gateway in the other environment before it is reported [1]
        (a single live call with a test key is already a misconfiguration).
    """

    enabled: bool = True
    min_events: int = field(default=1, metadata=at_least(1))

    def __post_init__(self) -> None:
        check(self, "incidents.environment")


@dataclass
class _Seen:
    """What one gateway's lines in one environment looked like."""

    count: int = 0
    successes: int = 0  # captured payments: in the sandbox, nobody paid for them
    first: datetime | None = None
    last: datetime | None = None
    ids: dict[str, None] = field(default_factory=dict)
    places: dict[tuple[str, int], None] = field(default_factory=dict)  # (source, line)

    def add(self, observation: Observation) -> None:
        self.count += 1
        when = observation.time
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)
        if observation.stage == "captured" and not observation.failed:
            self.successes += 1
        if (oid := order_id(observation.transaction_ids)) is not None:
            add_capped(self.ids, (oid,), SAMPLE_IDS)
        add_capped(self.places, ((observation.source, observation.line),), _SAMPLE_PLACES)

    def merge(self, later: _Seen) -> None:
        self.count += later.count
        self.successes += later.successes
        self.first = earliest(self.first, later.first)
        self.last = latest(self.last, later.last)
        add_capped(self.ids, later.ids, SAMPLE_IDS)
        add_capped(self.places, later.places, _SAMPLE_PLACES)


class EnvironmentDetector:
    name = "environment"

    def __init__(self, thresholds: EnvironmentThresholds | None = None) -> None:
        self.thresholds = thresholds or EnvironmentThresholds()
        self._seen: dict[tuple[str | None, str], _Seen] = {}

    def observe(self, observation: Observation) -> None:
        environment = observation.environment
        if environment not in (SANDBOX, PRODUCTION):
            return
        key = (observation.gateway, environment)
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= 2 * MAX_GATEWAYS:
                return
            seen = self._seen[key] = _Seen()
        seen.add(observation)

    def rows_wanted(self) -> RowsWanted:
        return RowsWanted(environments=True)

    def observe_chunk(self, chunk: ChunkObservations) -> None:
        environments = chunk.activity.environments
        marked = [row for row, environment in enumerate(environments) if environment is not None]
        for observation in chunk.in_order(marked):
            self.observe(observation)

    def shift_lines(self, lines: int) -> None:
        for seen in self._seen.values():
            seen.places = {(source, line + lines): None for source, line in seen.places}

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, EnvironmentDetector)
        merge_keyed(self._seen, later._seen, 2 * MAX_GATEWAYS, _Seen.merge)

    def incidents(self) -> list[Incident]:
        totals: Counter[str] = Counter()
        for (_gateway, environment), seen in self._seen.items():
            totals[environment] += seen.count
        if len(totals) < 2:
            return []  # one environment only: a test log or a production log, both fine
        expected = SANDBOX if totals[SANDBOX] > totals[PRODUCTION] else PRODUCTION
        other = PRODUCTION if expected == SANDBOX else SANDBOX
        found = []
        for (gateway, environment), seen in self._seen.items():
            if environment == other and seen.count >= self.thresholds.min_events:
                found.append(_describe(gateway, expected, seen, totals[expected]))
        return found


def _describe(gateway: str | None, expected: str, seen: _Seen, expected_count: int) -> Incident:
    name = gateway_label(gateway)
    assert seen.first is not None and seen.last is not None
    figures: dict[str, float | int | str] = {
        f"{SANDBOX if expected == PRODUCTION else PRODUCTION}_events": seen.count,
        f"{expected}_events": expected_count,
        "successful_payments": seen.successes,
        "seen_at": ", ".join(f"{source}:{line}" for source, line in seen.places),
    }
    if expected == PRODUCTION:
        return _sandbox_in_production(name, gateway, seen, figures)
    return _live_in_sandbox(name, gateway, seen, figures)


def _sandbox_in_production(
    name: str, gateway: str | None, seen: _Seen, figures: dict[str, float | int | str]
) -> Incident:
    assert seen.first is not None and seen.last is not None
    paid = (
        f"; {plural(seen.successes, 'payment')} succeeded there, so those orders were not "
        "really paid"
        if seen.successes
        else ""
    )
    summary = (
        f"{plural(seen.count, 'line')} of {name} used sandbox (test) credentials, hosts or IDs "
        f"from {seen.first:%H:%M:%S} to {seen.last:%H:%M:%S} UTC while the rest of the log is "
        f"production{paid}. First seen at {figures['seen_at']}."
    )
    fixes = [
        "Use live credentials and production endpoints in production only: load them from a "
        "per-environment secret store, never from a shared default or a copied config file.",
        "Fail fast at startup when the key's mode does not match the environment (`sk_live_` "
        "vs `sk_test_`, `livemode`, the sandbox host name).",
        "Find the hosts or services that sent the sandbox traffic (see where it was seen) and "
        "redeploy them with the production configuration.",
    ]
    if seen.successes:
        fixes.insert(
            0,
            "Hold the orders paid in the sandbox (listed): no money moved; ask those customers "
            "to pay again before shipping.",
        )
    return Incident(
        kind="environment_mismatch",
        gateway=gateway,
        start=seen.first,
        end=seen.last,
        severity="critical" if seen.successes or seen.count >= 10 else "high",
        title=f"Sandbox credentials or endpoints in production ({name}), "
        f"{span_text(seen.first, seen.last)}",
        summary=summary,
        fault="merchant_config",
        figures=figures,
        transactions=tuple(seen.ids),
        causes=(
            "A test key (`sk_test_`, a sandbox client ID) or sandbox endpoint is configured on "
            "some production hosts: a stale environment variable, a config file copied from "
            "staging, or a feature flag.",
            "One service or worker was deployed with the staging configuration.",
            "Test traffic (QA, synthetic checks) is logged together with production.",
        ),
        fixes=tuple(fixes),
    )


def _live_in_sandbox(
    name: str, gateway: str | None, seen: _Seen, figures: dict[str, float | int | str]
) -> Incident:
    assert seen.first is not None and seen.last is not None
    summary = (
        f"{plural(seen.count, 'line')} of {name} used live (production) credentials or hosts "
        f"from {seen.first:%H:%M:%S} to {seen.last:%H:%M:%S} UTC in a log that is otherwise "
        f"sandbox; tests may have charged real cards. First seen at {figures['seen_at']}."
    )
    return Incident(
        kind="environment_mismatch",
        gateway=gateway,
        start=seen.first,
        end=seen.last,
        severity="high",
        title=f"Live credentials in a sandbox environment ({name}), "
        f"{span_text(seen.first, seen.last)}",
        summary=summary,
        fault="merchant_config",
        figures=figures,
        transactions=tuple(seen.ids),
        causes=(
            "A test or staging environment is configured with live keys or production hosts.",
            "Production and test traffic are logged together (then check the hosts listed).",
        ),
        fixes=(
            "Replace the live keys in the test environment with sandbox keys and rotate the "
            "live ones: a test environment should never hold them.",
            "Check the payments listed at the gateway: refund any real charge made by a test.",
            "Fail fast at startup when the key's mode does not match the environment.",
        ),
    )
