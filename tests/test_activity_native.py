"""The C activity scan (paydiag._speedups) reads exactly what the Python reference reads.

The reference is `ActivityScanner(native=False)`; both take the same words and character
classes, so any difference is a bug in one of the two. Texts are built from the words and
the bytes that decide the value readers (quotes, separators, spaces of latin-1, digits,
units, newlines), spliced with random bytes.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag import speedups
from paydiag.analysis import AnalyzeOptions, activity_batch
from paydiag.diagnose.incidents.model import RowsWanted
from paydiag.ingest.records import Span
from paydiag.parse import activity
from paydiag.parse.activity import ActivityScanner

try:
    NATIVE = ActivityScanner(native=True)
except RuntimeError:  # not built here: .ci/run checks that CI builds it
    pytest.skip("paydiag._speedups is not built", allow_module_level=True)

REFERENCE = ActivityScanner(native=False)
SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"
PROPERTY = settings(deadline=None, max_examples=1500, suppress_health_check=[HealthCheck.too_slow])

_WORDS = sorted(activity._words())
_DECIDERS = [
    "=",
    ":",
    ": ",
    "   ",
    "    ",
    '"',
    "'",
    "\t",
    "\xa0",
    "\x85",
    "\x1c",
    " #",
    "#:",
    "ms",
    "s",
    ".",
    "5",
    "42.5",
    "123",
    "000000000000042",  # 15 digits: read as a whole number in C
    "9007199254740993",  # 16 digits, past what a double holds exactly: read by float()
    "\n",
    "\r\n",
    "ORD-0001",
    "pi_3L3Fzjz207QC18rEF3Bc",
    "req_AbC123dEf456",
    "S01-1234567-7654321",
    "é",
    "²",
    "ª",
    "_",
    "-",
    "/",
    "x" * 120,
    "9" * 90,
    "DURATION_MS",
    "Stripe",
    "ORDER",
]


_SEPARATORS = ["=", ":", ": ", '":"', "='", " = ", "    =", " ", " #", "", "\xa0:\xa0", '"']
_VALUES = ["ORD-0001", "12345", "0.25", "5ms", "7s", "1.5.5", "ab", "x" * 9, "é1", "1" * 400]


def _pieces() -> st.SearchStrategy[bytes]:
    text_piece = st.sampled_from(_WORDS + _DECIDERS).map(lambda s: s.encode("latin-1"))
    # A word with what follows it: where the value readers decide.
    keyed = st.tuples(
        st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS), st.sampled_from(_VALUES)
    ).map(lambda parts: "".join(parts).encode("latin-1"))
    return st.one_of(text_piece, keyed, keyed, st.binary(min_size=1, max_size=4))


_CHUNKS = st.lists(_pieces(), max_size=40).map(b"".join)


def _both(chunk: bytes) -> tuple[list[activity.ActivityLine], list[activity.ActivityLine]]:
    return list(REFERENCE.scan(chunk)), list(NATIVE.scan(chunk))


@PROPERTY
@given(_CHUNKS)
def test_native_scan_agrees_with_the_reference_on_built_texts(chunk: bytes) -> None:
    reference, native = _both(chunk)
    assert native == reference


@PROPERTY
@given(st.binary(max_size=300))
def test_native_scan_agrees_with_the_reference_on_random_bytes(chunk: bytes) -> None:
    reference, native = _both(chunk)
    assert native == reference


def test_native_scan_finds_words_across_the_stretches_it_reads_at_once() -> None:
    """The C scan reads a chunk as four stretches at once, each after the first starting a
    word's length early: a word across any of the cuts, at any offset, is found once."""
    line = b"2026-03-01T10:00:00Z [checkout.stripe] captured order_id=ORD-7 sandbox\n"
    for filler in range(0, 3 * len(line)):
        chunk = b"x" * filler + b"\n" + line * 5 + b"y" * (2 * filler) + b"\n" + line
        reference, native = _both(chunk)
        assert native == reference and len(native) == 6, filler


_GAPS = st.text(alphabet="\"' :=\t\xa0\x85#", max_size=10)
_NUMBERS = st.from_regex(r"\A[0-9]{0,4}(\.[0-9]{0,3})?(ms|s|m|x)?\Z").filter(bool)


