"""Group error lines no rule knows by their shape, so a new failure mode shows up at once.

The variable parts of a line (timestamps, numbers, IDs, hex, quoted values, emails) are
masked; lines that differ only in those parts share a template.
"""

from __future__ import annotations

import re

from paydiag.parse.event import Event

_MAX_TEMPLATE = 240
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\w{3} +\d{1,2} \d\d:\d\d:\d\d\b"), "<time>"),
    (re.compile(r"\[\d\d/\w{3}/\d{4}:[^\]]+\]"), "<time>"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    (re.compile(r'"(?:[^"\\]|\\.){0,200}"(?!\s*:)'), '"<*>"'),
    (re.compile(r"'[^'\n]{0,200}'"), "'<*>'"),
    (re.compile(r"\b(?=[\w-]*\d)[A-Za-z][\w-]*[_-][\w-]+\b"), "<id>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\b\d+(?:\.\d+)?\b"), "<n>"),
)
_LEADING_NOISE = re.compile(r"^(?:<time>|<n>|[\s\[\]():|-])+")


def template_of(event: Event) -> str:
    """The masked shape of a record: for an access line its status and path."""
    if event.path is not None and event.http_status is not None:
        return f"HTTP {event.http_status} {mask(event.path.split('?', 1)[0])}"
    return mask(event.text.split("\n", 1)[0][:2000])


def mask(line: str) -> str:
    for pattern, replacement in _MASKS:
        line = pattern.sub(replacement, line)
    return _LEADING_NOISE.sub("", line)[:_MAX_TEMPLATE]
