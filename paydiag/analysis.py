"""The pipeline: read → scan → parse → match → diagnose → report, one streaming pass.

`analyze()` is the library API the CLI calls; it never prints and never exits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime

from paydiag import __version__
from paydiag.catalog.model import Catalog, Rule, Severity
from paydiag.diagnose.findings import Diagnoser
from paydiag.diagnose.incidents import (
    Detector,
    IncidentSettings,
    Observation,
    make_detectors,
)
from paydiag.diagnose.summary import summarise
from paydiag.ingest.chunks import ReadState, read_chunks
from paydiag.ingest.formats import ERROR_STATUS_GATES, SINGLE_LINE_FORMATS, detect_format
from paydiag.ingest.records import Span, decode, record_spans
from paydiag.ingest.sources import Source, expand_inputs, open_source
from paydiag.match.engine import Matcher
from paydiag.match.prefilter import ERROR_WORDS
from paydiag.match.scanners import Scanner, make_scanner
from paydiag.parse.activity import ActivityScanner, light_parse
from paydiag.parse.event import Event, parse_record
from paydiag.parse.ids import IdPattern
from paydiag.redact import DEFAULT_REDACTOR, Redactor
from paydiag.report.model import InputProblem, InputSummary, Report

# 4xx statuses that say nothing about payments (crawlers, typos).
IGNORED_CLIENT_ERRORS = frozenset({404, 405, 410, 414})
_ERROR_LEVELS = frozenset({"warn", "error", "fatal"})
# An error is a final "declined" for the order when the issuer or risk said no.
_DECLINE_CATEGORIES = (
    "decline_insufficient_funds",
    "decline_expired_card",
    "decline_generic",
    "decline_limit_exceeded",
    "fraud_risk",
)
_FAILED_STAGE = dict.fromkeys(_DECLINE_CATEGORIES, "declined")

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
    # Thresholds of the incident detectors; None turns incident detection off.
    incidents: IncidentSettings | None = field(default_factory=lambda: IncidentSettings())


class _Pipeline:
    def __init__(self, catalog: Catalog, options: AnalyzeOptions) -> None:
        self.options = options
        rules = [r for r in catalog.rules if options.gateway in (None, r.gateway)]
        self.matcher = Matcher(rules)
        self.scanner: Scanner = make_scanner(rules, options.engine)
        self.diagnoser = Diagnoser(options.redactor.redact)
        self.detectors: list[Detector] = (
            make_detectors(options.incidents) if options.incidents is not None else []
        )
        self.activity = ActivityScanner()
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
        errors = list(self._error_events(name, data, first_line, file_format))
        for _span, event, rule in errors:
            if rule is not None:
                self.diagnoser.add_hit(event, rule)
            else:
                self.diagnoser.add_unrecognised(event)
        if self.detectors:
            self._observe(name, data, first_line, errors)

    def _error_events(
        self, name: str, data: bytes, first_line: int, file_format: str
    ) -> Iterator[tuple[Span, Event, Rule | None]]:
        """Every error record in the chunk, parsed, with the rule that recognises it."""
        hits = self.scanner.hits(data)
        status_gate = ERROR_STATUS_GATES.get(file_format)
        if status_gate is not None:
            hits.extend(m.start() for m in status_gate.finditer(data))
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
            if self._in_window(event.timestamp) and (rule is not None or looks_like_error(event)):
                yield span, event, rule

    def _observe(
        self,
        name: str,
        data: bytes,
        first_line: int,
        errors: list[tuple[Span, Event, Rule | None]],
    ) -> None:
        """Feed the incident detectors every error and gateway activity, in log order."""
        observations = [
            (span.start, observation)
            for span, event, rule in errors
            if (observation := error_observation(event, rule)) is not None
        ]
        observations.extend(self._activity(name, data, first_line, [s for s, _, _ in errors]))
        observations.sort(key=lambda item: item[0])
        for _offset, observation in observations:
            for detector in self.detectors:
                detector.observe(observation)

    def _activity(
        self, name: str, data: bytes, first_line: int, error_spans: list[Span]
    ) -> Iterator[tuple[int, Observation]]:
        """Light observations of gateway lines outside error records (mostly successes)."""
        spans = iter(error_spans)
        current = next(spans, None)
        counted_to, line = 0, first_line
        last_time = self._last_time
        for start, activity in self.activity.scan(data):
            while current is not None and current.end < start:
                current = next(spans, None)
            if current is not None and current.start <= start <= current.end:
                continue  # part of an error record, observed as an error
            gateway = activity.gateway
            if self.options.gateway not in (None, gateway):
                continue
            end = data.find(b"\n", start)
            text = decode(data[start : end if end != -1 else len(data)])
            light = light_parse(text, with_ids=activity.stage is not None)
            last_time = light.time or last_time
            if last_time is None or not self._in_window(last_time):
                continue
            line += data.count(b"\n", counted_to, start)
            counted_to = start
            yield (
                start,
                Observation(
                    time=last_time,
                    gateway=gateway,
                    failed=False,
                    source=name,
                    line=line,
                    stage=activity.stage,
                    duration_ms=light.duration_ms,
                    environment=light.environment,
                    transaction_ids=light.transaction_ids,
                    request_ids=light.request_ids,
                ),
            )

    def _in_window(self, when: datetime | None) -> bool:
        if when is None:
            return True
        since, until = self.options.since, self.options.until
        return (since is None or when >= since) and (until is None or when <= until)


def error_observation(event: Event, rule: Rule | None) -> Observation | None:
    """An error event as the incident detectors see it (they need its time)."""
    if event.timestamp is None:
        return None
    return Observation(
        time=event.timestamp,
        gateway=rule.gateway if rule else event.gateway_hint,
        failed=True,
        source=event.source,
        line=event.line,
        rule_id=rule.id if rule else None,
        category=rule.category if rule else None,
        code=rule.code if rule else None,
        http_status=event.http_status,
        duration_ms=event.duration_ms,
        environment=event.environment,
        stage=_FAILED_STAGE.get(rule.category if rule else "", "failed"),
        transaction_ids=event.transaction_ids,
        request_ids=event.request_ids,
        request_time=event.request_time,
    )


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
