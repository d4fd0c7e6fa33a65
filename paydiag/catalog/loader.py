"""Load rule files into a Catalog, collecting every problem instead of stopping at the first."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paydiag.cache import cache_key, code_fingerprint, read_cached, write_cached
from paydiag.catalog.model import (
    Catalog,
    Examples,
    GatewayInfo,
    MatchSpec,
    Problem,
    Rule,
    Severity,
    SourceLocation,
)
from paydiag.catalog.patterns import (
    PatternError,
    RulePattern,
    compile_pattern,
    portability_problems,
)
from paydiag.catalog.yamlsource import LineDict, YamlError, line_of, load_yaml

if TYPE_CHECKING:
    import jsonschema

SCHEMA_FILE = "rule-file.schema.json"
EXPORT_SCHEMA_FILE = "catalog-export.schema.json"


@dataclass(frozen=True)
class LoadResult:
    catalog: Catalog
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.level == "error")


def builtin_rules_dir() -> Path:
    """The catalog shipped in the wheel, or `rules/` beside the package in a checkout."""
    packaged = Path(str(resources.files("paydiag"))) / "_catalog"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "rules"


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((builtin_rules_dir() / name).read_text(encoding="utf-8"))
    return schema


@cache
def rule_file_schema() -> dict[str, Any]:
    return _schema(SCHEMA_FILE)


@cache
def _validators() -> dict[bool, jsonschema.Draft202012Validator]:
    """Validators for a rule file (False) and a catalog export (True)."""
    # Imported on first use: a catalog read from the cache is not validated again, and
    # jsonschema is a tenth of the start-up time of every command.
    import jsonschema
    from referencing import Registry, Resource

    rule_file, export = rule_file_schema(), _schema(EXPORT_SCHEMA_FILE)
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in (rule_file, export)
    )
    return {
        False: jsonschema.Draft202012Validator(rule_file, registry=registry),
        True: jsonschema.Draft202012Validator(export, registry=registry),
    }


def is_export(document: object) -> bool:
    """A catalog export (`paydiag rules export`) rather than a hand-written rule file."""
    return isinstance(document, dict) and "schema_version" in document


def rule_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            # Top level only: subfolders hold other data (support profiles), not rules.
            files.extend(sorted(p for p in path.glob("*") if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    return files


def load_catalog(extra: Sequence[Path] = (), *, builtin: bool = True) -> LoadResult:
    """The built-in catalog (unless `builtin` is False), then `extra` dirs/files in order.

    A later rule with the same id replaces an earlier one: that is how users override
    built-in rules. The same id twice within one source is a problem.
    """
    sources = ([builtin_rules_dir()] if builtin else []) + list(extra)
    rules: dict[str, Rule] = {}
    gateways: dict[str, GatewayInfo] = {}
    problems: list[Problem] = []
    for source in sources:
        if not source.exists():
            problems.append(Problem(str(source), 0, "no such file or directory"))
            continue
        seen: dict[str, Rule] = {}
        for path in rule_files([source]):
            file_rules, info, file_problems = load_rule_file(path)
            problems.extend(file_problems)
            if info:
                gateways.setdefault(info.gateway, info)
            for rule in file_rules:
                if rule.id in seen:
                    problems.append(_duplicate(rule, seen[rule.id]))
                    continue
                seen[rule.id] = rule
        rules.update(seen)
    catalog = Catalog(tuple(rules.values()), tuple(gateways.values()))
    return LoadResult(catalog, tuple(problems))


def _duplicate(rule: Rule, first: Rule) -> Problem:
    return Problem(
        rule.source.path,
        rule.source.line,
        f"duplicate rule id (first defined at {first.source})",
        rule.id,
    )


def load_rule_file(path: Path) -> tuple[list[Rule], GatewayInfo | None, list[Problem]]:
    """Rules that are sound, the file's gateway facts, and what is wrong with the rest.

    A file that loaded without problems before is read back from the cache, skipping the
    YAML parse, the schema and the portability checks (most of a command's start-up).
    """
    try:
        content = path.read_bytes()
    except OSError as error:
        return [], None, [Problem(str(path), 0, f"cannot read: {error.strerror or error}")]
    name = f"catalog-{cache_key(str(path), content, _checker_fingerprint())}.json"
    cached = read_cached(name)
    if cached is not None:
        with contextlib.suppress(ValueError, KeyError, TypeError, re.error):
            return _from_cache(json.loads(cached), str(path))
    rules, info, problems = _load_rule_file(path)
    if not problems:
        write_cached(name, _to_cache(rules, info))
    return rules, info, problems


@cache  # asked for every rule file, and looking up the installed catalog takes a while
def _checker_fingerprint() -> bytes:
    """What decides a file is sound: the schemas and the code that checks and builds rules."""
    here = Path(__file__).parent
    parts = [here / "loader.py", here / "patterns.py", here / "model.py"]
    schemas = [builtin_rules_dir() / SCHEMA_FILE, builtin_rules_dir() / EXPORT_SCHEMA_FILE]
    return code_fingerprint(*parts, *schemas)


def _to_cache(rules: list[Rule], info: GatewayInfo | None) -> bytes:
    entry = {
        "info": [info.gateway, info.name, info.docs] if info else None,
        "rules": [{**rule.to_dict(), "__line__": rule.source.line} for rule in rules],
    }
    return json.dumps(entry).encode("utf-8")


def _from_cache(
    entry: dict[str, Any], where: str
) -> tuple[list[Rule], GatewayInfo | None, list[Problem]]:
    info = None
    if entry["info"]:
        gateway, name, docs = entry["info"]
        info = GatewayInfo(str(gateway), str(name), str(docs), where)
    rules = []
    for raw in entry["rules"]:
        match = raw["match"]
        compiled = {
            key: tuple(RulePattern(source) for source in match.get(key, []))
            for key in ("patterns", "context", "exclude")
        }
        rules.append(_make_rule(raw, compiled, raw["gateway"], where, raw["__line__"]))
    return rules, info, []


def _load_rule_file(path: Path) -> tuple[list[Rule], GatewayInfo | None, list[Problem]]:
    where = str(path)
    try:
        document = load_yaml(path)
    except YamlError as error:
        return [], None, [Problem(where, error.line, error.message)]
    if not isinstance(document, LineDict):
        return [], None, [Problem(where, 1, "a rule file is a mapping with gateway, name, rules")]
    problems = list(schema_problems(document, where))
    broken_rules = {p.rule_id for p in problems}
    info = _gateway_info(document, where)
    rules: list[Rule] = []
    raw_rules = document.get("rules")
    for raw in raw_rules if isinstance(raw_rules, list) else []:
        if not isinstance(raw, LineDict) or _raw_id(raw) in broken_rules:
            continue
        rule, rule_problems = build_rule(raw, str(document.get("gateway", "")), where)
        problems.extend(rule_problems)
        if rule:
            rules.append(rule)
    return rules, info, problems


def _raw_id(raw: Any) -> str | None:
    rule_id = raw.get("id") if isinstance(raw, dict) else None
    return rule_id if isinstance(rule_id, str) else None


def _gateway_info(document: LineDict, where: str) -> GatewayInfo | None:
    fields = [document.get(key) for key in ("gateway", "name", "docs")]
    if not all(isinstance(value, str) for value in fields):
        return None
    return GatewayInfo(str(fields[0]), str(fields[1]), str(fields[2]), where)


def schema_problems(document: LineDict, where: str) -> Iterable[Problem]:
    validator = _validators()[is_export(document)]
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = tuple(error.absolute_path)
        rule_id = None
        if len(path) >= 2 and path[0] == "rules":
            rule_id = _raw_id(document["rules"][path[1]])
        field = ".".join(str(step) for step in path[2:]) or None
        message = _schema_message(error, field)
        yield Problem(where, _error_line(document, path, error), message, rule_id)


def _error_line(document: LineDict, path: tuple[Any, ...], error: Any) -> int:
    """The line of the offending key for an unknown field, else of the failing value."""
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, LineDict):
        known = error.schema.get("properties", {})
        unknown = [key for key in instance if key not in known]
        if unknown:
            return instance.key_lines.get(unknown[0], instance.line)
    return line_of(document, path)


def _schema_message(error: jsonschema.ValidationError, field: str | None) -> str:
    if error.validator == "additionalProperties":
        return f"unknown field: {error.message.split('(')[-1].rstrip(')')}"
    if error.validator == "enum":
        choices: list[Any] = (
            list(error.schema.get("enum", [])) if isinstance(error.schema, dict) else []
        )
        allowed = ", ".join(str(value) for value in choices)
        return f"{field}: {error.instance!r} is not one of {allowed}"
    prefix = f"{field}: " if field else ""
    return prefix + error.message


def build_rule(raw: LineDict, file_gateway: str, where: str) -> tuple[Rule | None, list[Problem]]:
    """A schema-valid raw rule as a Rule, or the pattern problems that stop it."""
    rule_id = str(raw["id"])
    match = raw["match"]
    compiled: dict[str, tuple[Any, ...]] = {}
    problems: list[Problem] = []
    for key in ("patterns", "context", "exclude"):
        patterns = []
        for index, source in enumerate(match.get(key, [])):
            line = line_of(raw, ("match", key, index)) or raw.line
            try:
                patterns.append(RulePattern(source, compile_pattern(source)))
                portability = portability_problems(source, needs_literal=key == "patterns")
            except PatternError as error:
                problems.append(Problem(where, line, f"match.{key}: {error}", rule_id))
                continue
            problems.extend(
                Problem(where, line, f"match.{key}: regex {source!r}: {reason}", rule_id)
                for reason in portability
            )
        compiled[key] = tuple(patterns)
    if problems:
        return None, problems
    return _make_rule(raw, compiled, file_gateway, where, raw.line), []


def _make_rule(
    raw: dict[str, Any],
    compiled: dict[str, tuple[Any, ...]],
    file_gateway: str,
    where: str,
    line: int,
) -> Rule:
    return Rule(
        id=str(raw["id"]),
        gateway=str(raw.get("gateway", file_gateway)),
        code=str(raw["code"]),
        aliases=tuple(str(a) for a in raw.get("aliases", [])),
        title=raw["title"],
        category=raw["category"],
        severity=Severity(raw["severity"]),
        fault=raw["fault"],
        http_status=raw.get("http_status"),
        retry=raw["retry"],
        retry_after=raw.get("retry_after"),
        shopper_message=raw.get("shopper_message"),
        priority=int(raw.get("priority", 0)),
        match=MatchSpec(compiled["patterns"], compiled["context"], compiled["exclude"]),
        explanation=str(raw["explanation"]).strip(),
        causes=tuple(raw["causes"]),
        fixes=tuple(raw["fixes"]),
        support=tuple(raw["support"]),
        references=tuple(raw["references"]),
        examples=Examples(tuple(raw["examples"]["match"]), tuple(raw["examples"]["no_match"])),
        source=SourceLocation(where, line),
    )