@PROPERTY
@given(st.sampled_from(_WORDS), _GAPS, st.one_of(_NUMBERS, st.sampled_from(_VALUES)))
def test_native_value_readers_agree_with_the_reference(word: str, gap: str, value: str) -> None:
    chunk = f"x stripe {word}{gap}{value} tail\n".encode("latin-1")
    reference, native = _both(chunk)
    assert native == reference


@pytest.mark.parametrize(
    "path", sorted(p for p in SAMPLES.rglob("*") if p.is_file()), ids=lambda p: p.name
)
def test_native_scan_agrees_with_the_reference_on_sample_logs(path: Path) -> None:
    reference, native = _both(path.read_bytes())
    assert native == reference


def test_native_scan_reads_an_activity_line() -> None:
    line = (
        b"2026-03-01 00:00:00,520 INFO [checkout.stripe] payment_intent.succeeded "
        b"order_id=ORD-00000003 payment_intent=pi_3L3Fzjz207QC18rEF3BcAwwR "
        b"amount=33210 currency=eur duration_ms=678 key=sk_test_x\n"
    )
    assert NATIVE.scan(line) == [
        (
            0,
            "stripe",
            "captured",
            "sandbox",
            678.0,
            ("ORD-00000003", "pi_3L3Fzjz207QC18rEF3BcAwwR"),
            (),
        )
    ]


def test_native_scan_takes_no_word_twice_and_skips_quiet_lines() -> None:
    assert NATIVE.scan(b"") == []
    assert NATIVE.scan(b"2026-03-01 INFO [inventory] reserved sku=1\n" * 3) == []
    lines = NATIVE.scan(b"a\nPAYPAL order 12345 captured rt=0.25\n")
    assert lines == [(2, "paypal", "captured", None, 250.0, ("12345",), ())]


def test_native_scan_survives_a_long_line_of_hits() -> None:
    chunk = b"stripe " + b"order_id=ORD-1 duration_ms=5 pi_12345678 " * 20_000 + b"\n"
    reference, native = _both(chunk)
    assert native == reference
    assert native[0][5] == ("ORD-1", "pi_12345678")


def test_no_speedups_variable_turns_the_native_scan_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(speedups.NO_SPEEDUPS_VARIABLE, "1")
    assert not ActivityScanner().native
    monkeypatch.setenv(speedups.NO_SPEEDUPS_VARIABLE, "0")
    assert ActivityScanner().native


# --- the batch incident detectors see (analysis.activity_batch) -----------------------------

_HEADS = [
    "",
    "2026-03-01 00:00:00,520 ",
    "2026-03-01 00:00:59 ",
    "2026-03-01T23:59:59.123456789Z ",
    "2026-03-01T00:01:00.5 ",
    "2026-03-01T10:00:00+01:00 ",
    "2026-03-01T10:00:00 +0530 ",
    "2026-03-01T10:00:00-0130x",
    "2026-03-01T10:00:00+01: ",
    "2026-03-01T10:00:00 UTC ",
    "2026-03-01T10:00:00\xa0Z ",
    "2026-02-30T10:00:00Z ",
    "2026-03-01T10:00:60Z ",
    "2026-03-01T24:00:00Z ",
    "0001-01-01T00:00:00+01:00 ",
    "9999-12-31T23:59:59-01:00 ",
    "12026-03-01 00:02:03 ",
    "[01/Mar/2026:10:00:00 +0000] ",
    "Mar  1 10:03:00 host ",
    '{"ts": 1772323200.5, "msg": "',
    "x" * 70 + " 2026-03-01 00:04:00 ",
]
_BODIES = [
    "[checkout.stripe] payment_intent.succeeded order_id=ORD-1 duration_ms=678",
    "[checkout.paypal] order ORD-00000005 captured paypal_order_id=8RX5SKI7HD5 rt=0.4",
    "[checkout.adyen] pspReference=PSP1234 resultCode=Authorised sandbox",
    "amazon_pay charge created merchantReference=ORD-2 latency_ms=12",
    "refunded order_id=ORD-3 sk_live_x",
    "[inventory] reserved sku=SKU-1",
    "stripe req_AbC123dEf456 failed",
    # A value keeps the rank it was first found with: ORD-7 is the order, not the intent.
    "stripe captured payment_intent=pi_3L3Fzjz207QC18rEF3Bc order_id=pi_3L3Fzjz207QC18rEF3Bc"
    " order_id=ORD-7",
    "stripe captured " + " ".join(f"order_id=ORD-{n % 11}" for n in range(14)),
    # Two values that decode (UTF-8, errors replaced) to the same string.
    "stripe captured invoice_id=INV-\xe9\xe9 order_id=ORD-\xe9\xe8 order_id=ORD-\xe9\xe9",
]
_LINES = st.tuples(
    st.sampled_from(_HEADS), st.sampled_from(_BODIES), st.sampled_from(["", "é", "\x00"])
)
_MOMENTS = st.one_of(
    st.none(),
    st.sampled_from(
        [datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC), datetime(2026, 3, 1, 10, 0, tzinfo=UTC)]
    ),
)


