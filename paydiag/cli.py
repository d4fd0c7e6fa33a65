"""The command line: parse options, call the library, pick a renderer, set the exit code."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import (
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from paydiag import __version__, exitcodes
from paydiag.analysis import AnalyzeOptions, analyze
from paydiag.catalog import Catalog, Problem, Rule, Severity, load_catalog
from paydiag.catalog.checks import example_problems, shadowing_problems, sort_problems, validate
from paydiag.catalog.export import export_rules
from paydiag.catalog.lookup import find_rules, suggest
from paydiag.catalog.patterns import to_ere
from paydiag.explain import render_explain
from paydiag.match import Matcher
from paydiag.match.scanners import available_engines
from paydiag.parse.timestamps import parse_since
from paydiag.redact import DEFAULT_REDACTOR
from paydiag.report import REPORTERS, RenderOptions, Report

app = typer.Typer(
    name="paydiag",
    help="Tells you why payments fail and what to do about it, from gateway and app logs.\n\n"
    + exitcodes.HELP,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="Inspect, validate and test the rule catalog.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

RulesOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--rules",
        help="Extra rule directory or file (repeatable); its rules override built-in ones by id.",
    ),
]


class ExplainFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class ReportFormat(StrEnum):
    text = "text"
    json = "json"


class FailOn(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"
    never = "never"


class Engine(StrEnum):
    auto = "auto"
    hyperscan = "hyperscan"
    literal = "literal"


class ExportFormat(StrEnum):
    json = "json"
    yaml = "yaml"
    csv = "csv"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> NoReturn:
    _err().print(f"paydiag: {message}", markup=False)
    raise typer.Exit(code)


def _print_problems(problems: list[Problem]) -> None:
    err = _err()
    for problem in sort_problems(problems):
        err.print(str(problem), markup=False)


def _catalog(extra: list[Path] | None) -> Catalog:
    """The catalog to work with; a broken one stops the command with exit code 3."""
    result = load_catalog(extra or [])
    if result.errors:
        _print_problems(list(result.errors))
        _fail(f"the rule catalog has {len(result.errors)} error(s)", exitcodes.CATALOG)
    return result.catalog


def _version(value: bool) -> None:
    if value:
        typer.echo(f"paydiag {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """paydiag — payment failure diagnostics."""


@app.command("analyze", epilog=exitcodes.HELP)
def analyze_command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Log files, folders (recursive), globs, or - for stdin; .gz/.bz2/.xz/.zst "
            "are read by content.",
            metavar="LOG...",
        ),
    ],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ReportFormat.text
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option(help="Exit 1 when a finding is at or above this severity.")
    ] = FailOn.high,
    gateway: Annotated[str | None, typer.Option(help="Only this gateway's rules.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events at or after this time (a date, or 2h, 3d).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Only events at or before this time.")] = None,
    min_severity: Annotated[
        Severity, typer.Option(help="Leave out findings below this severity.")
    ] = Severity.INFO,
    engine: Annotated[
        Engine, typer.Option(help="Candidate scanner: hyperscan (if installed) or literal.")
    ] = Engine.auto,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    rules: RulesOption = None,
) -> None:
    """Find every payment error in the logs and say what broke, since when, and what to do.

    Examples:

      paydiag analyze sample_logs/

      paydiag analyze 'logs/**/*.log.gz' --since 2h --format json -o report.json

      kubectl logs deploy/checkout | paydiag analyze - --gateway stripe
    """
    catalog = _catalog(rules)
    if engine is Engine.hyperscan and "hyperscan" not in available_engines():
        _fail("the hyperscan engine needs `pip install 'paydiag[fast]'`", exitcodes.USAGE)
    options = AnalyzeOptions(
        engine=engine.value,
        gateway=gateway,
        since=_time_option("--since", since),
        until=_time_option("--until", until),
        min_severity=min_severity,
    )
    with _progress(enabled=not quiet) as advance:
        report = analyze(inputs, catalog, options, progress=advance)
    _emit(REPORTERS[fmt.value].render(report, _render_options(output)), output)
    raise typer.Exit(_exit_code(report, fail_on))


def _time_option(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as error:
        _fail(f"{name}: {error}", exitcodes.USAGE)


def _render_options(output: Path | None) -> RenderOptions:
    terminal = output is None and sys.stdout.isatty()
    width = shutil.get_terminal_size((120, 40)).columns if terminal else 120
    return RenderOptions(color=terminal and "NO_COLOR" not in os.environ, width=width)


def _emit(text: str, output: Path | None, *, from_logs: bool = True) -> None:
    """Every output leaves through here; what came from logs gets one last redaction pass.

    A catalog export is the catalog's own text (placeholders such as `Bearer <token>` in
    rule examples), which redaction would corrupt; it holds nothing read from logs.
    """
    if from_logs:
        text = DEFAULT_REDACTOR.redact(text)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror or error}", exitcodes.USAGE)


def _exit_code(report: Report, fail_on: FailOn) -> int:
    if any(i.error for i in report.inputs):
        return exitcodes.USAGE
    if fail_on is FailOn.never:
        return exitcodes.OK
    threshold = Severity(fail_on.value).rank
    failing = [f for f in report.findings if not f.known and Severity(f.severity).rank >= threshold]
    return exitcodes.FINDINGS if failing else exitcodes.OK


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A transient byte counter on stderr, only on a terminal and never in --quiet."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    columns = (
        TextColumn("analysing"),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_err(), transient=True) as progress:
        task = progress.add_task("read", total=None)
        yield lambda size: progress.advance(task, size)


@app.command()
def explain(
    code: Annotated[str, typer.Argument(help="An error code as any gateway spells it.")],
    gateway: Annotated[str | None, typer.Option(help="Only this gateway's rule.")] = None,
    fmt: Annotated[ExplainFormat, typer.Option("--format", help="Output format.")] = (
        ExplainFormat.text
    ),
    rules: RulesOption = None,
) -> None:
    """The troubleshooting guide for one error code: causes, fixes in order, what support needs.

    Examples:

      paydiag explain InvalidParameterValue

      paydiag explain insufficient_funds --gateway stripe --format markdown

    Exit 1 when no rule knows the code (with "did you mean" suggestions).
    """
    catalog = _catalog(rules)
    found = find_rules(catalog, code, gateway)
    if not found:
        where = f" for gateway {gateway}" if gateway else ""
        hints = suggest(catalog, code)
        hint = f"; did you mean: {', '.join(hints)}?" if hints else ""
        _fail(f"unknown error code {code!r}{where}{hint}", exitcodes.FINDINGS)
    page = render_explain(found, catalog, fmt.value)
    if fmt is ExplainFormat.text and sys.stdout.isatty():
        _out().print(Markdown(render_explain(found, catalog, "markdown")))
    else:
        sys.stdout.write(page)


@rules_app.command("validate")
def rules_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Rule files or directories (default: the built-in catalog)."),
    ] = None,
    rules: RulesOption = None,
) -> None:
    """Check rule files: YAML, schema, unique ids, regexes, and every rule's own examples.

    Examples:

      paydiag rules validate

      paydiag rules validate my-rules/

    Exit 3 when any error is found; warnings alone exit 0.
    """
    result = load_catalog(paths or rules or [], builtin=not paths)
    problems = [*result.problems, *validate(result.catalog)]
    _print_problems(problems)
    errors = sum(1 for p in problems if p.level == "error")
    warnings = len(problems) - errors
    files = len({rule.source.path for rule in result.catalog.rules})
    _err().print(
        f"{len(result.catalog)} rules in {files} files: {errors} errors, {warnings} warnings",
        markup=False,
    )
    if errors:
        raise typer.Exit(exitcodes.CATALOG)


@rules_app.command("test")
def rules_test(
    gateway: Annotated[str | None, typer.Option(help="Only this gateway's rules.")] = None,
    failures_only: Annotated[bool, typer.Option(help="Show only failing rules.")] = False,
    rules: RulesOption = None,
) -> None:
    """Run every rule's match / no_match examples and print a pass/fail table.

    A rule passes when it matches each `match` example, matches no `no_match` example, and
    wins each `match` example against the whole catalog. Exit 3 when any rule fails.

    Example:

      paydiag rules test --gateway stripe
    """
    catalog = _catalog(rules)
    matcher = Matcher(catalog.rules)
    selected = [r for r in catalog.rules if gateway is None or r.gateway == gateway]
    shadowed = {p.rule_id: p for p in shadowing_problems(catalog, matcher)}
    table = Table("rule", "match", "no_match", "result", title="Rule examples")
    failed = 0
    for rule in selected:
        problems = list(example_problems(rule))
        ok = not problems and rule.id not in shadowed
        failed += not ok
        if ok and failures_only:
            continue
        table.add_row(
            rule.id,
            f"{len(rule.examples.match)}",
            f"{len(rule.examples.no_match)}",
            "PASS"
            if ok
            else "FAIL: " + "; ".join(p.message for p in problems or [shadowed[rule.id]]),
        )
    _out().print(table)
    _out().print(f"{len(selected) - failed} passed, {failed} failed", markup=False)
    if failed:
        raise typer.Exit(exitcodes.CATALOG)


@rules_app.command("list")
def rules_list(
    gateway: Annotated[str | None, typer.Option(help="Only this gateway.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only this severity.")] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="Output format.")] = ListFormat.table,
    rules: RulesOption = None,
) -> None:
    """List the rules, optionally filtered.

    Examples:

      paydiag rules list --gateway paypal

      paydiag rules list --category rate_limit --format json
    """
    selected = _select(_catalog(rules), gateway, category, severity)
    if fmt is ListFormat.json:
        sys.stdout.write(json.dumps([_summary(r) for r in selected], indent=2) + "\n")
        return
    table = Table("id", "gateway", "code", "category", "severity", "fault", "title")
    for rule in selected:
        table.add_row(
            rule.id,
            rule.gateway,
            rule.code,
            rule.category,
            rule.severity.value,
            rule.fault,
            rule.title,
        )
    _out().print(table)
    _out().print(f"{len(selected)} rules", markup=False)


def _select(
    catalog: Catalog, gateway: str | None, category: str | None, severity: str | None
) -> list[Rule]:
    return [
        rule
        for rule in catalog.rules
        if gateway in (None, rule.gateway)
        and category in (None, rule.category)
        and severity in (None, rule.severity.value)
    ]


@rules_app.command("export")
def rules_export(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = (
        ExportFormat.json
    ),
    gateway: Annotated[str | None, typer.Option(help="Only this gateway.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only this severity.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    rules: RulesOption = None,
) -> None:
    """Write the catalog (or a filtered part) for your own code: codes, retry advice, shopper
    messages, references.

    JSON and YAML follow rules/catalog-export.schema.json and load back as rules
    (`--rules export.json`); CSV is a flat table.

    Examples:

      paydiag rules export --format csv --category decline_generic -o declines.csv

      paydiag rules export --gateway stripe > stripe-rules.json
    """
    selected = _select(_catalog(rules), gateway, category, severity)
    _emit(export_rules(selected, fmt.value), output, from_logs=False)


def _summary(rule: Rule) -> dict[str, object]:
    keys = (
        "id",
        "gateway",
        "code",
        "aliases",
        "category",
        "severity",
        "fault",
        "title",
        "http_status",
        "retry",
        "references",
    )
    data = rule.to_dict()
    return {key: data.get(key) for key in keys}


@rules_app.command("patterns")
def rules_patterns(rules: RulesOption = None) -> None:
    """Print every rule pattern as a POSIX extended regex, one per line (for `grep -E -f`).

    Example:

      paydiag rules patterns > patterns.txt && grep -c -E -f patterns.txt app.log
    """
    catalog = _catalog(rules)
    seen: set[str] = set()
    for rule in catalog.rules:
        for pattern in rule.match.patterns:
            ere = to_ere(pattern.pattern)
            if ere not in seen:
                seen.add(ere)
                sys.stdout.write(ere + "\n")


def main() -> None:
    app()
