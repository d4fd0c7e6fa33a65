"""The C reader of a record's IDs (paydiag._speedups.builtin_ids) finds what its Python
reference, ids.builtin_ids_in_python, finds: the plausible values of the ID fields in rank
order, then the built-in shapes' matches, each once, in order.

Texts are spliced from what decides the shapes: their prefixes, runs of letters and digits
just inside and just outside their lengths, the characters that may and may not follow
them, Amazon Pay references with and without a suffix, and orders named in prose in either
case. Fields hold every kind of value JSON and key=value text give.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydiag.parse import ids
from paydiag.parse.fields import collect_fields
from paydiag.parse.ids import REQUEST_KEYS, TRANSACTION_KEYS, IdPattern, builtin_ids_in_python

from .native import property_settings, sample_log_lines, skip_unless_built

native = ids._native_builtin_ids
skip_unless_built(native)

PROPERTY = property_settings()

_PIECES = [
    "req_",
    "rreq_",
    "ch_",
    "pi_",
    "py_",
    "in_",
    "re_",
    "cs_live_",
    "cs_test_",
    "cs_",
    "S12-",
    "P99-1234567-7654321",
    "B01-1234567-1234567-C123456",
    "C01-1234567-1234567-c123456",
    "-1234567",
    "-A123456",
    "order",
    "Order ID",
    "ORDER",
    "order id",
    " iD",
    " #:",
    ": ",
    "5O190127TN364715T",
    "ORD-0001",
    "_",
    "-",
    ".",
    " ",
    "x",
]
# Runs just inside and just outside the shapes' lengths (10-32, 10-64, 4-40 before a digit).
_LENGTHS = st.one_of(
    st.sampled_from([3, 4, 5, 9, 10, 31, 32, 33, 39, 40, 41, 63, 64, 65]), st.integers(1, 70)
)
_RUNS = st.tuples(st.sampled_from(["a", "Z", "7", "a1"]), _LENGTHS).map(
    lambda shape: (shape[0] * shape[1])[: shape[1]]
)
TEXTS = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        _RUNS,
        st.text(alphabet="aZ_-19 #:.\n/", min_size=1, max_size=3),
    ),
    max_size=20,
).map("".join)
_VALUES = st.one_of(
    st.sampled_from(["ORD-1", "ab", "abc", "a" * 101, "a" * 102, "x y", "ord-1\n", "a\n\n", "é1x"]),
    st.sampled_from(["_ab", "ab:c/d.e-f", "pi_12345", "", "None", "1e+20"]),
    st.integers(-(10**6), 10**25),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=6),
)
_KEYS = st.sampled_from([*TRANSACTION_KEYS[:8], *REQUEST_KEYS[:4], "id", "message", "status"])
FIELDS = st.dictionaries(_KEYS, st.lists(_VALUES, min_size=1, max_size=3), max_size=6)


def _native(text: str, fields: dict[str, list[object]]) -> tuple[dict[str, None], ...] | None:
    assert native is not None
    found: tuple[dict[str, None], ...] | None = native(
        text, fields, ids._TRANSACTION_RANK, ids._REQUEST_RANK
    )
    return found


def _same(text: str, fields: dict[str, list[object]]) -> None:
    found = _native(text, fields)
    reference = builtin_ids_in_python(text, fields)
    ascii_values = all(
        not isinstance(v, str) or v.isascii() for values in fields.values() for v in values
    )
    if text.isascii() and ascii_values:
        assert found is not None
        assert [list(d) for d in found] == [list(d) for d in reference]
    elif found is not None:  # a non-ASCII value of a field no key ranks is not read
        assert [list(d) for d in found] == [list(d) for d in reference]
    else:
        assert not text.isascii() or not ascii_values


@PROPERTY
@given(TEXTS, FIELDS)
def test_the_c_reader_finds_what_the_regexes_find(
    text: str, fields: dict[str, list[object]]
) -> None:
    _same(text, fields)


@PROPERTY
@given(TEXTS)
def test_the_fields_of_spliced_records_read_alike(text: str) -> None:
    _same(text, collect_fields(text))


@pytest.mark.parametrize(
    ("text", "transactions", "requests"),
    [
        (
            "req_abcdefghij12 ch_1234567890ab cs_live_ABCDEFGHIJ1 S01-1234567-1234567-A123456",
            ["ch_1234567890ab", "cs_live_ABCDEFGHIJ1", "S01-1234567-1234567-A123456"],
            ["req_abcdefghij12"],
        ),
        # Too short, too long, run into an ID character, or inside a word: none of them.
        (
            "req_abc pi_" + "a" * 65 + " xch_1234567890ab ch_1234567890ab-1 S01-1234567-1234567-",
            [],
            [],
        ),
        ("failed for Order ID: 5O190127TN364715T.", ["5O190127TN364715T"], []),
        ("order idx12345", ["idx12345"], []),
        ("reorder 1234567", [], []),
        # At the end of the text; at the longest lengths the shapes take, and one past them.
        ("ref S01-1234567-1234567-C123456", ["S01-1234567-1234567-C123456"], []),
        (
            "req_" + "a" * 32 + " req_" + "a" * 33 + " pi_" + "b" * 64 + " pi_" + "b" * 65,
            ["pi_" + "b" * 64],
            ["req_" + "a" * 32],
        ),
        ("order a" + "b" * 40 + "7 order c" + "d" * 41 + "7", ["a" + "b" * 40 + "7"], []),
    ],
)
def test_typical_records_read_alike(
    text: str, transactions: list[str], requests: list[str]
) -> None:
    found = _native(text, {})
    assert found is not None
    assert [list(d) for d in found] == [transactions, requests]
    assert [list(d) for d in builtin_ids_in_python(text, {})] == [transactions, requests]


def test_non_ascii_text_and_values_are_left_to_python() -> None:
    assert _native("pi_1234567890ab é", {}) is None
    assert _native("x", {"orderid": ["ORDÉ-1"]}) is None
    assert ids.extract_ids("x", {"orderid": ["ORDÉ-1"]}).transactions == ("ORDÉ-1",)


def test_own_id_patterns_come_after_the_built_in_ones() -> None:
    own = (
        IdPattern("transaction", re.compile(r"cart-(\d+)")),
        IdPattern("request", re.compile("R\\d")),
    )
    found = ids.extract_ids("cart-42 pi_1234567890ab R7", {"orderid": ["ORD-1"]}, own)
    assert found.transactions == ("ORD-1", "pi_1234567890ab", "42")
    assert found.requests == ("R7",)


def test_every_sample_log_line_reads_alike() -> None:
    for line in sample_log_lines():
        _same(line, collect_fields(line))


@pytest.mark.parametrize(
    "arguments",
    [
        (b"text", {}, {}, {}),
        ("text", [], {}, {}),
        ("text", {}, {}),
        ("text", {}, {}, ()),
    ],
)
def test_bad_arguments_raise_type_errors(arguments: tuple[object, ...]) -> None:
    assert native is not None
    with pytest.raises(TypeError):
        native(*arguments)