_WANTED = st.one_of(
    st.none(),
    st.builds(
        RowsWanted,
        order_mask=st.sampled_from([None, 0, 1, 3]),
        slow_ms=st.sampled_from([None, 0.0, 12.0, 500.0]),
        environments=st.booleans(),
    ),
)


@PROPERTY
@given(
    lines=st.lists(_LINES, max_size=30),
    errors=st.sets(st.integers(0, 29), max_size=6),
    gateway=st.sampled_from([None, "stripe", "paypal", "nowhere"]),
    since=_MOMENTS,
    until=_MOMENTS,
    last=_MOMENTS,
    first_line=st.integers(1, 10**6),
    wanted=_WANTED,
)
def test_native_batch_agrees_with_the_reference(
    lines: list[tuple[str, str, str]],
    errors: set[int],
    gateway: str | None,
    since: datetime | None,
    until: datetime | None,
    last: datetime | None,
    first_line: int,
    wanted: RowsWanted | None,
) -> None:
    """Rows, line numbers, times and minute groups, whatever the time formats, the error
    records in between, the gateway asked for, the window and the rows wanted."""
    texts = ["".join(parts).encode("latin-1") for parts in lines]
    chunk = b"".join(text + b"\n" for text in texts)
    starts = [sum(len(t) + 1 for t in texts[:i]) for i in range(len(texts))]
    spans = [
        Span(starts[i], starts[i] + len(texts[i]), first_line + i)
        for i in sorted(errors)
        if i < len(texts)
    ]
    options = AnalyzeOptions(gateway=gateway, since=since, until=until)
    batches = [
        activity_batch(scanner, options, "x.log", chunk, first_line, spans, last, wanted)
        for scanner in (REFERENCE, NATIVE)
    ]
    assert batches[1] == batches[0]


def test_each_row_carries_the_hash_orders_are_sampled_by() -> None:
    chunk = (
        "2026-03-01T10:00:00Z [checkout.stripe] captured order_id=ORD-ü1 duration_ms=5\n"
        "2026-03-01T10:00:01Z stripe captured order_id=ORD-2 pi=pi_3L3Fzjz207QC18rEF3Bc\n"
        "2026-03-01T10:00:02Z stripe captured\n"
    ).encode()
    for scanner in (REFERENCE, NATIVE):
        batch = activity_batch(scanner, AnalyzeOptions(), "x.log", chunk, 1, [], None)
        assert batch.transaction_ids == [("ORD-ü1",), ("ORD-2", "pi_3L3Fzjz207QC18rEF3Bc"), ()]
        # zlib's CRC-32 of the first ID's UTF-8 (series.id_hash), 0 for a row without one.
        assert batch.id_hashes == [zlib.crc32("ORD-ü1".encode()), zlib.crc32(b"ORD-2"), 0]


