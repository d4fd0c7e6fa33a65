"""The command line: parse options, call the library, pick a renderer, set the exit code."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from paydiag import __version__, exitcodes
from paydiag.analysis import AnalyzeOptions, analyze
from paydiag.baseline import BaselineError, load_baseline, mark_known
from paydiag.catalog import Catalog, Problem, Rule, Severity, load_catalog
from paydiag.catalog.checks import example_problems, shadowing_problems, sort_problems, validate
from paydiag.catalog.lookup import find_rules, suggest
from paydiag.catalog.patterns import to_ere
from paydiag.config import Config, ConfigError, apply_rule_settings, discover_config
from paydiag.match import Matcher
from paydiag.match.scanners import available_engines
from paydiag.parse.timestamps import parse_since
from paydiag.redact import DEFAULT_REDACTOR
from paydiag.report import QUIET_TEXT, REPORTERS, RenderOptions, Report

# rich is imported where the CLI draws (a table, a progress bar, a message): a run that
# writes JSON, SARIF or JUnit for CI never needs it, and importing it took 40 ms.
if TYPE_CHECKING:
    from rich.console import Console

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
    sarif = "sarif"
    junit = "junit"
    github = "github"
    markdown = "markdown"


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
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _err() -> Console:
    from rich.console import Console

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
    fmt: Annotated[
        ReportFormat | None,
        typer.Option("--format", "-f", help="Output format (default: config format, or text)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            help="Exit 1 when a new finding is at or above this severity "
            "(default: config fail_on, or high)."
        ),
    ] = None,
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
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress bar; text shows only the headline and findings."
        ),
    ] = False,
    incidents: Annotated[
        bool,
        typer.Option(
            help="Detect incidents (outages, bursts, limbo orders ...) and the error timeline; "
            "--no-incidents reads only error lines, several times faster on huge logs.",
        ),
    ] = True,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Processes for large inputs (default: the number of cores); results are "
            "the same as with one.",
        ),
    ] = os.cpu_count() or 1,
    rules: RulesOption = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="A saved JSON report: its findings are known and do not fail the build."),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file (default: paydiag.toml or [tool.paydiag] in pyproject.toml, "
            "from here up to the repository root).",
        ),
    ] = None,
) -> None:
    """Find every payment error in the logs and say what broke, since when, and what to do.

    Examples:

      paydiag analyze sample_logs/

      paydiag analyze 'logs/**/*.log.gz' --since 2h --format json -o report.json

      kubectl logs deploy/checkout | paydiag analyze - --gateway stripe

      paydiag analyze logs/ --format sarif -o paydiag.sarif --baseline baseline.json
    """
    config = _config(config_file)
    catalog = _configured_catalog(rules, config)
    known = _baseline(baseline)
    if engine is Engine.hyperscan and "hyperscan" not in available_engines():
        _fail("the hyperscan engine needs `pip install 'paydiag[fast]'`", exitcodes.USAGE)
    options = AnalyzeOptions(
        engine=engine.value,
        gateway=gateway,
        since=_time_option("--since", since),
        until=_time_option("--until", until),
        min_severity=min_severity,
        id_patterns=config.id_patterns,
        redactor=config.redactor,
        incidents=config.incidents if incidents else None,
    )
    with _progress(enabled=not quiet) as advance:
        report = analyze(inputs, catalog, options, progress=advance, jobs=jobs)
    if baseline is not None:
        report = mark_known(report, known, str(baseline))
    fmt = fmt or ReportFormat(config.format or ReportFormat.text)
    reporter = QUIET_TEXT if quiet and fmt is ReportFormat.text else REPORTERS[fmt.value]
    text = reporter.render(report, _render_options(output))
    _emit(text, output)
    _report_input_problems(report)
    raise typer.Exit(_exit_code(report, fail_on or FailOn(config.fail_on or FailOn.high)))


def _config(explicit: Path | None) -> Config:
    """--config FILE, or the nearest paydiag.toml / [tool.paydiag]; a bad one exits 2."""
    try:
        return discover_config(explicit, Path.cwd())
    except ConfigError as error:
        _fail(str(error), exitcodes.USAGE)


def _configured_catalog(rules: list[Path] | None, config: Config) -> Catalog:
    """--rules wins over the config's rules; then its disable and severity settings apply."""
    catalog = _catalog(rules or list(config.rules))
    try:
        return apply_rule_settings(catalog, config)
    except ConfigError as error:
        _fail(str(error), exitcodes.USAGE)


