"""Pull key/value fields out of a record: JSON (whole line or embedded), XML, logfmt, k: v.

Gateways answer in JSON (Stripe, PayPal, Adyen, Amazon Pay v2) or XML (Amazon Pay
legacy/MWS, Authorize.Net), and applications log those bodies inside text lines, so the
same record may hold several shapes. Every key is normalised (lowercase, letters and
digits only) so `order_id`, `orderId` and `Order-ID` agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache

_DECODER = json.JSONDecoder()
_MAX_JSON_STARTS = 4
_KEY_VALUE = re.compile(
    r"""([A-Za-z@_][\w.@-]{0,48})["']?\s?[=:]\s?(?:"([^"\n]{0,200})"|'([^'\n]{0,200})'|([^\s,;&"'<>{}\[\]]{1,200}))"""
)
_XML_ELEMENT = re.compile(r"<([A-Za-z][\w:.-]{0,48})>([^<>\n]{1,200})</\1>")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


@lru_cache(maxsize=4096)  # logs repeat the same few hundred keys on every line
def normalise_key(key: str) -> str:
    """`order_id`, `orderId` and `Order-ID` agree; of a dotted key the last part counts,
    except that `transaction.id` stays `transactionid` (a bare `id` says nothing)."""
    parts = key.lower().rsplit(".", 2)
    last = parts[-1]
    if len(parts) > 1 and _NOT_ALNUM.sub("", last) == "id":
        last = parts[-2] + last
    return _NOT_ALNUM.sub("", last)


def json_objects(text: str) -> Iterator[object]:
    """JSON objects in the record: the whole record if it is JSON, else embedded ones."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            yield json.loads(stripped.split("\n", 1)[0])
            return
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            pass
    start = text.find("{")
    for _ in range(_MAX_JSON_STARTS):
        if start == -1:
            return
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            start = text.find("{", start + 1)
            continue
        yield value
        start = text.find("{", end)


def walk(value: object, depth: int = 0, parent: str = "") -> Iterator[tuple[str, object]]:
    """Every (normalised key, scalar value) in nested JSON, outermost first.

    An `id` inside an object also comes as `<parent>id`: in Braintree's
    `{"transaction": {"id": "..."}}` only the parent's name says whose ID it is.
    """
    if depth > 12:
        return
    if isinstance(value, dict):
        nested: list[tuple[str, object]] = []
        for key, item in value.items():
            name = normalise_key(str(key))
            if isinstance(item, dict | list):
                nested.append((name, item))
                continue
            yield name, item
            if name == "id" and parent:
                yield parent + name, item
        for name, item in nested:
            yield from walk(item, depth + 1, name)
    elif isinstance(value, list):
        for item in value[:50]:
            yield from walk(item, depth + 1, parent)


def text_fields(text: str) -> Iterator[tuple[str, str]]:
    """key=value, key: value and <Key>value</Key> pairs written as text."""
    for match in _XML_ELEMENT.finditer(text):
        yield normalise_key(match.group(1)), match.group(2).strip()
    for match in _KEY_VALUE.finditer(text):
        value = match.group(2) or match.group(3) or match.group(4) or ""
        yield normalise_key(match.group(1)), value


def collect_fields(text: str) -> dict[str, list[object]]:
    """All fields of a record by normalised key, in order of appearance (JSON first)."""
    fields: dict[str, list[object]] = {}
    for obj in json_objects(text):
        for key, value in walk(obj):
            fields.setdefault(key, []).append(value)
    for key, value in text_fields(text):
        fields.setdefault(key, []).append(value)
    return fields
