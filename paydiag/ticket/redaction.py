"""How a rendered ticket goes through paydiag.redact.

Everything is redacted except two kinds of text: paydiag's own catalog and profile prose (the
rule's explanation, causes and fixes, what support asks for), which holds nothing from the logs
and which a text redactor can mangle (`reads "Bearer <token>"` looks like an unclosed XML
element), and `--contact`, the merchant's own email or phone for the answer, unless it holds a
secret. Text tickets are redacted line by line, so one odd line can never swallow the rest;
the JSON ticket value by value, so it stays valid JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from paydiag.redact import DEFAULT_REDACTOR
from paydiag.ticket.context import TicketContext

_MARKER_KIND = re.compile(r"\[REDACTED(?::([a-z_]*))?")
_PERSONAL = frozenset({"email", "phone"})
# Shorter catalog strings (codes, categories) never trip redaction; keeping only prose keeps
# a short catalog word that happens to occur in a log line from escaping redaction there.
_MIN_KEPT = 16


def kept_texts(context: TicketContext) -> frozenset[str]:
    """The strings that stay verbatim: catalog and profile prose, and a personal contact."""
    error, gateway = context.error, context.gateway
    prose = [
        error.title,
        error.explanation,
        *error.causes,
        *error.rule_support,
        *context.references,
        gateway.channel,
        *gateway.asks_for,
        *(text for text in (gateway.urgent, gateway.response_times, gateway.portal) if text),
        *(step.text for step in (*context.steps_taken, *context.not_yet_tried) if step.fix),
        *(group.label for group in context.ids),
        context.priority.meaning,
    ]
    kept = {text for text in prose if len(text) >= _MIN_KEPT}
    contact = personal_contact(context.contact)
    if contact:
        kept.add(contact)
    return frozenset(kept)


def personal_contact(contact: str | None) -> str | None:
    """The contact when redaction would only remove personal data (email, phone) from it."""
    if not contact or not contact.strip():
        return None
    kinds = set(_MARKER_KIND.findall(DEFAULT_REDACTOR.redact(contact)))
    return contact if kinds <= _PERSONAL else None


def redact_text(text: str, kept: Iterable[str] = ()) -> str:
    """`text` redacted line by line, the kept strings (and their JSON-escaped forms) verbatim."""
    pattern = _kept_pattern(kept)
    return "\n".join(_redact_line(line, pattern) for line in text.split("\n"))


def redact_data(value: Any, kept: frozenset[str], key: str | None = None) -> Any:
    """Every string in `value` redacted, knowing the key it is under, kept strings verbatim."""
    if isinstance(value, str):
        if value in kept:
            return value
        return DEFAULT_REDACTOR.redact_field(key, value) if key else DEFAULT_REDACTOR.redact(value)
    if isinstance(value, dict):
        return {
            k: redact_data(v, kept, k if isinstance(k, str) else None) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_data(item, kept, key) for item in value]
    return value


def _kept_pattern(kept: Iterable[str]) -> re.Pattern[str] | None:
    forms = {form for text in kept if text for form in (text, _json_escaped(text))}
    if not forms:
        return None
    alternation = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    return re.compile(f"({alternation})")


def _json_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _redact_line(line: str, pattern: re.Pattern[str] | None) -> str:
    if pattern is None:
        return DEFAULT_REDACTOR.redact(line)
    # split() with one group: the even parts are other text, the odd parts kept strings.
    parts = pattern.split(line)
    return "".join(part if i % 2 else DEFAULT_REDACTOR.redact(part) for i, part in enumerate(parts))