def test_a_batch_keeps_only_the_rows_wanted_and_counts_every_line() -> None:
    chunk = (
        b"2026-03-01T10:00:00Z stripe captured order_id=ORD-1 duration_ms=5\n"  # out of sample
        b"2026-03-01T10:00:01Z stripe captured order_id=ORD-4 duration_ms=6\n"  # in it
        b"2026-03-01T10:00:02Z stripe captured order_id=ORD-2 duration_ms=900\n"  # slow
        b"2026-03-01T10:00:03Z stripe captured order_id=ORD-3 sk_test_x\n"  # marked
        b"2026-03-01T10:00:04Z stripe captured duration_ms=7\n"  # no order
    )
    # zlib.crc32 of ORD-1, ORD-2 and ORD-3 is odd, of ORD-4 even: mask 1 samples ORD-4.
    wanted = RowsWanted(order_mask=1, slow_ms=500.0, environments=True)
    for scanner in (REFERENCE, NATIVE):
        batch = activity_batch(scanner, AnalyzeOptions(), "x.log", chunk, 1, [], None, wanted)
        assert batch.lines == [2, 3, 4]
        assert batch.transaction_ids == [("ORD-4",), ("ORD-2",), ("ORD-3",)]
        (group,) = batch.minutes.values()
        assert (group.calls, group.captures, group.first, group.last) == (5, 5, 0, 4_000_000)
        # 5% wide buckets: 5 ms in bucket 32 (1.05**32 = 4.76 ms up to 5.00).
        assert (group.timed, group.total_us) == (4, 918_000)
        assert group.buckets == {32: 1, 36: 1, 139: 1, 39: 1}
        assert (group.timed_first, group.timed_last) == (0, 4_000_000)
        every = activity_batch(scanner, AnalyzeOptions(), "x.log", chunk, 1, [], None)
        assert len(every) == 5 and every.minutes == batch.minutes


@PROPERTY
@given(st.lists(st.floats(0, 1e9, exclude_max=True), min_size=1, max_size=20))
def test_native_minutes_count_durations_as_the_reference(durations: list[float]) -> None:
    """Each duration's bucket and its whole microseconds, as Python reads and rounds them."""
    chunk = b"".join(
        f"2026-03-01T10:00:00Z stripe captured duration_ms={ms!r}\n".encode() for ms in durations
    )
    groups = [
        activity_batch(scanner, AnalyzeOptions(), "x.log", chunk, 1, [], None).minutes
        for scanner in (REFERENCE, NATIVE)
    ]
    assert groups[1] == groups[0]
    (group,) = groups[0].values()
    assert group.timed == len(durations)


def test_native_batch_counts_a_minute_per_gateway() -> None:
    line = "2026-03-01 00:0{m}:{s:02d} [checkout.{g}] captured order_id=O{m}{s} duration_ms={s}\n"
    chunk = b"".join(
        line.format(m=m, s=s, g=g).encode()
        for m in range(2)
        for s in range(0, 60, 20)
        for g in ("stripe", "paypal")
    )
    batch = activity_batch(NATIVE, AnalyzeOptions(), "x.log", chunk, 1, [], None)
    assert len(batch) == 12 and batch.lines == list(range(1, 13))
    group = batch.minutes["paypal", batch.minute_keys[0] + 1]
    assert (group.calls, group.first, group.last, group.captures) == (3, 0, 40_000_000, 3)
    assert (group.timed, group.total_us, group.buckets) == (3, 60_000, {-48: 1, 61: 1, 75: 1})
    assert (group.timed_first, group.timed_last) == (0, 40_000_000)
    assert batch.time(11) == datetime(2026, 3, 1, 0, 1, 40, tzinfo=UTC)


@settings(deadline=None, max_examples=500)
@given(
    data=st.lists(st.sampled_from([b"\n", b"a", b"\r\n", b"\x00", b"xyz" * 20]), max_size=60).map(
        b"".join
    ),
    start=st.integers(-80, 1300),
    end=st.integers(-80, 1300),
)
def test_the_c_newline_count_is_bytes_count(data: bytes, start: int, end: int) -> None:
    from paydiag import _speedups

    assert _speedups.count_newlines(data, start, end) == data.count(b"\n", start, end)
    assert _speedups.count_newlines(data, start) == data.count(b"\n", start)
    assert _speedups.count_newlines(data) == data.count(b"\n")


@pytest.mark.parametrize("buckets", [(0.0, 0.05), (0.1, 0.0), (0.1, 1e-9), (2e9, 0.05)])
def test_native_scanner_refuses_duration_buckets_it_cannot_count(
    buckets: tuple[float, float],
) -> None:
    from paydiag import _speedups

    with pytest.raises(ValueError, match="buckets"):
        _speedups.ActivityScanner([], (), ("captured",), (), bytes(256), 0, 1e9, buckets)


@pytest.mark.parametrize("size", [254, 255, 256, 511, 1000, 70_000])
def test_the_c_newline_count_holds_over_long_runs_of_newlines(size: int) -> None:
    from paydiag import _speedups

    data = b"\n" * size
    for start in (0, 1, 200):
        assert _speedups.count_newlines(data, start) == max(size - start, 0)
