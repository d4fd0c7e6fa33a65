"""The pipeline: read → scan → parse → match → diagnose → report, one streaming pass.

`analyze()` is the library API the CLI calls; it never prints and never exits.
"""

from __future__ import annotations

import gc
import math
import pickle
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, cast

from paydiag import __version__
from paydiag.catalog.model import Catalog, Rule, Severity
from paydiag.diagnose.findings import Diagnoser
from paydiag.diagnose.incidents import (
    Conclusion,
    Detector,
    IncidentSettings,
    Observation,
    conclude,
    incident_records,
    make_detectors,
)
from paydiag.diagnose.incidents.model import (
    ActivityBatch,
    ChunkObservations,
    RowsWanted,
    rows_wanted,
)
from paydiag.diagnose.incidents.series import micros, minute_and_micros, minute_key
from paydiag.diagnose.summary import summarise
from paydiag.ingest.chunks import ByteStream, ReadState, read_chunks, reported_after
from paydiag.ingest.formats import ERROR_STATUS_GATES, SINGLE_LINE_FORMATS, detect_format
from paydiag.ingest.records import Span, decode, record_spans
from paydiag.ingest.sources import expand_inputs, open_source
from paydiag.ingest.split import RangeReader, WorkUnit, plan_units, worth_parallel
from paydiag.match.engine import Matcher
from paydiag.match.prefilter import ERROR_WORDS
from paydiag.match.scanners import Scanner, engine_name, make_scanner
from paydiag.parse.activity import ActivityScanner
from paydiag.parse.event import Event, parse_record
from paydiag.parse.ids import IdPattern
from paydiag.parse.timestamps import iso_minute, line_time
from paydiag.redact import DEFAULT_REDACTOR, Redactor
from paydiag.report.model import InputProblem, InputSummary, MinuteBucket, Report

if TYPE_CHECKING:
    from paydiag._speedups import ActivityScanner as NativeActivityScanner

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


@dataclass
class _Partial:
    """What one work unit found but its detectors; partials merge in input order into the
    whole result."""

    inputs: list[InputSummary]
    diagnoser: Diagnoser
    # A later byte range of the previous unit's file, its lines numbered from the range's
    # start: counting the lines before it would read the file up to there first.
    continues_input: bool = False

    def lines_before(self, later: WorkUnit) -> int:
        """How far on the line numbers of `later`'s partial are to be counted, when it
        follows this."""
        return self.inputs[-1].lines if later.start > 0 and self.inputs else 0

    def shift_lines(self, lines: int) -> None:
        """Count the line numbers of the first input (a range) `lines` further on."""
        if lines:
            first = self.inputs[0]
            problems = tuple(replace(p, line=p.line + lines) for p in first.problems)
            self.inputs[0] = replace(first, problems=problems)
            self.diagnoser.shift_lines(lines)

    def merge(self, later: _Partial) -> None:
        """Fold in the partial of the input that follows, its lines already shifted."""
        for index, summary in enumerate(later.inputs):
            if index == 0 and later.continues_input and self.inputs:
                self.inputs[-1] = _join(self.inputs[-1], summary)
            else:
                self.inputs.append(summary)
        self.diagnoser.merge(later.diagnoser)


@dataclass(frozen=True)
class _Result:
    partial: _Partial
    conclusions: list[Conclusion]  # one per detector
    engine: str


def _fresh_state(options: AnalyzeOptions) -> tuple[Diagnoser, list[Detector]]:
    settings = options.incidents
    detectors = make_detectors(settings) if settings is not None else []
    return Diagnoser(options.redactor), detectors


