"""The typed records of the rule catalog: what a rule says and how it recognises a log line."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from paydiag.catalog.patterns import RulePattern


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used to sort findings and compare with --fail-on."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}

CATEGORIES = (
    "invalid_request",
    "auth_credentials",
    "auth_token",
    "signature",
    "config_environment",
    "currency",
    "decline_insufficient_funds",
    "decline_expired_card",
    "decline_generic",
    "decline_limit_exceeded",
    "fraud_risk",
    "three_ds",
    "timeout",
    "expired_transaction",
    "rate_limit",
    "gateway_outage",
    "webhook",
    "idempotency_duplicate",
    "integration",
)
FAULTS = (
    "merchant_integration",
    "merchant_config",
    "gateway",
    "issuer",
    "customer",
    "network",
)
RETRY_ADVICE = ("no", "after_fix", "later", "new_method")


@dataclass(frozen=True)
class SourceLocation:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class MatchSpec:
    """How a rule recognises a log record: one pattern, one context (if any), no exclude."""

    patterns: tuple[RulePattern, ...]
    context: tuple[RulePattern, ...] = ()
    exclude: tuple[RulePattern, ...] = ()

    def matches(self, text: str) -> bool:
        return (
            _any_search(self.patterns, text)
            and (not self.context or _any_search(self.context, text))
            and not _any_search(self.exclude, text)
        )


def _any_search(patterns: tuple[RulePattern, ...], text: str) -> bool:
    # A loop, not any() over a generator: the matcher confirms candidates with this per record.
    for pattern in patterns:  # noqa: SIM110
        if pattern.search(text):
            return True
    return False


@dataclass(frozen=True)
class Examples:
    match: tuple[str, ...]
    no_match: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    gateway: str
    code: str
    title: str
    category: str
    severity: Severity
    fault: str
    retry: str
    match: MatchSpec
    explanation: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    support: tuple[str, ...]
    references: tuple[str, ...]
    examples: Examples
    source: SourceLocation
    aliases: tuple[str, ...] = ()
    http_status: int | None = None
    retry_after: str | None = None
    shopper_message: str | None = None
    priority: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        """Every spelling `explain` finds this rule by."""
        return (self.code, *self.aliases)

    def to_dict(self) -> dict[str, object]:
        """The rule as plain data in the catalog's own format: loading it gives the rule back."""
        match = {
            key: [p.pattern for p in patterns]
            for key, patterns in (
                ("patterns", self.match.patterns),
                ("context", self.match.context),
                ("exclude", self.match.exclude),
            )
            if patterns
        }
        data: dict[str, object] = {
            "id": self.id,
            "gateway": self.gateway,
            "code": self.code,
            "aliases": list(self.aliases),
            "title": self.title,
            "category": self.category,
            "severity": self.severity.value,
            "fault": self.fault,
            "http_status": self.http_status,
            "retry": self.retry,
            "retry_after": self.retry_after,
            "shopper_message": self.shopper_message,
            "priority": self.priority,
            "match": match,
            "explanation": self.explanation,
            "causes": list(self.causes),
            "fixes": list(self.fixes),
            "support": list(self.support),
            "references": list(self.references),
            "examples": {
                "match": list(self.examples.match),
                "no_match": list(self.examples.no_match),
            },
        }
        return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True)
class GatewayInfo:
    """File-level facts about a gateway or family (display name, main documentation)."""

    gateway: str
    name: str
    docs: str
    source: str


@dataclass(frozen=True)
class Problem:
    """Something wrong with a catalog, located so the author can fix it."""

    path: str
    line: int
    message: str
    rule_id: str | None = None
    level: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{where}:{rule} {self.level}: {self.message}"


@dataclass(frozen=True)
class Catalog:
    rules: tuple[Rule, ...]
    gateways: tuple[GatewayInfo, ...] = ()
    _by_id: dict[str, Rule] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update((rule.id, rule) for rule in self.rules)

    def get(self, rule_id: str) -> Rule | None:
        return self._by_id.get(rule_id)

    def __len__(self) -> int:
        return len(self.rules)
