"""Gateway support profiles: where to file a request, what support asks for, which IDs matter.

Profiles are data (`rules/support/*.yaml`, described by `profile.schema.json` there), next to
the rules and shipped with them; the catalog loader reads only the top level of `rules/`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from paydiag.catalog import builtin_rules_dir
from paydiag.parse.event import gateway_hint

GENERIC = "generic"
SCHEMA_FILE = "profile.schema.json"

# An ID value in a log line: after `name=`, `"name": "`, `name: ` or `<name>`.
_VALUE = r"([A-Za-z0-9][A-Za-z0-9._:-]{0,127})"


class ProfileError(Exception):
    """A support profile file is broken (our data, so a bug, reported like a broken catalog)."""


@dataclass(frozen=True)
class IdField:
    """One kind of ID a gateway's support needs, and how to find it."""

    kind: str
    label: str
    field: str  # printed as `field: value`, which also tells redaction the value is an ID
    shape: re.Pattern[str] | None = None
    in_text: tuple[re.Pattern[str], ...] = ()
    ignore: frozenset[str] = frozenset()

    def claims(self, value: str) -> bool:
        """The whole value has this ID's shape."""
        return self.shape is not None and self.shape.fullmatch(value) is not None

    def find(self, text: str) -> Iterator[str]:
        """This kind of ID wherever a log line names it."""
        for pattern in self.in_text:
            for match in pattern.finditer(text):
                value = next((g for g in match.groups() if g), None)
                if value and value not in self.ignore:
                    yield value


@dataclass(frozen=True)
class SupportProfile:
    gateway: str
    name: str
    portal: str | None
    channel: str
    asks_for: tuple[str, ...]
    id_fields: tuple[IdField, ...]
    references: tuple[str, ...]
    urgent: str | None = None
    response_times: str | None = None


def support_dir() -> Path:
    return builtin_rules_dir() / "support"


@cache
def load_profiles() -> dict[str, SupportProfile]:
    """Every built-in profile by gateway id; raises ProfileError when one is broken."""
    directory = support_dir()
    validator = jsonschema.Draft202012Validator(_schema(directory))
    profiles: dict[str, SupportProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = _load(path, validator)
        profiles[profile.gateway] = profile
    if GENERIC not in profiles:
        raise ProfileError(f"{directory}: no {GENERIC}.yaml default profile")
    return profiles


def profile_for(gateway: str, examples: Sequence[str] = ()) -> SupportProfile:
    """The gateway's profile; for generic rules (HTTP, TLS, OAuth) the gateway the log lines
    name, else the generic default."""
    profiles = load_profiles()
    if gateway in profiles:
        return profiles[gateway]
    for example in examples:
        hinted = gateway_hint(example.lower())
        if hinted in profiles:
            return profiles[hinted]
    return profiles[GENERIC]


def _schema(directory: Path) -> dict[str, Any]:
    try:
        schema: dict[str, Any] = json.loads((directory / SCHEMA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ProfileError(f"{directory / SCHEMA_FILE}: {error}") from error
    return schema


def _load(path: Path, validator: jsonschema.Draft202012Validator) -> SupportProfile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ProfileError(f"{path}: {error}") from error
    problem = next(iter(validator.iter_errors(data)), None)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "top level"
        raise ProfileError(f"{path}: {where}: {problem.message}")
    try:
        id_fields = tuple(_id_field(item) for item in data["id_fields"])
    except re.error as error:
        raise ProfileError(f"{path}: id_fields: bad regex: {error}") from error
    return SupportProfile(
        gateway=data["gateway"],
        name=data["name"],
        portal=data.get("portal"),
        channel=_one_line(data["channel"]),
        asks_for=tuple(_one_line(item) for item in data["asks_for"]),
        id_fields=id_fields,
        references=tuple(data["references"]),
        urgent=_one_line(data["urgent"]) if "urgent" in data else None,
        response_times=_one_line(data["response_times"]) if "response_times" in data else None,
    )


def _id_field(data: dict[str, Any]) -> IdField:
    shape = re.compile(data["shape"]) if "shape" in data else None
    in_text = [re.compile(data["pattern"])] if "pattern" in data else []
    if data.get("names"):
        in_text.append(_named_value(data["names"]))
    return IdField(
        kind=data["kind"],
        label=data["label"],
        field=data["field"],
        shape=shape,
        in_text=tuple(in_text),
        ignore=frozenset(data.get("ignore", ())),
    )


def _named_value(names: Iterable[str]) -> re.Pattern[str]:
    """`name=V`, `"name": "V"`, `name: V` or `<name>V` for any of the names."""
    alternation = "|".join(re.escape(name) for name in names)
    return re.compile(
        rf"(?<![A-Za-z0-9_-])(?:{alternation})[\"']?\s{{0,4}}[:=]\s{{0,4}}[\"']?{_VALUE}"
        rf"|<(?:{alternation})>{_VALUE}"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
