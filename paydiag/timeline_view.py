"""`paydiag timeline ID LOG...`: every event of one transaction, order or request across
all the logs given, in time order, and where it went wrong.

`trace_transaction()` is the library API: it scans each input for the ID as bytes (only
records that contain it are parsed), parses and matches them like `analyze`, and sorts them
by time. The diagnosis is the first failing event's rule (its explanation and fixes) and
whether the payment reached a final state. `render_timeline()` prints it as text or JSON;
everything from the logs is redacted.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from paydiag.analysis import looks_like_error
from paydiag.catalog.model import Catalog, Rule
from paydiag.diagnose.incidents.limbo import FINAL_STAGES, id_kind
from paydiag.diagnose.incidents.model import Observation
from paydiag.diagnose.incidents.outage import is_outage_failure
from paydiag.ingest.chunks import ReadState, read_chunks
from paydiag.ingest.formats import SINGLE_LINE_FORMATS, detect_format
from paydiag.ingest.records import decode, record_spans
from paydiag.ingest.sources import InputError, Source, expand_inputs, open_source
from paydiag.match.engine import Matcher
from paydiag.parse.activity import STAGE_WORDS
from paydiag.parse.event import Event, parse_record
from paydiag.redact import DEFAULT_REDACTOR, Redactor

MAX_EVENTS = 2_000  # a too-common "ID" (a gateway name) must not flood the terminal
MIN_ID_LENGTH = 3
_MESSAGE_LIMIT = 300
_DECLINES = frozenset({"fraud_risk"})
# The time a message starts with: the table shows it in its own column.
_LEADING_TIME = re.compile(r"^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?Z?\]?\s*")


@dataclass(frozen=True)
class TimelineEvent:
    time: datetime | None
    source: str
    line: int
    gateway: str | None
    stage: str | None  # lifecycle step, or failed / declined for an error
    http_status: int | None
    rule_id: str | None
    code: str | None
    failed: bool
    unsure: bool  # a timeout or 5xx: the gateway may have processed the payment
    message: str  # the record's first line, redacted
    transaction_ids: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class WentWrong:
    """The first failing event and what its rule says about it."""

    event: TimelineEvent
    title: str
    explanation: str
    fault: str | None
    fixes: tuple[str, ...]
    gateway: str | None  # the rule's gateway, for `paydiag explain`


@dataclass(frozen=True)
class TransactionTimeline:
    id: str
    events: tuple[TimelineEvent, ...]  # in time order, at most MAX_EVENTS
    total_events: int
    files_searched: int
    went_wrong: WentWrong | None
    final: TimelineEvent | None  # the last event in a final state, if any
    charges: tuple[str, ...]  # distinct successful charges, when more than one
    verdict: str
    input_errors: tuple[InputError, ...] = ()


def trace_transaction(
    identifier: str,
    inputs: Sequence[str],
    catalog: Catalog,
    redactor: Redactor = DEFAULT_REDACTOR,
) -> TransactionTimeline:
    """Every record mentioning `identifier` in `inputs`, parsed, matched and diagnosed.

    Raises ValueError for an ID too short to search for. Inputs that cannot be read are
    listed in `input_errors`; the others are still searched.
    """
    needle = checked_id(identifier)
    sources, errors = expand_inputs(inputs)
    matcher = Matcher(catalog.rules)
    found: list[TimelineEvent] = []
    total = 0
    for source in sources:
        try:
            for event in _events(source, needle, matcher, redactor):
                total += 1
                if len(found) < MAX_EVENTS:
                    found.append(event)
        except OSError as error:
            errors.append(InputError(source.name, error.strerror or str(error)))
    order = {source.name: index for index, source in enumerate(sources)}
    found.sort(key=lambda e: (e.time is None, e.time or datetime.min, order[e.source], e.line))
    went_wrong = _went_wrong(found, catalog)
    final = next((e for e in reversed(found) if _is_final(e)), None)
    charges = _charges(found, needle)
    return TransactionTimeline(
        id=needle,
        events=tuple(found),
        total_events=total,
        files_searched=len(sources),
        went_wrong=went_wrong,
        final=final,
        charges=charges,
        verdict=_verdict(found, went_wrong, final, charges),
        input_errors=tuple(errors),
    )


def checked_id(identifier: str) -> str:
    """The ID to search for, or ValueError when it is too short to mean anything."""
    needle = identifier.strip()
    if len(needle) < MIN_ID_LENGTH:
        raise ValueError(f"the ID {identifier!r} is too short to search for")
    return needle


def _events(
    source: Source, needle: str, matcher: Matcher, redactor: Redactor
) -> Iterator[TimelineEvent]:
    stream, _compression = open_source(source)
    pattern = needle.encode()
    state = ReadState()
    multiline = True
    last_time: datetime | None = None
    with closing(stream):
        for index, chunk in enumerate(read_chunks(stream, state)):
            if index == 0:
                multiline = detect_format(chunk.data[:65536]) not in SINGLE_LINE_FORMATS
            hits = list(occurrences(chunk.data, pattern))
            if not hits:
                continue
            for span in record_spans(chunk.data, chunk.first_line, hits, multiline):
                text = decode(chunk.data[span.start : span.end])
                event = parse_record(text, source.name, span.line, default_time=last_time)
                last_time = event.timestamp or last_time
                yield _timeline_event(event, matcher.best(text), redactor)


def occurrences(data: bytes, needle: bytes) -> Iterator[int]:
    """Where `needle` occurs as a whole ID: not glued to letters or digits on either side
    (ORD-1 is not found inside ORD-10)."""
    start = data.find(needle)
    while start != -1:
        end = start + len(needle)
        before = data[start - 1 : start] if start else b""
        after = data[end : end + 1]
        if not (before.isalnum() and needle[:1].isalnum()) and not (
            after.isalnum() and needle[-1:].isalnum()
        ):
            yield start
        start = data.find(needle, start + 1)


def _timeline_event(event: Event, rule: Rule | None, redactor: Redactor) -> TimelineEvent:
    failed = rule is not None or looks_like_error(event)
    lowered = event.text.lower()
    if failed:
        declined = rule is not None and (
            rule.category.startswith("decline_") or rule.category in _DECLINES
        )
        stage: str | None = "declined" if declined else "failed"
    else:
        stage = next((s for s, words in STAGE_WORDS if any(w in lowered for w in words)), None)
    observation = Observation(
        time=event.timestamp or datetime.min,
        gateway=None,
        failed=failed,
        source=event.source,
        line=event.line,
        category=rule.category if rule else None,
        rule_id=rule.id if rule else None,
        http_status=event.http_status,
    )
    first_line = event.text.split("\n", 1)[0]
    if len(first_line) > _MESSAGE_LIMIT:
        first_line = first_line[: _MESSAGE_LIMIT - 1] + "…"
    return TimelineEvent(
        time=event.timestamp,
        source=event.source,
        line=event.line,
        gateway=event.gateway_hint or (rule.gateway if rule else None),
        stage=stage,
        http_status=event.http_status,
        rule_id=rule.id if rule else None,
        code=rule.code if rule else None,
        failed=failed,
        unsure=is_outage_failure(observation),
        message=redactor.redact(first_line),
        transaction_ids=tuple(
            redactor.redact_field("transaction_id", i) for i in event.transaction_ids
        ),
    )


def _is_final(event: TimelineEvent) -> bool:
    return event.stage in FINAL_STAGES and not event.unsure


def _went_wrong(events: list[TimelineEvent], catalog: Catalog) -> WentWrong | None:
    failure = next((e for e in events if e.failed), None)
    if failure is None:
        return None
    rule = catalog.get(failure.rule_id) if failure.rule_id else None
    if rule is None:
        return WentWrong(failure, "an error no rule knows yet", failure.message, None, (), None)
    return WentWrong(failure, rule.title, rule.explanation, rule.fault, rule.fixes, rule.gateway)


def _charges(events: list[TimelineEvent], needle: str) -> tuple[str, ...]:
    """Distinct payments that succeeded, when there is more than one of a kind (pi_A, pi_B)."""
    by_kind: dict[str, dict[str, None]] = {}
    for event in events:
        if event.stage != "captured" or event.failed:
            continue
        # The payment's own ID: the first one besides the order's that has a known shape.
        payment = next(
            (i for i in event.transaction_ids if i != needle and id_kind(i) != "other"), None
        )
        if payment is not None:
            by_kind.setdefault(id_kind(payment), {})[payment] = None
    most: dict[str, None] = max(by_kind.values(), key=len, default={})
    return tuple(most) if len(most) > 1 else ()


def _when(event: TimelineEvent) -> str:
    return f"{event.time:%H:%M:%S} UTC" if event.time else "an unknown time"


def _verdict(
    events: list[TimelineEvent],
    went_wrong: WentWrong | None,
    final: TimelineEvent | None,
    charges: tuple[str, ...],
) -> str:
    if not events:
        return "No record mentions it."
    parts: list[str] = []
    if went_wrong is None:
        parts.append("No error in these logs.")
    else:
        failure = went_wrong.event
        label = failure.code or "error"
        parts.append(
            f"It went wrong at {_when(failure)} ({failure.where}): {label}, {went_wrong.title}."
        )
    if final is not None and went_wrong is not None and final is went_wrong.event:
        parts.append(f"It ended there: {final.stage} is a final state.")
    elif final is not None:
        then = " then" if went_wrong else ""
        parts.append(
            f"It{then} reached a final state: {final.stage} at {_when(final)} ({final.where})."
        )
    else:
        last = events[-1]
        step = last.stage or "an event"
        parts.append(f"It never reached a final state: the last step was {step} at {_when(last)}.")
        if any(e.unsure for e in events):
            parts.append(
                "A timeout or gateway error left its result unknown: look it up at the gateway "
                "before retrying, it may have been charged."
            )
    if charges:
        parts.append(
            f"It was charged {len(charges)} times ({', '.join(charges)}): refund the extra charge."
        )
    return " ".join(parts)


# --- output -----------------------------------------------------------------------------


def render_timeline(timeline: TransactionTimeline, fmt: str, width: int, color: bool) -> str:
    if fmt == "json":
        return json.dumps(timeline_to_dict(timeline), indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
    )
    for block in _text_blocks(timeline):
        console.print(block)
    return buffer.getvalue()


def timeline_to_dict(timeline: TransactionTimeline) -> dict[str, object]:
    def moment(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    def event(e: TimelineEvent) -> dict[str, object]:
        return {
            "time": moment(e.time),
            "source": e.source,
            "line": e.line,
            "gateway": e.gateway,
            "stage": e.stage,
            "http_status": e.http_status,
            "rule_id": e.rule_id,
            "code": e.code,
            "failed": e.failed,
            "result_unknown": e.unsure,
            "transaction_ids": list(e.transaction_ids),
            "message": e.message,
        }

    wrong = timeline.went_wrong
    data: dict[str, object] = {
        "id": timeline.id,
        "total_events": timeline.total_events,
        "files_searched": timeline.files_searched,
        "events": [event(e) for e in timeline.events],
        "went_wrong": None
        if wrong is None
        else {
            "event": event(wrong.event),
            "title": wrong.title,
            "explanation": wrong.explanation,
            "fault": wrong.fault,
            "fixes": list(wrong.fixes),
        },
        "final_state": None
        if timeline.final is None
        else {
            "stage": timeline.final.stage,
            "time": moment(timeline.final.time),
            "where": timeline.final.where,
        },
        "charges": list(timeline.charges),
        "verdict": timeline.verdict,
        "input_errors": [{"path": e.name, "error": e.message} for e in timeline.input_errors],
    }
    return data


def _text_blocks(timeline: TransactionTimeline) -> list[RenderableType]:
    files = len({e.source for e in timeline.events})
    shown = len(timeline.events)
    more = f" (the first {shown:,} shown)" if timeline.total_events > shown else ""
    days = {e.time.date() for e in timeline.events if e.time}
    clock = "%H:%M:%S" if len(days) == 1 else "%Y-%m-%d %H:%M:%S"
    on = f" on {next(iter(days))}" if len(days) == 1 else ""
    table = Table(
        title=f"Timeline of {timeline.id}: {timeline.total_events:,} events in "
        f"{files} file{'s' if files != 1 else ''}{on}{more}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("time (UTC)", no_wrap=True)
    for column, widest in (("where", 22), ("gateway", 10), ("stage/status", 14), ("rule/code", 22)):
        table.add_column(column, overflow="fold", max_width=widest)
    table.add_column("message", overflow="fold", ratio=1, min_width=24)
    for e in timeline.events:
        status = " · ".join(str(p) for p in (e.stage, e.http_status) if p) or "—"
        table.add_row(
            e.time.strftime(clock) if e.time else "—",
            f"{PurePath(e.source).name}:{e.line}",
            e.gateway or "—",
            status,
            e.rule_id or "—",
            Text(_LEADING_TIME.sub("", e.message, count=1)),
            style="red" if e.failed else None,
        )
    return [table, _diagnosis(timeline)]


def _diagnosis(timeline: TransactionTimeline) -> Panel:
    body: list[RenderableType] = [Text(timeline.verdict)]
    wrong = timeline.went_wrong
    if wrong is not None and wrong.event.rule_id:
        body.append(Text("\n" + wrong.explanation))
        if wrong.fault:
            body.append(Text("\nWho must act: ", style="bold") + Text(wrong.fault))
        body.append(Text("\nFixes, in order:", style="bold"))
        body.extend(Text(f"  {n}. {fix}") for n, fix in enumerate(wrong.fixes, 1))
        body.append(
            Text(
                f"\nFor the full guide: paydiag explain {wrong.event.code} --gateway "
                f"{wrong.gateway}",
                style="dim",
            )
        )
    return Panel(Group(*body), title="Where it went wrong", title_align="left")
