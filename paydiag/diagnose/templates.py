"""Group error lines no rule knows by their shape, so a new failure mode shows up at once.

The variable parts of a line (timestamps, numbers, IDs, hex, quoted values, emails) are
masked; lines that differ only in those parts share a template.
"""

from __future__ import annotations

import re

from paydiag.parse.event import Event
from paydiag.parse.fields import normalise_key

_MAX_TEMPLATE = 240
# [\w.+-]+@[\w-]+\.[\w.-]+, tried only where a run of its first class starts, or at a "+"
# (a match ends before one; nothing else of the class can follow it): tried at every
# place, each try ran to the run's end, and a 2,000-character line took 8 ms. None of the
# runs can give back what follows it, so the quantifiers are possessive.
_EMAIL = re.compile(r"(?:(?<![\w.+-])|(?=\+))[\w.+-]++@[\w-]++\.[\w.-]+")
# Each pattern with the literals it cannot match without (one of them): a line holding
# none is spared the search, which for most lines is most of the masking's cost.
_Mask = tuple[re.Pattern[str], str, tuple[str, ...]]
_TIME_AND_PII: tuple[_Mask, ...] = (
    (
        re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"),
        "<time>",
        (":",),
    ),
    (re.compile(r"\b\w{3} +\d{1,2} \d\d:\d\d:\d\d\b"), "<time>", (":",)),
    (re.compile(r"\[\d\d/\w{3}/\d{4}:[^\]]+\]"), "<time>", ("/",)),  # "[" is in most lines
    (_EMAIL, "<email>", ("@",)),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
        ("-",),
    ),
)
_VALUES: tuple[_Mask, ...] = (
    (re.compile(r"'[^'\n]{0,200}'"), "'<*>'", ("'",)),
    (re.compile(r"\b(?=[\w-]*\d)[A-Za-z][\w-]*[_-][\w-]+\b"), "<id>", ("_", "-")),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=\d*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>", ()),
    (re.compile(r"\b\d+(?:\.\d+)?\b"), "<n>", ()),
)
# A double-quoted value (not a JSON key), with its JSON or logfmt key when it has one. A
# quote right after a word character or a quote closes a string, never opens one, so in
# `"key":"value"` the `":"` between them is not taken for a string.
_QUOTED = re.compile(
    r'(?:"([\w.@-]{1,48})"\s*:\s*|\b([\w.@-]{1,48})=)?'
    r'(?<![\w"])("(?:[^"\\]|\\.){0,200}")(?!\s*:)'
)
# The values of these keys are the message itself: masked whole, every JSON or logfmt
# error line with the same keys would share one template.
_MESSAGE_KEYS = frozenset(
    {"msg", "message", "error", "err", "errormessage", "description", "detail", "reason", "event"}
)
_LEADING_NOISE = re.compile(r"^(?:<time>|<n>|[\s\[\]():|-])+")


def template_of(event: Event) -> str:
    """The masked shape of a record: for an access line its status and path."""
    if event.path is not None and event.http_status is not None:
        return f"HTTP {event.http_status} {mask(event.path.split('?', 1)[0])}"
    return mask(event.text.split("\n", 1)[0][:2000])


def mask(line: str) -> str:
    line = _masked(line, _TIME_AND_PII)
    if '"' in line:
        line = _QUOTED.sub(_mask_quoted, line)
    line = _masked(line, _VALUES)
    return _LEADING_NOISE.sub("", line)[:_MAX_TEMPLATE]


def _masked(line: str, masks: tuple[_Mask, ...]) -> str:
    for pattern, replacement, needs in masks:
        if not needs or any(literal in line for literal in needs):
            line = pattern.sub(replacement, line)
    return line


def _mask_quoted(match: re.Match[str]) -> str:
    key = match.group(1) or match.group(2)
    if key is not None and normalise_key(key) in _MESSAGE_KEYS:
        return match.group(0)  # the message: its numbers and IDs are masked next
    return match.string[match.start() : match.start(3)] + '"<*>"'