def _baseline(path: Path | None) -> frozenset[str]:
    if path is None:
        return frozenset()
    try:
        return load_baseline(path)
    except BaselineError as error:
        _fail(str(error), exitcodes.USAGE)


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


def _report_input_problems(report: Report) -> None:
    """One line on stderr per unreadable input or damaged file, whatever the format."""
    lines: list[str] = []
    for summary in report.inputs:
        if summary.error:
            lines.append(f"{summary.path}: {summary.error}")
        lines.extend(f"{summary.path}:{p.line}: {p.message}" for p in summary.problems)
    if lines:
        err = _err()
        for line in lines:
            err.print(f"paydiag: {line}", markup=False)


def _emit(text: str, output: Path | None) -> None:
    """Every output leaves through here, to stdout or the --output file.

    Text read from logs is redacted where it enters the Report (examples and templates
    as text, IDs as fields), so every format is safe by construction; a blanket pass
    over rendered output would take an all-digit pspReference for a card number.
    """
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
    # An incident (an outage, sandbox keys in production ...) fails the build like a finding.
    incidents = [i for i in report.incidents if Severity(i.severity).rank >= threshold]
    return exitcodes.FINDINGS if failing or incidents else exitcodes.OK


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A transient byte counter on stderr, only on a terminal and never in --quiet."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from rich.progress import (
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

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
    # Imported here, as in the other commands below: `analyze` starts faster without
    # Markdown, Jinja2 and the ticket machinery, and start-up is part of every CI step.
    from rich.markdown import Markdown

    from paydiag.explain import render_explain

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


class TimelineFormat(StrEnum):
    text = "text"
    json = "json"


@app.command("timeline", epilog=exitcodes.HELP)
def timeline_command(
    transaction_id: Annotated[
        str,
        typer.Argument(help="A transaction, order, payment or request ID.", metavar="ID"),
    ],
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Log files, folders, globs or - for stdin, as for analyze.", metavar="LOG..."
        ),
    ],
    fmt: Annotated[TimelineFormat, typer.Option("--format", "-f", help="Output format.")] = (
        TimelineFormat.text
    ),
    rules: RulesOption = None,
) -> None:
    """Every event of one transaction across all the logs (gateway and application logs
    together), in time order, and where it went wrong.

    Examples:

      paydiag timeline ORD-71081 sample_logs/

      paydiag timeline pi_3MtwBwLkdIwHu7ix28a3tqPa app.log webhooks.jsonl --format json

    Exit 1 when no log mentions the ID, 2 when an input cannot be read.
    """
    from paydiag.timeline_view import checked_id, render_timeline, trace_transaction

    try:
        checked_id(transaction_id)
    except ValueError as error:
        _fail(str(error), exitcodes.USAGE)
    timeline = trace_transaction(transaction_id, inputs, _catalog(rules))
    for problem in timeline.input_errors:
        _err().print(f"paydiag: {problem.name}: {problem.message}", markup=False)
    if not timeline.events:
        searched = f"{timeline.files_searched} file{'s' if timeline.files_searched != 1 else ''}"
        _fail(
            f"no record mentions {DEFAULT_REDACTOR.redact(timeline.id)!r} in {searched}",
            exitcodes.USAGE if timeline.input_errors else exitcodes.FINDINGS,
        )
    options = _render_options(None)
    _emit(render_timeline(timeline, fmt.value, options.width, options.color), None)
    raise typer.Exit(exitcodes.USAGE if timeline.input_errors else exitcodes.OK)


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
    from rich.table import Table

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
    from rich.table import Table

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
    from paydiag.catalog.export import export_rules

    selected = _select(_catalog(rules), gateway, category, severity)
    _emit(export_rules(selected, fmt.value), output)


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


class TicketEnvironment(StrEnum):
    sandbox = "sandbox"
    production = "production"


