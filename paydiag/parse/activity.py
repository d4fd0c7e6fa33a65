"""Gateway activity: the calls and payment steps that succeed, seen cheaply.

Incident detectors need the share of failing calls and whether orders reach a final
state, so they must see successes too. Those lines are many; they get a light parse
(time, gateway, stage, IDs, duration) instead of the full one errors get.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import ahocorasick

from paydiag.parse.event import GATEWAY_MARKERS, environment_of
from paydiag.parse.fields import normalise_key
from paydiag.parse.ids import extract_ids
from paydiag.parse.timestamps import find_timestamp, parse_timestamp

# Lifecycle words, most final first: a line saying "authorized ... captured" is a capture.
STAGE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("refunded", ("refunded", "refund.succeeded", "charge.refunded")),
    ("captured", ("captured", "succeeded", "completed", "settled", "capture.completed")),
    ("declined", ("declined", "refused")),
    ("cancelled", ("cancelled", "canceled", "voided")),
    ("failed", ("payment_failed", "payment failed", ".failed")),
    ("authorized", ("authorized", "authorised", "requires_capture")),
    ("created", ("created", "initiated", "requires_payment_method", "requires_confirmation")),
)
_STAGE_ORDER = {stage: rank for rank, (stage, _words) in enumerate(STAGE_WORDS)}
_EPOCH_FIELD = re.compile(r'"(?:ts|time|timestamp)"\s*:\s*(\d{10,13}(?:\.\d+)?)')
_DURATION = re.compile(
    r"(?i)\b(duration_ms|latency_ms|elapsed_ms|took_ms|response_time_ms|durationms|"
    r"request_time|upstream_response_time|urt|rt|duration|latency|elapsed)"
    r"[\"']?\s*[:=]\s*[\"']?(\d+(?:\.\d+)?)(ms|s)?"
)
_IDS_HINT = re.compile(r"(?i)id|ref|order|req_|pi_|ch_|[SPB]\d{2}-")


@dataclass(frozen=True, slots=True)
class Activity:
    gateways: frozenset[str]
    stages: frozenset[str]

    @property
    def stage(self) -> str | None:
        return min(self.stages, key=_STAGE_ORDER.__getitem__) if self.stages else None

    @property
    def gateway(self) -> str | None:
        return min(self.gateways) if self.gateways else None


@dataclass(frozen=True, slots=True)
class LightEvent:
    time: datetime | None
    transaction_ids: tuple[str, ...]
    request_ids: tuple[str, ...]
    duration_ms: float | None
    environment: str | None


class ActivityScanner:
    """One Aho-Corasick pass for gateway markers and lifecycle words over a chunk."""

    def __init__(self) -> None:
        self._automaton = ahocorasick.Automaton()
        for gateway, markers in GATEWAY_MARKERS:
            for marker in markers:
                self._automaton.add_word(marker, ("gateway", gateway))
        for stage, words in STAGE_WORDS:
            for word in words:
                self._automaton.add_word(word, ("stage", stage))
        self._automaton.make_automaton()

    def scan(self, chunk: bytes) -> Iterator[tuple[int, Activity]]:
        """(line start, what the line mentions) for every line with a marker, in order."""
        text = chunk.lower().decode("latin-1")
        current, gateways, stages = -1, set[str](), set[str]()
        for end, (kind, value) in self._automaton.iter(text):
            start = text.rfind("\n", 0, end) + 1
            if start != current:
                if current >= 0:
                    yield current, Activity(frozenset(gateways), frozenset(stages))
                current, gateways, stages = start, set(), set()
            (gateways if kind == "gateway" else stages).add(value)
        if current >= 0:
            yield current, Activity(frozenset(gateways), frozenset(stages))


def light_parse(text: str, with_ids: bool) -> LightEvent:
    """Time, IDs (only when asked: lifecycle lines), duration and environment of a line."""
    time = find_timestamp(text)
    if time is None and (match := _EPOCH_FIELD.search(text, 0, 200)):
        time = parse_timestamp(float(match.group(1)))
    transactions: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()
    if with_ids and _IDS_HINT.search(text):
        ids = extract_ids(text, _key_values(text))
        transactions, requests = ids.transactions, ids.requests
    return LightEvent(time, transactions, requests, _duration(text), environment_of(text.lower()))


_KEY_VALUE = re.compile(r"""["']?([A-Za-z_][\w.-]{1,40})["']?\s*[:=]\s*["']?([\w.:/-]{3,100})""")


def _key_values(text: str) -> dict[str, list[object]]:
    fields: dict[str, list[object]] = {}
    for key, value in _KEY_VALUE.findall(text):
        fields.setdefault(normalise_key(key), []).append(value)
    return fields


def _duration(text: str) -> float | None:
    match = _DURATION.search(text)
    if match is None:
        return None
    name, number, unit = match.group(1).lower(), float(match.group(2)), match.group(3)
    in_seconds = unit == "s" or (unit is None and not name.endswith("ms") and "." in match.group(2))
    return number * 1000 if in_seconds else number
