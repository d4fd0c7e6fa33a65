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
from operator import itemgetter

from paydiag import speedups

_DECODER = json.JSONDecoder()
_MAX_JSON_STARTS = 4
_KEY_VALUE_VALUE = (
    r"""["']?\s?[=:]\s?(?:"([^"\n]{0,200})"|'([^'\n]{0,200})'|([^\s,;&"'<>{}\[\]]{1,200}))"""
)
# The reference reading of key/value pairs: tried at every character, so its cost grows
# with the square of each word's length.
_KEY_VALUE = re.compile(r"([A-Za-z@_][\w.@-]{0,48})" + _KEY_VALUE_VALUE)
# The same pairs tried once per run of key characters. No key character may come before the
# value's separator, so a key ends where its run ends: it starts at the run's first letter,
# `@` or `_`, or in a run longer than a key (50+), at the first one at most 49 before the
# run's end. A search that resumes inside a run (after a value cut at 200) would skip that
# run's starts, hence `_MAX_BARE_VALUE` below.
_KEY_VALUE_BY_RUN_SOURCE = (
    r"(?<![\w.@-])(?:(?:[^\W_A-Za-z]|[.-])*+|(?=[\w.@-]{50})[\w.@-]*?)"
    r"([A-Za-z@_][\w.@-]{0,48}+)" + _KEY_VALUE_VALUE
)
_KEY_VALUE_BY_RUN = re.compile(_KEY_VALUE_BY_RUN_SOURCE)
# Unicode's \w and \s as ASCII text knows them (\s includes \x1c-\x1f): spelled out as
# ranges, the regex engine tests a character against a bitmap instead of asking Unicode
# for its category, which makes the search on ASCII text (nearly every record) 1.5 times
# cheaper; the two find the same pairs in ASCII text.
_ASCII_CLASSES = {
    r"[^\W_A-Za-z]": "[0-9]",
    r"\w": "0-9A-Za-z_",
    r"\s?": r"[\t-\r\x1c- ]?",
    r"[^\s": r"[^\t-\r\x1c- ",
}


def _for_ascii(source: str) -> str:
    for unicode_class, ascii_class in _ASCII_CLASSES.items():
        assert unicode_class in source
        source = source.replace(unicode_class, ascii_class)
    return source


_KEY_VALUE_BY_RUN_ASCII = re.compile(_for_ascii(_KEY_VALUE_BY_RUN_SOURCE))
_MAX_BARE_VALUE = 200
_bare_value = itemgetter(3)
_XML_ELEMENT = re.compile(r"<([A-Za-z][\w:.-]{0,48})>([^<>\n]{1,200})</\1>")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")
# The C form of _add_text_fields for ASCII records, where it is built.
_native_text_fields = speedups.native("text_fields")


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


# Fields go straight into the record's dict rather than through generators: this runs
# for every error record, and a generator costs a frame per nested object.
def _add_json(
    fields: dict[str, list[object]], value: object, depth: int = 0, parent: str = ""
) -> None:
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
            fields.setdefault(name, []).append(item)
            if name == "id" and parent:
                fields.setdefault(parent + name, []).append(item)
        for name, item in nested:
            _add_json(fields, item, depth + 1, name)
    elif isinstance(value, list):
        for item in value[:50]:
            _add_json(fields, item, depth + 1, parent)


def _add_text_fields(fields: dict[str, list[object]], text: str) -> None:
    """key=value, key: value and <Key>value</Key> pairs written as text."""
    if _native_text_fields is None or not _native_text_fields(text, fields):
        add_text_fields_in_python(fields, text)


def add_text_fields_in_python(fields: dict[str, list[object]], text: str) -> None:
    """_add_text_fields() by the regexes: the reference of the C form (which reads ASCII
    text, and leaves the rest to this)."""
    if "<" in text:
        for match in _XML_ELEMENT.finditer(text):
            fields.setdefault(normalise_key(match.group(1)), []).append(match.group(2).strip())
    for key, quoted, single, bare in key_values(text):
        fields.setdefault(normalise_key(key), []).append(quoted or single or bare)


def key_values(text: str) -> list[tuple[str, str, str, str]]:
    """The (key, "value", 'value', value) groups of every key/value pair, in order."""
    by_run = _KEY_VALUE_BY_RUN_ASCII if text.isascii() else _KEY_VALUE_BY_RUN
    pairs: list[tuple[str, str, str, str]] = by_run.findall(text)
    if _MAX_BARE_VALUE in map(len, map(_bare_value, pairs)):
        return _KEY_VALUE.findall(text)
    return pairs


def collect_fields(text: str) -> dict[str, list[object]]:
    """All fields of a record by normalised key, in order of appearance (JSON first)."""
    fields: dict[str, list[object]] = {}
    for obj in json_objects(text):
        _add_json(fields, obj)
    _add_text_fields(fields, text)
    return fields
