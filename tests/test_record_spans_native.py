"""The C cutter of records (paydiag._speedups.record_spans) cuts what its Python reference,
records.record_spans_in_python, cuts: the same spans, line numbers and continuations.

Chunks are spliced from lines that decide the continuation regex (indents, `Caused by:`,
tracebacks, `... N more`, dotted exception names that just meet or just miss it, CR
before the newline or at the chunk's end) and lines of other bytes; hits fall anywhere,
before the chunk and past its end too, as bytes.rfind takes them.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydiag.ingest import records
from paydiag.ingest.records import MAX_RECORD_LINES, record_spans, record_spans_in_python

from .conftest import SAMPLE_LOGS
from .native import property_settings, skip_unless_built

native = records._native_record_spans
skip_unless_built(native)

PROPERTY = property_settings()

_LINES = [
    b"2026-12-07 10:00:00 ERROR payment failed",
    b"  at com.shop.Pay.charge(Pay.java:42)",
    b"\tat x",
    b" ",
    b"",
    b"Caused by: java.io.IOException",
    b"Caused by",
    b"Traceback (most recent call last):",
    b"Traceback (most recent call)",
    b"Traceback (most recent call first)",
    b"... 12 more",
    b"... more",
    b"...  3 more",
    b"...  more",
    b"... 3 mor",
    b"com.stripe.exception.CardException: declined",
    b"com.stripe.exception.CardException",
    b"stripe.error.CardError:",
    b"a.Error",
    b"a.bError x",
    b"a..bError:",
    b"1a.bError:",
    b"a.1Error:",
    b"a1.$b$.x$Exception$:",
    b"_.Exceptions",
    b"FooException:",
    b"a.Exception.",
    b"a.ErrorX-",
    b"a.Errors\r",
    b"a.Error\r",
    b"ERROR\r",
    b"\xff\xfe binary \x00",
    b"\xc3\xa9.Error:",
]
_LINE = st.one_of(st.sampled_from(_LINES), st.binary(max_size=6))
CHUNKS = st.lists(_LINE, max_size=14).flatmap(
    lambda lines: st.sampled_from([b"\n", b"\r\n"]).map(lambda end: end.join(lines))
)


def _hits(chunk: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(-len(chunk) - 3, len(chunk) + 3), max_size=8)


def _both(chunk: bytes, hits: list[int], multiline: bool) -> tuple[list[records.Span], ...]:
    return (
        list(record_spans(chunk, 7, hits, multiline)),
        list(record_spans_in_python(chunk, 7, hits, multiline)),
    )


@PROPERTY
@given(st.data(), CHUNKS, st.booleans())
def test_the_c_cutter_cuts_what_the_regex_cuts(
    data: st.DataObject, chunk: bytes, multi: bool
) -> None:
    hits = data.draw(_hits(chunk))
    cut, reference = _both(chunk, hits, multi)
    assert cut == reference


@pytest.mark.parametrize("most", [1, 2, 3])
def test_the_cap_on_a_record_s_lines_is_the_one_passed(
    most: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record of at most `most` lines each way; a hit on a continuation line the cap left
    out starts a record of its own, which does not reach back into the one before."""
    chunk = b"\n".join([b"  a", b"  b", b"ERROR x", b"  c", b"  d", b"  e", b"next"])
    hits = [chunk.index(b"ERROR"), chunk.index(b"  d")]
    assert native is not None
    cut = native(chunk, 1, hits, True, most)
    monkeypatch.setattr(records, "MAX_RECORD_LINES", most)
    reference = record_spans_in_python(chunk, 1, hits)
    assert cut == [(span.start, span.end, span.line) for span in reference]
    assert len(cut) == (2 if most < 2 else 1)
    assert records.MAX_RECORD_LINES == most != MAX_RECORD_LINES


def test_every_sample_log_line_cuts_alike() -> None:
    for path in sorted(SAMPLE_LOGS.iterdir()):
        if path.suffix == ".gz":
            continue
        chunk = path.read_bytes()
        every_line = [0] + [i + 1 for i, byte in enumerate(chunk) if byte == 10]
        for multiline in (True, False):
            cut, reference = _both(chunk, every_line, multiline)
            assert cut == reference, path.name


@pytest.mark.parametrize(
    "arguments",
    [
        ("text", 1, [0], True, 200),
        (b"text", 1, [0.5], True, 200),
        (b"text", 1, 3, True, 200),
        (b"text", 1, [0], True),
    ],
)
def test_bad_arguments_raise_type_errors(arguments: tuple[object, ...]) -> None:
    assert native is not None
    with pytest.raises(TypeError):
        native(*arguments)
