"""A team's settings for `paydiag analyze`: `paydiag.toml`, or `[tool.paydiag]` in pyproject.toml.

Found from the working directory upward to the repository root (the first folder that holds
`.git`), or named with `--config FILE`. Command-line flags win over it. Every key and value
is checked, and a mistake is one `ConfigError` naming the file, never a silent default, as a
typo in a CI gate would otherwise pass every build.

Keys (all optional):

    rules = ["ci/paydiag-rules"]          # extra rule dirs or files, relative to this file
    disable = ["stripe.card_declined", "iso8583.*"]   # rule ids or glob patterns
    fail_on = "high"                      # critical | high | medium | low | info | never
    format = "text"                       # any --format
    redact_patterns = ['acct-[0-9]{8}']   # extra regexes whose matches are redacted

    [severity]                            # rule id (or glob) -> severity
    "stripe.rate_limit" = "critical"

    [id_patterns]                         # name -> regex; group 1 (or the match) is the ID
    shop_order = 'SO-[0-9]{6}'            # a transaction (order) ID
    request_edge = 'edge-req-([a-f0-9]{12})'   # names starting "request" are request IDs
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from paydiag.catalog.model import Catalog, Severity
from paydiag.diagnose.incidents import IncidentSettings
from paydiag.parse.ids import IdPattern
from paydiag.redact import DEFAULT_REDACTOR, Redactor
from paydiag.report import REPORTERS

CONFIG_FILE = "paydiag.toml"
PYPROJECT = "pyproject.toml"
SEVERITIES = tuple(s.value for s in Severity)
FAIL_ON = (*SEVERITIES, "never")
FORMATS = tuple(REPORTERS)


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class Config:
    path: Path | None = None  # None: no config file
    rules: tuple[Path, ...] = ()
    disable: tuple[str, ...] = ()
    severity: tuple[tuple[str, Severity], ...] = ()  # (rule id or glob, severity), in file order
    id_patterns: tuple[IdPattern, ...] = ()
    redact_patterns: tuple[str, ...] = ()
    fail_on: str | None = None
    format: str | None = None
    incidents: IncidentSettings = field(default_factory=IncidentSettings)

    @property
    def redactor(self) -> Redactor:
        return Redactor(self.redact_patterns) if self.redact_patterns else DEFAULT_REDACTOR


def discover_config(explicit: Path | None, start: Path) -> Config:
    """The config named with --config, else the nearest one above `start`, else defaults."""
    if explicit is not None:
        return load_config(explicit)
    found = find_config(start)
    return load_config(found) if found is not None else Config()


def find_config(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_paydiag_table(pyproject):
            return pyproject
        if (folder / ".git").exists():
            return None  # the repository root: settings above it belong to someone else
    return None


def _has_paydiag_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    # Only a file that mentions our table may stop the command for being broken TOML.
    return "tool.paydiag" in text


def load_config(path: Path) -> Config:
    table = _read_table(path)
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        known = ", ".join(_KEYS)
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known keys: {known})")
    values: dict[str, Any] = {}
    for key, parse in _KEYS.items():
        if key in table:
            try:
                values[key] = parse(table[key], path)
            except ValueError as error:
                raise ConfigError(f"{path}: {key}: {error}") from None
    return Config(path=path, **values)


def _read_table(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    if path.name != PYPROJECT:
        return document
    table = document.get("tool", {}).get("paydiag")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: no [tool.paydiag] table")
    return table


# --- one parser per key: the raw TOML value (and the file, for relative paths) in --------


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of non-empty strings")
    return tuple(value)


def _table(value: object) -> dict[str, object]:
    """A TOML table with dotted keys joined again: `stripe.rate_limit = "low"` means the id."""
    if not isinstance(value, dict):
        raise ValueError("expected a table")
    flat: dict[str, object] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            flat.update((f"{key}.{k}", v) for k, v in _table(item).items())
        else:
            flat[key] = item
    return flat


def _choice(value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{what}: invalid regex {pattern!r}: {error}") from None


def _rules(value: object, path: Path) -> tuple[Path, ...]:
    folders = tuple(path.parent / item for item in _strings(value))
    missing = next((f for f in folders if not f.exists()), None)
    if missing is not None:
        raise ValueError(f"{missing} does not exist")
    return folders


def _disable(value: object, path: Path) -> tuple[str, ...]:
    return _strings(value)


def _severity(value: object, path: Path) -> tuple[tuple[str, Severity], ...]:
    overrides = []
    for rule, severity in _table(value).items():
        overrides.append((rule, Severity(_choice(severity, SEVERITIES))))
    return tuple(overrides)


def _id_patterns(value: object, path: Path) -> tuple[IdPattern, ...]:
    patterns = []
    for name, regex in _table(value).items():
        if not isinstance(regex, str):
            raise ValueError(f"{name}: expected a regex string")
        compiled = _compile(regex, name)
        if compiled.groups > 1:
            raise ValueError(f"{name}: at most one group (the ID) is allowed")
        if compiled.fullmatch(""):
            raise ValueError(f"{name}: {regex!r} matches the empty string")
        kind = "request" if name.startswith("request") else "transaction"
        patterns.append(IdPattern(kind, compiled))
    return tuple(patterns)


def _redact_patterns(value: object, path: Path) -> tuple[str, ...]:
    patterns = _strings(value)
    for pattern in patterns:
        _compile(pattern, "pattern")
    return patterns


def _fail_on(value: object, path: Path) -> str:
    return _choice(value, FAIL_ON)


def _format(value: object, path: Path) -> str:
    return _choice(value, FORMATS)


def _incidents(value: object, path: Path) -> IncidentSettings:
    if not isinstance(value, Mapping):
        raise ValueError("incidents: expected a table of detectors")
    return IncidentSettings.from_mapping(value)


_KEYS: Mapping[str, Callable[[object, Path], Any]] = {
    "rules": _rules,
    "disable": _disable,
    "severity": _severity,
    "id_patterns": _id_patterns,
    "redact_patterns": _redact_patterns,
    "fail_on": _fail_on,
    "format": _format,
    "incidents": _incidents,
}


# --- the catalog as the config wants it ---------------------------------------------------


def apply_rule_settings(catalog: Catalog, config: Config) -> Catalog:
    """The catalog without disabled rules and with severity overrides applied.

    A pattern that matches no rule is an error: it is a typo or a rule that was renamed,
    and either way the setting does nothing the team thinks it does.
    """
    ids = [rule.id for rule in catalog.rules]
    overridden = [pattern for pattern, _ in config.severity]
    for key, patterns in (("disable", config.disable), ("severity", overridden)):
        unmatched = next(
            (p for p in patterns if not any(fnmatch.fnmatchcase(i, p) for i in ids)), None
        )
        if unmatched is not None:
            raise ConfigError(f"{config.path}: {key}: {unmatched!r} matches no rule")
    rules = []
    for rule in catalog.rules:
        if any(fnmatch.fnmatchcase(rule.id, p) for p in config.disable):
            continue
        override = [s for p, s in config.severity if fnmatch.fnmatchcase(rule.id, p)]
        # The last matching entry wins, so a specific id after a glob refines it.
        rules.append(replace(rule, severity=override[-1]) if override else rule)
    return Catalog(rules=tuple(rules), gateways=catalog.gateways)