class _Pipeline:
    def __init__(self, catalog: Catalog, options: AnalyzeOptions) -> None:
        self.options = options
        rules = [r for r in catalog.rules if options.gateway in (None, r.gateway)]
        self.matcher = Matcher(rules)
        self.scanner: Scanner = make_scanner(rules, options.engine)
        self.activity = ActivityScanner()
        self.diagnoser, self.detectors = _fresh_state(options)
        # Records without a time of their own (a traceback's last line) take the last seen.
        self._last_time: datetime | None = None

    def run_unit(self, unit: WorkUnit) -> tuple[_Partial, list[Detector]]:
        """Analyse one unit into fresh state, handed over whole, so units can run anywhere
        and merge later."""
        self.diagnoser, self.detectors = _fresh_state(self.options)
        summary = self.run(unit, None)
        partial = _Partial([summary], self.diagnoser, unit.start > 0)
        detectors = self.detectors
        self.diagnoser, self.detectors = _fresh_state(self.options)  # the unit's are handed on
        return partial, detectors

    def run(self, unit: WorkUnit, progress: Progress | None) -> InputSummary:
        source = unit.source
        self._last_time = None
        try:
            stream, compression, file_format = _open_unit(unit)
        except OSError as error:
            return InputSummary(source.name, 0, 0, "unknown", error=_os_message(error))
        state = ReadState()
        with closing(stream):
            for chunk in read_chunks(stream, state):
                file_format = file_format or detect_format(chunk.data[:65536])
                self._chunk(source.name, chunk.data, chunk.first_line, file_format)
                if progress:
                    progress(len(chunk.data))
        problems = tuple(InputProblem(p.line, p.message) for p in state.problems)
        return InputSummary(
            source.name,
            state.lines,
            state.bytes_read,
            file_format or "text",
            compression,
            problems,
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
        found = self.scanner.scan(data)
        hits = found.hits
        status_gate = ERROR_STATUS_GATES.get(file_format)
        if status_gate is not None:
            hits.extend(m.start() for m in status_gate.finditer(data))
        multiline = file_format not in SINGLE_LINE_FORMATS
        rules_in = _rules_in_spans(found.rule_matches)
        for span in record_spans(data, first_line, hits, multiline):
            text = decode(data[span.start : span.end])
            rule = self.matcher.best(text, rules_in(span))
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
            if in_window(self.options, event.timestamp) and (
                rule is not None or looks_like_error(event)
            ):
                yield span, event, rule

    def _observe(
        self,
        name: str,
        data: bytes,
        first_line: int,
        errors: list[tuple[Span, Event, Rule | None]],
    ) -> None:
        """Feed the incident detectors the chunk's errors and gateway activity."""
        failures = [
            (span.start, observation)
            for span, event, rule in errors
            if (observation := error_observation(event, rule)) is not None
        ]
        spans = [span for span, _event, _rule in errors]
        activity = activity_batch(
            self.activity,
            self.options,
            name,
            data,
            first_line,
            spans,
            self._last_time,
            rows_wanted(self.detectors),
        )
        chunk = ChunkObservations(failures, activity)
        for detector in self.detectors:
            detector.observe_chunk(chunk)


def _rules_in_spans(
    rule_matches: list[tuple[int, str]] | None,
) -> Callable[[Span], set[str] | None]:
    """For spans asked in order: the rules `rule_matches` (offset, rule ID; in offset
    order) holds in each, or None for every span when the scanner did not say."""
    if rule_matches is None:
        return lambda _span: None
    position = 0

    def rules_in(span: Span) -> set[str]:
        nonlocal position
        while position < len(rule_matches) and rule_matches[position][0] < span.start:
            position += 1
        rules: set[str] = set()
        while position < len(rule_matches) and rule_matches[position][0] <= span.end:
            rules.add(rule_matches[position][1])
            position += 1
        return rules

    return rules_in


def in_window(options: AnalyzeOptions, when: datetime | None) -> bool:
    if when is None:
        return True
    since, until = options.since, options.until
    return (since is None or when >= since) and (until is None or when <= until)


def activity_batch(
    activity: ActivityScanner,
    options: AnalyzeOptions,
    name: str,
    data: bytes,
    first_line: int,
    error_spans: list[Span],
    last_time: datetime | None,
    wanted: RowsWanted | None = None,
) -> ActivityBatch:
    """The chunk's gateway lines outside error records (mostly successes), as one batch:
    lines of the gateway asked for, in the time window, timed (a line without a time of
    its own takes the last one seen, starting from `last_time`); a row for each line
    `wanted` asks for (None: every line)."""
    if activity.native is not None:
        return _native_batch(
            activity.native, options, name, data, first_line, error_spans, last_time, wanted
        )
    batch = ActivityBatch(name, wanted=wanted)
    spans = iter(error_spans)
    current = next(spans, None)
    counted_to, line = 0, first_line
    windowed = options.since is not None or options.until is not None
    for start, gateway, stage, environment, duration_ms, transactions, requests in activity.scan(
        data
    ):
        while current is not None and current.end < start:
            current = next(spans, None)
        if current is not None and current.start <= start <= current.end:
            continue  # part of an error record, observed as an error
        if options.gateway is not None and gateway != options.gateway:
            continue
        last_time = line_time(data, start) or last_time
        if last_time is None or (windowed and not in_window(options, last_time)):
            continue
        line += data.count(b"\n", counted_to, start)
        counted_to = start
        batch.add(
            start,
            line,
            minute_key(last_time),
            micros(last_time),
            gateway,
            stage,
            duration_ms,
            environment,
            transactions,
            requests,
        )
    return batch


def _native_batch(
    native: NativeActivityScanner,
    options: AnalyzeOptions,
    name: str,
    data: bytes,
    first_line: int,
    error_spans: list[Span],
    last_time: datetime | None,
    wanted: RowsWanted | None,
) -> ActivityBatch:
    """activity_batch() in one call to C, which reads ISO times itself: Python is asked
    only for a minute not seen just before, or a time in another format."""
    columns, groups = native.batch(
        data,
        first_line,
        [(span.start, span.end) for span in error_spans],
        options.gateway,
        minute_and_micros(options.since),
        minute_and_micros(options.until),
        minute_and_micros(last_time),
        iso_minute_key,
        lambda start: minute_and_micros(line_time(data, start)),
        _native_rows(wanted),
    )
    return ActivityBatch.from_columns(name, columns, groups, wanted)


def _native_rows(wanted: RowsWanted | None) -> tuple[int, float, bool] | None:
    """`wanted` as the C batch takes it: (order mask or -1, slow_ms or infinity,
    environments), None for every row."""
    if wanted is None:
        return None
    mask = -1 if wanted.order_mask is None else wanted.order_mask
    slow_ms = math.inf if wanted.slow_ms is None else wanted.slow_ms
    return mask, slow_ms, wanted.environments


def iso_minute_key(date: str, hour_minute: str, zone: str | None) -> int | None:
    """The minute_key of an ISO 8601 minute in its zone (None when it is no real time)."""
    start = iso_minute(date, hour_minute, zone)
    return None if start is None else minute_key(datetime(*start, tzinfo=UTC))


def error_observation(event: Event, rule: Rule | None) -> Observation | None:
    """An error event as the incident detectors see it (they need its time)."""
    if event.timestamp is None:
        return None
    category = rule.category if rule else None
    # Positional, in the order of Observation's fields, as parse_record() makes an Event.
    return Observation(
        event.timestamp,
        _gateway_of(event, rule),
        True,
        event.source,
        event.line,
        rule.id if rule else None,
        category,
        rule.code if rule else None,
        event.http_status,
        event.duration_ms,
        event.environment,
        _FAILED_STAGE.get(category or "", "failed"),
        event.transaction_ids,
        event.request_ids,
        event.request_time,
    )


def _gateway_of(event: Event, rule: Rule | None) -> str | None:
    """The payment gateway an error concerns: a generic rule (HTTP 503, a TLS failure,
    priority below 0 by the catalog's convention) names a family, not the gateway, so the
    line's own gateway markers say which one it was."""
    if rule is None or rule.priority < 0:
        return event.gateway_hint or (rule.gateway if rule else None)
    return rule.gateway


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


def _open_unit(unit: WorkUnit) -> tuple[ByteStream, str | None, str | None]:
    """The unit's stream, compression and format (known up front for a range)."""
    if not unit.is_range:
        stream, compression = open_source(unit.source)
        return stream, compression, None
    path = Path(unit.source.name)
    with path.open("rb") as handle:
        file_format = detect_format(handle.read(65536))  # the file's head, as a whole read
    return RangeReader(path, unit.start, unit.end), None, file_format


def _join(first: InputSummary, later: InputSummary) -> InputSummary:
    """One input's summary from the summaries of two consecutive ranges of it."""
    seen = [p.message for p in first.problems]
    problems = first.problems + tuple(p for p in later.problems if reported_after(p.message, seen))
    return replace(
        first, lines=first.lines + later.lines, bytes=first.bytes + later.bytes, problems=problems
    )


# One pipeline per worker process, built once by the pool's initializer.
_worker_pipeline: _Pipeline | None = None


def _start_worker(catalog: Catalog, options: AnalyzeOptions) -> None:
    global _worker_pipeline
    _worker_pipeline = _Pipeline(catalog, options)
    _collect_less()  # for the worker's lifetime: it only runs units


# The youngest generation's threshold during a pass (Python's default is 700).
_PASS_GC_THRESHOLD = 100_000


def _collect_less() -> tuple[int, int, int]:
    """Tune the cyclic collector for a pass over a log, and say how it was.

    A pass makes millions of short-lived objects (rows, tuples, events), none in cycles:
    with the default threshold a collection ran every 700 of them, and each older one
    walked the catalog and every module again. About 3 % of a run's instructions went to
    collections that freed nothing. What exists now is frozen out of the scans.

    At 10,000, each worker still ran about ten collections on 105 MB (29 ms), each walking
    the chunk's young lists of rows, and none collected anything; at 100,000 none runs,
    and the run is 5 % faster. Anything that does form a cycle is still collected, after
    100,000 more objects at most.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(_PASS_GC_THRESHOLD, *threshold[1:])
    return threshold


@contextmanager
def _collecting_less() -> Iterator[None]:
    threshold = _collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _run_in_worker(unit: WorkUnit, spool: str) -> tuple[str, list[str], int]:
    """Analyse `unit` into files under `spool`: the partial result's, and one per detector;
    and say how many bytes were read.

    Files, not results sent back, so that nothing is in memory twice over (the pipe's copy
    and the objects), and so that each detector can be merged and concluded on its own.
    """
    assert _worker_pipeline is not None
    partial, detectors = _worker_pipeline.run_unit(unit)
    paths = [_spool(spool, ".partial", partial)]
    paths += [_spool(spool, ".detector", detector) for detector in detectors]
    return paths[0], paths[1:], sum(summary.bytes for summary in partial.inputs)


def _spool(spool: str, suffix: str, value: object) -> str:
    with tempfile.NamedTemporaryFile(dir=spool, suffix=suffix, delete=False) as handle:
        pickle.dump(value, handle)
    return handle.name


def _unspool(path: str) -> object:
    with Path(path).open("rb") as handle:
        value = pickle.load(handle)
    Path(path).unlink()
    return value


def _conclude_spooled(paths: Sequence[str], lines_before: Sequence[int]) -> Conclusion:
    """One detector's conclusion from its parts, which workers left at `paths` in input
    order (each unit's line numbers counted `lines_before` on): each later part merged
    into the first, then dropped."""
    detector: Detector | None = None
    for path, lines in zip(paths, lines_before, strict=True):
        part = cast(Detector, _unspool(path))
        part.shift_lines(lines)
        if detector is None:
            detector = part
        else:
            detector.merge(part)
    assert detector is not None
    return conclude(detector)


def _run_units(
    units: list[WorkUnit],
    catalog: Catalog,
    options: AnalyzeOptions,
    jobs: int,
    progress: Progress | None,
) -> _Result:
    """Every unit's partial result merged in input order, and the detectors concluded."""
    if jobs <= 1 or len(units) <= 1:
        pipeline = _Pipeline(catalog, options)
        inputs = [pipeline.run(unit, progress) for unit in units]
        conclusions = [conclude(detector) for detector in pipeline.detectors]
        return _Result(_Partial(inputs, pipeline.diagnoser), conclusions, pipeline.scanner.name)
    result: _Partial | None = None
    detector_files: list[list[str]] = []  # per unit, one per detector
    shifts: list[int] = []  # per unit, how far on its line numbers are counted
    concluding: list[Future[Conclusion]] = []  # per detector
    with (
        tempfile.TemporaryDirectory(prefix="paydiag-") as spool,
        ProcessPoolExecutor(
            max_workers=min(jobs, len(units)),
            initializer=_start_worker,
            initargs=(catalog, options),
        ) as pool,
    ):
        # Merged as each arrives (in input order), so the parent never holds them all.
        results = pool.map(_run_in_worker, units, repeat(spool))
        for index, (path, detector_paths, size) in enumerate(results):
            shifts.append(result.lines_before(units[index]) if result else 0)
            detector_files.append(detector_paths)
            if index == len(units) - 1:  # the workers conclude while the parent merges it
                concluding = _start_concluding(pool, detector_files, shifts)
            partial = cast(_Partial, _unspool(path))
            partial.shift_lines(shifts[-1])
            result = _merge(result, partial)
            if progress:
                progress(size)
        conclusions = [future.result() for future in concluding]
    assert result is not None
    return _Result(result, conclusions, engine_name(options.engine))


def _start_concluding(
    pool: ProcessPoolExecutor, detector_files: Sequence[Sequence[str]], shifts: list[int]
) -> list[Future[Conclusion]]:
    """Each detector merged from its parts (`detector_files` holds one per detector for each
    unit) and concluded in a worker, in parallel: in the parent they would run one after
    another (latency creep's medians alone took a third of a second on 200 MB). The largest
    state starts first, so the costliest does not start last."""
    parts = list(zip(*detector_files, strict=True))
    sizes = [sum(Path(path).stat().st_size for path in paths) for paths in parts]
    largest_first = sorted(range(len(parts)), key=lambda i: -sizes[i])
    futures = {i: pool.submit(_conclude_spooled, parts[i], shifts) for i in largest_first}
    return [futures[i] for i in range(len(parts))]


def _merge(result: _Partial | None, later: _Partial) -> _Partial:
    if result is None:
        return later
    result.merge(later)
    return result


def analyze(
    inputs: Sequence[str],
    catalog: Catalog,
    options: AnalyzeOptions | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Report:
    """Analyse log files, folders, globs or `-` (stdin) and return the Report.

    `jobs` > 1 spreads the inputs (and large plain files, by byte range) over that many
    processes; the result is the same as a single-process run.
    """
    with _collecting_less():
        return _analyze(inputs, catalog, options or AnalyzeOptions(), progress, jobs)


def _analyze(
    inputs: Sequence[str],
    catalog: Catalog,
    options: AnalyzeOptions,
    progress: Progress | None,
    jobs: int,
) -> Report:
    sources, input_errors = expand_inputs(inputs)
    jobs = jobs if worth_parallel(sources) else 1
    result = _run_units(plan_units(sources, jobs), catalog, options, jobs, progress)
    summaries = [InputSummary(e.name, 0, 0, "unknown", error=e.message) for e in input_errors]
    summaries.extend(result.partial.inputs)
    diagnoser = result.partial.diagnoser
    findings = [
        f for f in diagnoser.findings() if Severity(f.severity).rank >= options.min_severity.rank
    ]
    unrecognised = diagnoser.unrecognised()
    names = {info.gateway: info.name for info in catalog.gateways}
    lines = sum(s.lines for s in summaries)
    return Report(
        summary=summarise(findings, unrecognised, lines, names),
        gateways=names,
        inputs=tuple(summaries),
        findings=tuple(findings),
        unrecognised=tuple(unrecognised),
        incidents=incident_records(
            (incident for conclusion in result.conclusions for incident in conclusion.incidents),
            options.redactor,
        ),
        error_timeline=_error_timeline(result.conclusions),
        tool_version=__version__,
        engine=result.engine,
        filters=_filters(options),
    )


def _error_timeline(conclusions: Sequence[Conclusion]) -> tuple[MinuteBucket, ...]:
    counts = next((c.timeline for c in conclusions if c.timeline is not None), None)
    return () if counts is None else tuple(counts.buckets())


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
