"""Gateway activity: the calls and payment steps that succeed, seen cheaply.

Incident detectors need the share of failing calls and whether orders reach a final
state, so they must see successes too. Those lines are many, so everything is taken from
one Aho-Corasick pass over the chunk: gateway markers, lifecycle words, ID keys and
shapes, duration keys and environment markers each name a spot where a short anchored
regex reads the value. No line is parsed as a whole.

`paydiag._speedups` (built from `_speedups.c` where a C compiler is at hand) does the
same scan in C; this module is its reference and its fallback, and hands it every word
and character class so that the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import ahocorasick

from paydiag import speedups
from paydiag.parse.event import (
    BUCKET_FLOOR_MS,
    BUCKET_STEP,
    GATEWAY_MARKERS,
    MAX_DURATION_MS,
    plausible_ms,
)
from paydiag.parse.ids import REQUEST_KEYS, TRANSACTION_KEYS

if TYPE_CHECKING:
    from paydiag import _speedups

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
_ENVIRONMENT_MARKERS = (
    (
        "sandbox",
        (
            "sk_test_",
            "pk_test_",
            "rk_test_",
            "sandbox",
            "checkout-test.adyen",
            '"livemode":false',
            '"livemode": false',
        ),
    ),
    (
        "production",
        (
            "sk_live_",
            "pk_live_",
            "rk_live_",
            '"livemode":true',
            '"livemode": true',
            "api-m.paypal.com",
            "-live.adyen",
        ),
    ),
)
# Duration keys and the unit their bare numbers are in.
_DURATION_KEYS = (
    ("duration_ms", "ms"),
    ("latency_ms", "ms"),
    ("elapsed_ms", "ms"),
    ("took_ms", "ms"),
    ("response_time_ms", "ms"),
    ("durationms", "ms"),
    ("request_time", "s"),
    ("upstream_response_time", "s"),
    (" rt=", "s"),
    (" urt=", "s"),
)
_AMAZON_PREFIXES = tuple(f"{letter}{n:02d}-" for letter in "spbc" for n in range(1, 10))
_ID_SHAPES = ("pi_", "ch_", "py_", "cs_live_", "cs_test_", "req_", *_AMAZON_PREFIXES)
_KEY_VALUE = re.compile(r"""["']?\s{0,3}[:=]\s{0,3}["']?([A-Za-z0-9][\w.:/-]{2,100})""")
_PROSE_ORDER = re.compile(r"""[ #:]+([A-Za-z0-9][\w-]{3,40})""")
_PROSE_GAP = frozenset(" #:")
_SHAPE_VALUE = re.compile(r"[\w-]{8,80}")
_NUMBER = re.compile(r"""["']?\s{0,3}[:=]?\s{0,3}["']?(\d+(?:\.\d+)?)(ms|s)?""")


# What an automaton hit is: the kinds of word the scanner looks for (_speedups.c agrees).
_GATEWAY, _STAGE, _ENVIRONMENT, _TRANSACTION, _REQUEST, _SHAPE, _DURATION = range(7)

# An activity line: (start offset, gateway, stage, environment, duration_ms,
# transaction_ids, request_ids).
ActivityLine = tuple[
    int, str | None, str | None, str | None, float | None, tuple[str, ...], tuple[str, ...]
]


class LineFacts:
    """What one line says about a payment, as far as the scan saw."""

    __slots__ = ("duration_ms", "environment", "gateways", "requests", "stages", "transactions")

    def __init__(
        self, gateways: set[str], stages: set[str], environment: str | None = None
    ) -> None:
        self.gateways = gateways
        self.stages = stages
        self.environment = environment
        self.transactions: dict[str, int] = {}  # id -> key rank
        self.requests: dict[str, None] = {}
        self.duration_ms: float | None = None

    @property
    def stage(self) -> str | None:
        return min(self.stages, key=_STAGE_ORDER.__getitem__) if self.stages else None

    @property
    def gateway(self) -> str | None:
        return min(self.gateways) if self.gateways else None

    @property
    def transaction_ids(self) -> tuple[str, ...]:
        """The line's transaction IDs, the most order-like first."""
        if len(self.transactions) < 2:
            return tuple(self.transactions)
        return tuple(sorted(self.transactions, key=self.transactions.__getitem__))

    def line(self, start: int) -> ActivityLine:
        return (
            start,
            self.gateway,
            self.stage,
            self.environment,
            self.duration_ms,
            self.transaction_ids,
            tuple(self.requests),
        )


class ActivityScanner:
    """One Aho-Corasick pass that reads activity facts out of a whole chunk."""

    def __init__(self, native: bool | None = None) -> None:
        """`native`: use the C scan (True), the Python one (False), or C where it is built
        and not turned off by PAYDIAG_NO_SPEEDUPS (None)."""
        words = _words()
        automaton = ahocorasick.Automaton()
        for word, kind_and_value in words.items():
            automaton.add_word(word, kind_and_value)
        automaton.make_automaton()
        self._automaton = automaton
        # The C scanner, which also builds incidents' batches (analysis._native_batch).
        self.native = _native_scanner(words) if native is not False else None
        if native and self.native is None:
            raise RuntimeError("paydiag._speedups is not built")

    def scan(self, chunk: bytes) -> list[ActivityLine] | Iterator[ActivityLine]:
        """Every line with a gateway marker or lifecycle word, in chunk order."""
        if self.native is not None:
            return self.native.scan(chunk)
        return (facts.line(start) for start, facts in self.scan_facts(chunk))

    def scan_facts(self, chunk: bytes) -> Iterator[tuple[int, LineFacts]]:
        """(line start, facts) for every line with a gateway marker or lifecycle word: the
        reference scan.

        The hot loop of incident detection. The cheap kinds (gateway, stage, environment)
        are noted inline; values (IDs, durations) are read only once the line turns out to
        be gateway activity, since a third of the lines with hits (a cart call's
        duration_ms) are not.
        """
        lowered = chunk.lower().decode("latin-1")  # one character per byte: offsets agree
        original = chunk.decode("latin-1")
        line_start, line_end = 0, -1
        gateways: set[str] = set()
        stages: set[str] = set()
        environment: str | None = None
        reads: list[tuple[int, Any, int]] = []  # (kind, value, end) of each value hit
        for end, (kind, value) in self._automaton.iter(lowered):
            if end > line_end:
                if gateways or stages:
                    yield (
                        line_start,
                        _facts(gateways, stages, environment, reads, original, lowered, line_end),
                    )
                    gateways, stages = set(), set()
                environment = None
                if reads:
                    reads = []  # the last line's was handed to _facts, or is not wanted
                line_start = lowered.rfind("\n", 0, end) + 1
                line_end = lowered.find("\n", end)
                if line_end == -1:
                    line_end = len(lowered)
            if kind == _GATEWAY:
                gateways.add(value)
            elif kind == _STAGE:
                stages.add(value)
            elif kind == _ENVIRONMENT:
                environment = environment or value
            else:
                reads.append((kind, value, end))
        if gateways or stages:
            yield (
                line_start,
                _facts(gateways, stages, environment, reads, original, lowered, line_end),
            )


def _facts(
    gateways: set[str],
    stages: set[str],
    environment: str | None,
    reads: list[tuple[int, Any, int]],
    text: str,
    lowered: str,
    stop: int,
) -> LineFacts:
    """An activity line's facts, with the values after its key and shape hits read in line
    order (`text` is the chunk as latin-1, `lowered` the same lowercased, `stop` the
    line's end)."""
    facts = LineFacts(gateways, stages, environment)
    for kind, value, end in reads:
        if kind == _DURATION:
            if facts.duration_ms is None:
                _note_duration(facts, text, end, stop, value)
        elif kind == _SHAPE:
            _note_shape(facts, text, end, stop)
        else:
            _note_id(facts, kind, value, text, lowered, end, stop)
    return facts


def _note_id(
    facts: LineFacts, kind: int, rank: int, text: str, lowered: str, end: int, stop: int
) -> None:
    """The value after a transaction or request key (prose `order 123` needs a digit)."""
    prose = lowered.endswith("order", 0, end + 1)
    if prose and lowered[end + 1 : end + 2] not in _PROSE_GAP:
        return  # `order` inside `order_id`: that key's own hit reads the value
    match = (_PROSE_ORDER if prose else _KEY_VALUE).match(text, end + 1, stop)
    if match is None:
        return
    value = match.group(1)
    if prose and not any(c.isdigit() for c in value):
        return
    value = _utf8(value)
    if kind == _REQUEST:
        facts.requests[value] = None
    else:
        facts.transactions.setdefault(value, rank)


def _note_duration(facts: LineFacts, text: str, end: int, stop: int, unit: str) -> None:
    match = _NUMBER.match(text, end + 1, stop)
    if match:
        unit = match.group(2) or unit
        facts.duration_ms = plausible_ms(float(match.group(1)) * (1000 if unit == "s" else 1))


def _note_shape(facts: LineFacts, text: str, end: int, stop: int) -> None:
    """A Stripe object or request ID, or an Amazon Pay reference, where its prefix was seen."""
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
        start -= 1
    match = _SHAPE_VALUE.match(text, start, stop)
    if match is None or not any(c.isdigit() for c in match.group(0)):
        return
    value = _utf8(match.group(0))
    if value.startswith("req_"):
        facts.requests[value] = None
    else:
        facts.transactions.setdefault(value, len(TRANSACTION_KEYS))


def _words() -> dict[str, tuple[int, Any]]:
    """Every word the scan looks for, with its kind and value; a later kind wins a word
    two kinds share (`req_` is a request ID's shape, not only Stripe's marker)."""
    words: dict[str, tuple[int, Any]] = {}
    for gateway, markers in GATEWAY_MARKERS:
        for marker in markers:
            words[marker] = (_GATEWAY, gateway)
    for stage, stage_words in STAGE_WORDS:
        for word in stage_words:
            words[word] = (_STAGE, stage)
    for environment, markers in _ENVIRONMENT_MARKERS:
        for marker in markers:
            words[marker] = (_ENVIRONMENT, environment)
    for rank, key in enumerate(TRANSACTION_KEYS):
        for spelling in _spellings(key):
            words[spelling] = (_TRANSACTION, rank)
    for key in sorted(REQUEST_KEYS):
        for spelling in _spellings(key):
            words[spelling] = (_REQUEST, 0)
    for shape in _ID_SHAPES:
        words[shape] = (_SHAPE, 0)
    for key, unit in _DURATION_KEYS:
        words[key] = (_DURATION, unit)
    return words


def _native_scanner(words: dict[str, tuple[int, Any]]) -> _speedups.ActivityScanner | None:
    """The C scanner over the same words, or None where it is not built or turned off."""
    if not speedups.usable():
        return None
    from paydiag import _speedups

    gateways = tuple(sorted({gateway for gateway, _markers in GATEWAY_MARKERS}))
    stages = tuple(stage for stage, _words in STAGE_WORDS)
    environments = tuple(environment for environment, _markers in _ENVIRONMENT_MARKERS)
    numbered: dict[int, tuple[str, ...]] = {
        _GATEWAY: gateways,
        _STAGE: stages,
        _ENVIRONMENT: environments,
    }
    units = {"ms": 0, "s": 1}
    entries = []
    for word, (kind, value) in words.items():
        if kind in numbered:
            number = numbered[kind].index(value)
        else:
            number = units[value] if kind == _DURATION else value
        entries.append((word.encode("latin-1"), kind, number))
    return _speedups.ActivityScanner(
        entries,
        gateways,
        stages,
        environments,
        _character_flags(),
        len(TRANSACTION_KEYS),
        MAX_DURATION_MS,
        (BUCKET_FLOOR_MS, BUCKET_STEP),
    )


def _character_flags() -> bytes:
    """Per byte, read as latin-1: is it \\w, \\s, \\d, str.isalnum(), str.isdigit()
    (the bits of _speedups.c's C_WORD ... C_ISDIGIT)."""
    tests = (
        lambda c: re.match(r"\w", c) is not None,
        lambda c: re.match(r"\s", c) is not None,
        lambda c: re.match(r"\d", c) is not None,
        str.isalnum,
        str.isdigit,
    )
    return bytes(
        sum(1 << bit for bit, test in enumerate(tests) if test(chr(byte))) for byte in range(256)
    )


def _spellings(key: str) -> set[str]:
    """How logs write a normalised key: orderid, order_id, order-id (lowercased)."""
    for suffix in ("reference", "id"):
        if key.endswith(suffix) and len(key) > len(suffix):
            stem = key[: -len(suffix)]
            return {key, f"{stem}_{suffix}", f"{stem}-{suffix}"}
    return {key}


def _utf8(latin1: str) -> str:
    if latin1.isascii():
        return latin1
    return latin1.encode("latin-1").decode("utf-8", "replace")
