"""The C reader of text fields (paydiag._speedups.text_fields) adds exactly the fields the
regexes of its Python reference, fields.add_text_fields_in_python, find.

Texts are spliced from what decides the regexes: runs of key characters (short, and 49 to
51 long, where a key starts in a run's last 49), leading digits, dots and dashes, quotes,
separators and the spaces ASCII knows, bare and quoted values up to and past 200
characters, and XML elements that close, do not close, or close another tag.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydiag.parse import fields
from paydiag.parse.fields import add_text_fields_in_python, collect_fields

from .native import property_settings, skip_unless_built

native = fields._native_text_fields
skip_unless_built(native)

PROPERTY = property_settings()

_KEY_CHARACTERS = "abcXYZ019_.@-"
_KEYS = st.one_of(
    st.text(_KEY_CHARACTERS, min_size=1, max_size=8),
    st.sampled_from(["order_id", "Order-ID", "transaction.id", "a.b.ID", "9-.x", "@user", "_"]),
    st.integers(47, 52).map(lambda n: ("k1." * 20)[:n]),
    st.integers(47, 52).map(lambda n: "7" * (n - 3) + "key"),
)
_VALUES = st.one_of(
    st.text("abc019/:=.-_!", max_size=6),
    st.integers(195, 205).map(lambda n: "v" * n),
    st.integers(195, 205).map(lambda n: '"' + "q" * n + '"'),
    st.sampled_from(['"x y"', "'single'", '""', '"open', "'mixed\"", '"a\nb"', "ORD-1"]),
)
_PIECES = st.one_of(
    _KEYS,
    _VALUES,
    st.sampled_from(["=", ":", " = ", ": ", "\t", "\n", "\x1c", "\r", " ", '"', "'", "'=", '":']),
    st.sampled_from([",", ";", "&", "{", "}", "[", "]", "<", ">", "</", "/", "é", "\x00"]),
    st.tuples(_KEYS, _VALUES, _KEYS).map(lambda t: f"<{t[0]}>{t[1]}</{t[2]}>"),
    st.tuples(_KEYS, _VALUES).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"),
    st.tuples(_KEYS, _VALUES).map(lambda t: f"{t[0]}={t[1]}"),
)
TEXTS = st.lists(_PIECES, max_size=14).map("".join)


def _reference(text: str) -> dict[str, list[object]]:
    found: dict[str, list[object]] = {}
    add_text_fields_in_python(found, text)
    return found


@PROPERTY
@given(TEXTS)
def test_the_c_reader_adds_the_fields_the_regexes_find(text: str) -> None:
    found: dict[str, list[object]] = {"before": ["kept"]}
    if native(text, found):
        assert found == {"before": ["kept"], **_reference(text)}
    else:  # left to Python, untouched, and only where the C reader must
        assert found == {"before": ["kept"]}
        pairs = fields._KEY_VALUE_BY_RUN.findall(text)
        assert not text.isascii() or any(len(bare) == 200 for *_, bare in pairs)


@pytest.mark.parametrize(
    "text",
    [
        "status=400 order_id=ORD-1 message=\"card declined\" code: 'E42'",
        "<Code>InvalidParameterValue</Code><Message> Bad value </Message>",
        "<a><b>x</b></a> <Key>v</Other> <k>" + "v" * 201 + "</k>",
        "transaction.id=7 a.b.ID=9 Order-ID=3 " + "x" * 60 + "=long",
        '"name": "bob", \'age\' : 42; x="unclosed',
    ],
)
def test_typical_records_read_alike(text: str) -> None:
    found: dict[str, list[object]] = {}
    assert native(text, found)
    assert found == _reference(text)


def test_records_the_c_reader_leaves_are_read_by_python() -> None:
    for text in ["café=1 order_id=ORD-1", "k=" + "v" * 200 + " order_id=ORD-2"]:
        untouched: dict[str, list[object]] = {}
        assert not native(text, untouched) and not untouched
        assert collect_fields(text)["orderid"] == [text.split("order_id=")[1]]
