"""The pipeline: read → scan → parse → match → diagnose → report, one streaming pass.

`analyze()` is the library API the CLI calls; it never prints and never exits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime

from paydiag import __version__
from paydiag.catalog.model import Catalog, Severity
from paydiag.diagnose.findings import Diagnoser
from paydiag.diagnose.summary import summarise
from paydiag.ingest.chunks import ReadState, read_chunks
from paydiag.ingest.formats import ERROR_STATUS_GATES, SINGLE_LINE_FORMATS, detect_format
from paydiag.ingest.records import decode, record_spans
from paydiag.ingest.sources import Source, expand_inputs, open_source
from paydiag.match.engine import Matcher
from paydiag.match.prefilter import ERROR_WORDS
from paydiag.match.scanners import Scanner, make_scanner
from paydiag.parse.event import Event, parse_record
from paydiag.parse.ids import IdPattern
from paydiag.redact import DEFAULT_REDACTOR, Redactor
from paydiag.report.model import InputProblem, InputSummary, Report

# 4xx statuses that say nothing about payments (crawlers, typos).
IGNORED_CLIENT_ERRORS = frozenset({404, 405, 410, 414})
_ERROR_LEVELS = frozenset({"warn", "error", "fatal"})

Progress = Callable[[int], None]


@dataclass(frozen=True)
class AnalyzeOptions:
    engine: str = "auto"
    gateway: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_severity: Severity = Severity.INFO
    id_patterns: tuple[IdPattern, ...] = ()
    redactor: Redactor = field(default_factory=lambda: DEFAULT_REDACTOR)


class _Pipeline:
    def __init__(self, catalog: Catalog, options: AnalyzeOptions) -> None:
        self.options = options
        rules = [r for r in catalog.rules if options.gateway in (None, r.gateway)]
        self.matcher = Matcher(rules)
        self.scanner: Scanner = make_scanner(rules, options.engine)
        self.diagnoser = Diagnoser(options.redactor.redact)
        # Records without a time of their own (a traceback's last line) take the last seen.
        self._last_time: datetime | None = None

    def run(self, source: Source, progress: Progress | None) -> InputSummary:
        state = ReadState()
        self._last_time = None
        try:
            stream, compression = open_source(source)
        except OSError as error:
            return InputSummary(source.name, 0, 0, "unknown", error=_os_message(error))
        file_format = "text"
        with closing(stream):
            for index, chunk in enumerate(read_chunks(stream, state)):
                if index == 0:
                    file_format = detect_format(chunk.data[:65536])
                self._chunk(source.name, chunk.data, chunk.first_line, file_format)
                if progress:
                    progress(len(chunk.data))
        problems = tuple(InputProblem(p.line, p.message) for p in state.problems)
        return InputSummary(
            source.name, state.lines, state.bytes_read, file_format, compression, problems
        )

    def _chunk(self, name: str, data: bytes, first_line: int, file_format: str) -> None:
        hits = self.scanner.hits(data)
        status_gate = ERROR_STATUS_GATES.get(file_format)
        if status_gate is not None:
            hits.extend(m.start() for m in status_gate.finditer(data))
        if not hits:
            return
        multiline = file_format not in SINGLE_LINE_FORMATS
        for span in record_spans(data, first_line, hits, multiline):
            text = decode(data[span.start : span.end])
            rule = self.matcher.best(text)
            if rule is None and status_gate is None and not _mentions_error(text):
                continue  # a rule's literal without the rule: nothing to report, skip parsing
            event = parse_record(
                text,
                name,
                span.line,
                default_time=self._last_time,
                id_patterns=self.options.id_patterns,
            )
            self._last_time = event.timestamp or self._last_time
            if not self._in_window(event):
                continue
            if rule is not None:
                self.diagnoser.add_hit(event, rule)
            elif looks_like_error(event):
                self.diagnoser.add_unrecognised(event)

    def _in_window(self, event: Event) -> bool:
        when = event.timestamp
        if when is None:
            return True
        since, until = self.options.since, self.options.until
        return (since is None or when >= since) and (until is None or when <= until)


def _mentions_error(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ERROR_WORDS)


def looks_like_error(event: Event) -> bool:
    """An error record worth reporting although no rule knows it."""
    if event.path is not None and event.http_status is not None:  # an access-log line
        return event.http_status >= 500 or (
            event.http_status >= 400 and event.http_status not in IGNORED_CLIENT_ERRORS
        )
    if event.level is not None:
        return event.level in _ERROR_LEVELS
    return _mentions_error(event.text)


def _os_message(error: OSError) -> str:
    return error.strerror or str(error) if error.errno else str(error)


def analyze(
    inputs: Sequence[str],
    catalog: Catalog,
    options: AnalyzeOptions | None = None,
    progress: Progress | None = None,
) -> Report:
    """Analyse log files, folders, globs or `-` (stdin) and return the Report."""
    options = options or AnalyzeOptions()
    sources, input_errors = expand_inputs(inputs)
    pipeline = _Pipeline(catalog, options)
    summaries = [InputSummary(e.name, 0, 0, "unknown", error=e.message) for e in input_errors]
    summaries.extend(pipeline.run(source, progress) for source in sources)
    findings = [
        f
        for f in pipeline.diagnoser.findings()
        if Severity(f.severity).rank >= options.min_severity.rank
    ]
    unrecognised = pipeline.diagnoser.unrecognised()
    names = {info.gateway: info.name for info in catalog.gateways}
    lines = sum(s.lines for s in summaries)
    return Report(
        summary=summarise(findings, unrecognised, lines, names),
        gateways=names,
        inputs=tuple(summaries),
        findings=tuple(findings),
        unrecognised=tuple(unrecognised),
        tool_version=__version__,
        engine=pipeline.scanner.name,
        filters=_filters(options),
    )


def _filters(options: AnalyzeOptions) -> dict[str, str]:
    active = {
        "gateway": options.gateway,
        "since": options.since.isoformat() if options.since else None,
        "until": options.until.isoformat() if options.until else None,
        "min_severity": options.min_severity.value
        if options.min_severity != Severity.INFO
        else None,
    }
    return {key: value for key, value in active.items() if value}


__all__ = ["AnalyzeOptions", "analyze", "looks_like_error"]