@app.command("ticket")
def ticket_command(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files, folders, globs or - for stdin, as for analyze.", metavar="[LOG]..."
        ),
    ] = None,
    report_file: Annotated[
        Path | None,
        typer.Option("--report", help="A saved JSON report (analyze -f json -o FILE) instead."),
    ] = None,
    rule: Annotated[
        str | None, typer.Option(help="The finding of this rule id (default: the most severe).")
    ] = None,
    code: Annotated[str | None, typer.Option(help="The finding of this error code.")] = None,
    template: Annotated[
        str, typer.Option(help="markdown, email, json, or a Jinja2 template file.")
    ] = "markdown",
    tried: Annotated[
        list[str] | None, typer.Option(help="A step already taken, in your words (repeatable).")
    ] = None,
    done: Annotated[
        list[int] | None,
        typer.Option(help="Recommended check N is done (repeatable).", metavar="N"),
    ] = None,
    merchant_id: Annotated[
        str | None, typer.Option(help="Your merchant or account ID at the gateway.")
    ] = None,
    environment: Annotated[
        TicketEnvironment | None, typer.Option(help="Default: what the logs show.")
    ] = None,
    contact: Annotated[
        str | None, typer.Option(help="Who support should answer (an email or phone is kept).")
    ] = None,
    total_transactions: Annotated[
        int | None,
        typer.Option(min=1, help="Payment attempts in the same period, for the failing share."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the ticket to this file.")
    ] = None,
    gateway: Annotated[str | None, typer.Option(help="Only this gateway's rules.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events at or after this time (a date, or 2h, 3d).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Only events at or before this time.")] = None,
    rules: RulesOption = None,
) -> None:
    """Draft the support request for the gateway: the error, the IDs support needs, impact and
    priority, what was already tried; secrets redacted.

    Examples:

      paydiag ticket sample_logs/ --merchant-id A2EXAMPLE --contact ops@example.com

      paydiag ticket --report report.json --code rate_limit --template email -o ticket.txt

      paydiag ticket app.log --tried "Rotated the API key at 04:30 UTC" --done 1 --done 3

    Exit 0 with the ticket; 1 when there is no finding (or none with that --rule/--code); 2 on
    a usage error (bad option, report file or template); 3 when the rule catalog is broken.
    """
    from paydiag.ticket import NoFinding, ProfileError, TicketError, TicketOptions, build_ticket

    report = _ticket_report(inputs or [], report_file, gateway, since, until, rules)
    options = TicketOptions(
        rule_id=rule,
        code=code,
        tried=tuple(tried or ()),
        done=tuple(done or ()),
        merchant_id=merchant_id,
        environment=environment.value if environment else None,
        contact=contact,
        total_transactions=total_transactions,
    )
    try:
        text = build_ticket(report, options, template)
    except NoFinding as error:
        _fail(DEFAULT_REDACTOR.redact(str(error)), exitcodes.FINDINGS)
    except TicketError as error:
        _fail(DEFAULT_REDACTOR.redact(str(error)), exitcodes.USAGE)
    except ProfileError as error:
        _fail(f"a support profile is broken: {error}", exitcodes.CATALOG)
    _emit(text, output)  # build_ticket redacted it, keeping --contact


def _ticket_report(
    inputs: list[str],
    report_file: Path | None,
    gateway: str | None,
    since: str | None,
    until: str | None,
    rules: list[Path] | None,
) -> Report:
    """The report to write the ticket from: a saved one, or the logs analysed now."""
    from paydiag.report.load import ReportLoadError, load_report

    if report_file is not None:
        if inputs:
            _fail("give log files or --report FILE, not both", exitcodes.USAGE)
        if since or until:
            _fail("--since/--until need log files: a saved report is aggregated", exitcodes.USAGE)
        try:
            report = load_report(report_file)
        except ReportLoadError as error:
            _fail(DEFAULT_REDACTOR.redact(str(error)), exitcodes.USAGE)
        kept = tuple(f for f in report.findings if gateway in (None, f.gateway))
        return dataclasses.replace(report, findings=kept)
    if not inputs:
        _fail("give log files, folders, globs or - (stdin), or --report FILE", exitcodes.USAGE)
    options = AnalyzeOptions(
        gateway=gateway, since=_time_option("--since", since), until=_time_option("--until", until)
    )
    catalog = _catalog(rules)
    with _progress(enabled=True) as advance:
        report = analyze(inputs, catalog, options, progress=advance)
    unreadable = next((i for i in report.inputs if i.error), None)
    if unreadable is not None:
        _fail(f"cannot read {unreadable.path}: {unreadable.error}", exitcodes.USAGE)
    return report


def main() -> NoReturn:
    """The console entry point: runs the command, then ends the process at once.

    By then every output is written and closed and the process pool is shut down, yet
    Python's own teardown (freeing every object of the run, module by module) took 30-40 ms
    more: 2 % of an analysis of 200 MB, and more than that of a short command.
    """
    try:
        app()
        code = 0
    except SystemExit as done:
        code = _exit_status(done.code)
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe has nothing left to take
            stream.flush()
    os._exit(code)


def _exit_status(code: object) -> int:
    """The status SystemExit(code) ends Python with: a message goes to stderr and is 1."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1
