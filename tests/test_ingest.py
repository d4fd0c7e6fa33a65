"""paydiag.ingest: inputs, decompression by content, chunks of whole lines, damage reports.

Every readable line of every input is analysed exactly once, whatever the input looks like:
compressed under any name, split over chunk boundaries, damaged, or a line of megabytes.
"""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import io
import json
import lzma
import os
import platform
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from paydiag import cli, speedups
from paydiag.analysis import AnalyzeOptions, analyze
from paydiag.catalog import Catalog, load_catalog
from paydiag.catalog.loader import LoadResult
from paydiag.ingest.chunks import Chunk, ReadState, keep_freed_chunks, read_chunks
from paydiag.ingest.formats import detect_format
from paydiag.ingest.records import decode, record_spans
from paydiag.ingest.sources import Source, expand_inputs, open_source

from .conftest import SAMPLE_LOGS

HAS_ZSTD = importlib.util.find_spec("zstandard") is not None
PROPERTY = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

LITERAL = AnalyzeOptions(engine="literal")  # no Hyperscan compile per test
STRIPE_DECLINE = (
    '2026-03-01T03:13:31Z ERROR payment failed order_id=ORD-1 {"error":{"code":"card_declined",'
    '"decline_code":"insufficient_funds","type":"card_error"}} request_id=req_A1b2C3d4E5f6G7'
)
LINES = [f"2026-03-01T03:{i // 60:02d}:{i % 60:02d}Z INFO checkout step {i} ok" for i in range(200)]
TEXT = ("\n".join(LINES) + "\n").encode()


@pytest.fixture(autouse=True)
def _builtin_catalog_loaded_once(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> None:
    real = load_catalog

    def load(extra: Sequence[Path] = (), *, builtin: bool = True) -> LoadResult:
        return LoadResult(catalog, ()) if builtin and not extra else real(extra, builtin=builtin)

    monkeypatch.setattr(cli, "load_catalog", load)


def invoke(runner: CliRunner, *args: str, stdin: bytes | str | None = None) -> Result:
    """`paydiag analyze ARGS` with the literal engine (no Hyperscan compile per test)."""
    return runner.invoke(cli.app, ["analyze", *args, "--engine", "literal"], input=stdin)


def read_all(data: bytes, chunk_size: int = 1 << 20, max_line: int = 8 << 20) -> ReadResult:
    state = ReadState()
    chunks = list(read_chunks(io.BytesIO(data), state, chunk_size=chunk_size, max_line=max_line))
    return ReadResult(chunks, state)


class ReadResult:
    def __init__(self, chunks: list[Chunk], state: ReadState) -> None:
        self.chunks = chunks
        self.state = state

    @property
    def data(self) -> bytes:
        return b"".join(chunk.data for chunk in self.chunks)

    @property
    def lines(self) -> list[bytes]:
        return self.data.split(b"\n")[:-1]

    def numbered(self) -> Iterator[tuple[int, bytes]]:
        """(line number the chunk says, line) for every line of every chunk."""
        for chunk in self.chunks:
            for offset, line in enumerate(chunk.data.split(b"\n")[:-1]):
                yield chunk.first_line + offset, line


def expected_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


def read_source(path: Path) -> tuple[bytes, str | None]:
    stream, compression = open_source(Source(str(path)))
    try:
        state = ReadState()
        return b"".join(c.data for c in read_chunks(stream, state)), compression
    finally:
        stream.close()


# --- inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compress", "name"),
    [(gzip.compress, "gzip"), (bz2.compress, "bzip2"), (lzma.compress, "xz")],
)
def test_compression_is_detected_by_content_not_by_name(
    tmp_path: Path, compress: Callable[[bytes], bytes], name: str
) -> None:
    path = tmp_path / "app.log"  # a rotated file renamed without its .gz
    path.write_bytes(compress(TEXT))
    data, compression = read_source(path)
    assert compression == name
    assert data == TEXT


def test_a_plain_file_named_gz_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "app.log.gz"
    path.write_bytes(TEXT)
    assert read_source(path) == (TEXT, None)


@pytest.mark.skipif(HAS_ZSTD, reason="zstandard is installed")
def test_zstd_without_the_optional_package_is_one_clear_input_error(
    tmp_path: Path, catalog: Catalog
) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 32)
    report = analyze([str(path)], catalog, LITERAL)
    assert report.inputs[0].error is not None
    assert "zstandard" in report.inputs[0].error


def test_zstd_is_read_by_content_when_the_package_is_installed(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "app.log"
    path.write_bytes(zstandard.ZstdCompressor().compress(TEXT))
    assert read_source(path) == (TEXT, "zstd")


def test_folders_are_read_recursively_in_a_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a.log").write_text("x\n")
    (tmp_path / "b" / "c.log").write_text("x\n")
    (tmp_path / "b" / "deep" / "d.log.gz").write_bytes(gzip.compress(b"x\n"))
    sources, errors = expand_inputs([str(tmp_path)])
    assert errors == []
    assert [Path(s.name).relative_to(tmp_path).as_posix() for s in sources] == [
        "a.log",
        "b/c.log",
        "b/deep/d.log.gz",
    ]


def test_globs_expand_recursively_and_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "x" / "y").mkdir(parents=True)
    for name in ("x/app.log", "x/y/app.log", "x/y/app.txt"):
        (tmp_path / name).write_text("x\n")
    sources, errors = expand_inputs([f"{tmp_path}/**/*.log", str(tmp_path / "x" / "app.log"), "-"])
    assert errors == []
    names = [s.name for s in sources]
    assert names == [str(tmp_path / "x" / "app.log"), str(tmp_path / "x/y/app.log"), "-"]
    assert sources[-1].is_stdin


def test_a_missing_file_and_an_empty_glob_are_input_errors(tmp_path: Path) -> None:
    sources, errors = expand_inputs([str(tmp_path / "nope.log"), f"{tmp_path}/*.gz"])
    assert sources == []
    assert [(e.name, e.message) for e in errors] == [
        (str(tmp_path / "nope.log"), "no such file or directory"),
        (f"{tmp_path}/*.gz", "no files match this pattern"),
    ]


def test_unreadable_inputs_exit_2_while_the_others_are_still_analysed(
    tmp_path: Path, runner: CliRunner
) -> None:
    good = tmp_path / "good.log"
    good.write_text(STRIPE_DECLINE + "\n")
    missing, empty_glob = tmp_path / "missing.log", f"{tmp_path}/*.nothing"
    result = invoke(runner, str(missing), str(good), empty_glob, "--format", "json")
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    by_path = {i["path"]: i for i in report["inputs"]}
    assert by_path[str(missing)]["error"] == "no such file or directory"
    assert by_path[empty_glob]["error"] == "no files match this pattern"
    assert by_path[str(good)]["error"] is None
    assert by_path[str(good)]["lines"] == 1
    assert [f["rule_id"] for f in report["findings"]] == ["stripe.insufficient_funds"]


def test_an_unreadable_file_is_one_input_error(tmp_path: Path, catalog: Catalog) -> None:
    locked = tmp_path / "locked.log"
    locked.write_text(STRIPE_DECLINE + "\n")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who can read anything")
        report = analyze([str(locked)], catalog, LITERAL)
    finally:
        locked.chmod(0o644)
    assert report.inputs[0].error == "Permission denied"
    assert report.findings == ()


def test_stdin_is_read_with_a_dash(runner: CliRunner) -> None:
    result = invoke(runner, "-", "--format", "json", "--fail-on", "never", stdin=STRIPE_DECLINE)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["inputs"][0]["path"] == "-"
    assert report["inputs"][0]["lines"] == 1
    assert report["findings"][0]["rule_id"] == "stripe.insufficient_funds"
    assert report["findings"][0]["locations"] == [{"path": "-", "line": 1}]


def test_compressed_stdin_is_decompressed(runner: CliRunner) -> None:
    packed = gzip.compress((STRIPE_DECLINE + "\n").encode())
    result = invoke(runner, "-", "--format", "json", "--fail-on", "never", stdin=packed)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["inputs"][0]["compression"] == "gzip"
    assert report["findings"][0]["count"] == 1


# --- chunks ---------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000, 1 << 20])
def test_chunks_never_lose_or_duplicate_a_line(chunk_size: int) -> None:
    result = read_all(TEXT, chunk_size=chunk_size)
    assert result.data == TEXT
    assert all(chunk.data.endswith(b"\n") for chunk in result.chunks)
    assert dict(result.numbered()) == {n: line.encode() for n, line in enumerate(LINES, 1)}
    assert result.state.lines == len(LINES)
    assert result.state.bytes_read == len(TEXT)
    assert result.state.problems == []


def test_a_last_line_without_newline_is_still_a_line() -> None:
    result = read_all(b"one\ntwo", chunk_size=3)
    assert result.lines == [b"one", b"two"]
    assert result.state.lines == 2


def test_chunks_end_on_record_boundaries_so_a_stack_trace_stays_whole() -> None:
    trace = b"ERROR boom\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)\n"
    data = b"INFO start\n" + trace * 5
    for chunk_size in (12, 20, 40):
        for chunk in read_all(data, chunk_size=chunk_size).chunks:
            assert not chunk.data.startswith((b"\t", b" ")), chunk


def test_an_overlong_line_is_cut_and_reported_once() -> None:
    data = b"first\n" + b"x" * 100 + b"\nmiddle\n" + b"y" * 300 + b"\nlast\n"
    result = read_all(data, chunk_size=16, max_line=50)
    assert result.lines == [b"first", b"x" * 50, b"middle", b"y" * 50, b"last"]
    assert [(p.line, p.message) for p in result.state.problems] == [
        (2, "line longer than 50 bytes; analysed its first part")
    ]
    assert result.state.lines == 5


def test_an_overlong_line_ending_inside_a_later_read_is_still_cut() -> None:
    # The carried part grows past max_line only when the block that ends the line arrives.
    data = b"a\n" + b"z" * 90 + b"\nb\n"
    result = read_all(data, chunk_size=64, max_line=80)
    assert result.lines == [b"a", b"z" * 80, b"b"]
    assert [p.line for p in result.state.problems] == [2]


def test_an_overlong_line_is_cut_on_a_character_boundary() -> None:
    data = ("é" * 40 + "\n").encode()  # 80 bytes of two-byte characters
    result = read_all(data, chunk_size=16, max_line=51)
    assert result.lines == [("é" * 25).encode()]
    kinds = [p.message for p in result.state.problems]
    assert len(kinds) == 1 and "longer than" in kinds[0]  # and not "invalid UTF-8"


def test_indented_lines_alone_never_pass_for_an_overlong_line() -> None:
    # A chunk where every line looks like a continuation has no record boundary to cut at.
    data = b"x\n\ty\n\tz\n" * 10
    result = read_all(data, chunk_size=25, max_line=20)
    assert result.data == data
    assert result.state.problems == []


def test_a_9_mib_line_is_cut_at_8_mib_with_the_default_sizes() -> None:
    data = b"before\n" + b"q" * (9 << 20) + b"\nafter\n"
    result = read_all(data, chunk_size=4 << 20)
    assert [len(line) for line in result.lines] == [6, 8 << 20, 5]
    assert [(p.line, p.message) for p in result.state.problems] == [
        (2, "line longer than 8 MiB; analysed its first part")
    ]


def gzip_truncated(data: bytes) -> bytes:
    packed = gzip.compress(data)
    return packed[: len(packed) * 2 // 3]


def test_truncated_gzip_keeps_the_lines_before_the_damage_and_reports_once(
    tmp_path: Path,
) -> None:
    lines = [f"2026-03-01T03:00:00Z INFO line {i} {i * 7919 % 104729:x}" for i in range(20000)]
    path = tmp_path / "app.log.1.gz"
    path.write_bytes(gzip_truncated(("\n".join(lines) + "\n").encode()))
    stream, compression = open_source(Source(str(path)))
    state = ReadState()
    read = b"".join(c.data for c in read_chunks(stream, state))
    got = read.split(b"\n")[:-1]
    assert compression == "gzip"
    assert len(got) > 10000  # far more than nothing: the bytes before the damage count
    assert [g.decode() for g in got[:-1]] == lines[: len(got) - 1]
    assert lines[len(got) - 1].startswith(got[-1].decode())  # the line the damage cut
    assert len(state.problems) == 1
    assert state.problems[0].line == len(got)
    assert state.problems[0].message.startswith("compressed stream is truncated")


@pytest.mark.parametrize(
    "compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gzip", "bzip2", "xz"]
)
def test_corrupt_compressed_data_is_reported_once_never_raised(
    tmp_path: Path, catalog: Catalog, compress: Callable[[bytes], bytes]
) -> None:
    packed = bytearray(compress(TEXT * 5))
    for i in range(len(packed) // 2, len(packed) // 2 + 8):
        packed[i] ^= 0xFF
    path = tmp_path / "app.log"
    path.write_bytes(bytes(packed))
    report = analyze([str(path)], catalog, LITERAL)
    summary = report.inputs[0]
    assert summary.error is None
    assert len(summary.problems) == 1
    assert "compressed stream is" in summary.problems[0].message


def test_nul_bytes_are_reported_once_with_their_line() -> None:
    data = TEXT + b"x\x00y\n" + TEXT + b"\x00\x00\n"
    result = read_all(data, chunk_size=100)
    assert [(p.line, p.message) for p in result.state.problems] == [
        (201, "binary data (NUL bytes); they are ignored")
    ]
    assert result.state.lines == 402


def test_invalid_utf8_is_reported_once_with_its_line() -> None:
    data = TEXT + b"caf\xe9 latin-1\n" + TEXT + b"\xff\xfe\n"
    result = read_all(data, chunk_size=100)
    assert [(p.line, p.message) for p in result.state.problems] == [
        (201, "invalid UTF-8; undecodable bytes shown as \ufffd")
    ]


def test_damaged_text_decodes_without_raising() -> None:
    assert decode(b"caf\xe9 \x00ok\r") == "caf\ufffd ok"


# --- records --------------------------------------------------------------------------

JAVA = b"""2026-03-01 03:07:05.000  INFO 4821 --- [exec-1] c.e.shop.Checkout : start
2026-03-01 03:07:06.000 ERROR 4821 --- [exec-1] c.e.shop.AdyenClient : authorise failed
com.adyen.service.exception.ApiException: {"status":422,"errorCode":"101"}
\tat com.adyen.service.resource.Resource.request(Resource.java:84)
\tat com.example.shop.AdyenClient.authorise(AdyenClient.java:57)
Caused by: java.io.IOException: Server returned HTTP response code: 422
\tat sun.net.www.protocol.http.HttpURLConnection.getInputStream(HttpURLConnection.java:1900)
\t... 42 more
2026-03-01 03:07:07.000  INFO 4821 --- [exec-2] c.e.shop.Checkout : next
"""
PYTHON = b"""2026-03-01 03:08:00,120 INFO [checkout.views] start
2026-03-01 03:08:00,121 ERROR [checkout.views] charge failed for order ORD-779
Traceback (most recent call last):
  File "/srv/app/checkout/views.py", line 41, in pay
    stripe.PaymentIntent.confirm(intent_id)
stripe.error.CardError: Request req_8Hk2mQpLx0aZ3v: Your card has insufficient funds.
2026-03-01 03:08:01,000 INFO [checkout.views] next
"""


def spans_around(chunk: bytes, needle: bytes, first_line: int = 1) -> list[tuple[int, bytes]]:
    hit = chunk.index(needle)
    return [(s.line, chunk[s.start : s.end]) for s in record_spans(chunk, first_line, [hit])]


@pytest.mark.parametrize("needle", [b"authorise failed", b"errorCode", b"Caused by", b"42 more"])
def test_a_java_stack_trace_is_one_record_with_the_first_lines_number(needle: bytes) -> None:
    [(line, record)] = spans_around(JAVA, needle, first_line=10)
    assert line == 11
    assert record.startswith(b"2026-03-01 03:07:06.000 ERROR")
    assert record.endswith(b"\t... 42 more")
    assert b"Caused by: java.io.IOException" in record


@pytest.mark.parametrize("needle", [b"charge failed", b"Traceback", b"stripe.error.CardError"])
def test_a_python_traceback_is_one_record_with_the_first_lines_number(needle: bytes) -> None:
    [(line, record)] = spans_around(PYTHON, needle)
    assert line == 2
    assert record.startswith(b"2026-03-01 03:08:00,121 ERROR")
    assert record.endswith(b"insufficient funds.")


def test_hits_in_one_record_give_one_span_and_single_line_formats_do_not_join() -> None:
    hits = [JAVA.index(b"authorise failed"), JAVA.index(b"Caused by"), JAVA.index(b"next")]
    assert [s.line for s in record_spans(JAVA, 1, hits)] == [2, 9]
    single = list(record_spans(JAVA, 1, hits[:2], multiline=False))
    assert [s.line for s in single] == [2, 6]


def test_a_traceback_is_one_finding_at_its_first_line(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(PYTHON)
    report = analyze([str(path)], catalog, LITERAL)
    [finding] = report.findings
    assert finding.rule_id == "stripe.insufficient_funds"
    assert finding.count == 1
    assert finding.transactions == ("ORD-779",)
    assert finding.request_ids == ("req_8Hk2mQpLx0aZ3v",)
    assert [(loc.line) for loc in finding.locations] == [2]


def test_crlf_lines_are_read_like_lf_lines(tmp_path: Path, catalog: Catalog) -> None:
    crlf = tmp_path / "crlf.log"
    crlf.write_bytes(PYTHON.replace(b"\n", b"\r\n"))
    result = read_all(crlf.read_bytes(), chunk_size=50)
    assert result.state.lines == PYTHON.count(b"\n")
    report = analyze([str(crlf)], catalog, LITERAL)
    [finding] = report.findings
    assert finding.locations[0].line == 2
    assert "\r" not in finding.examples[0]
    assert finding.examples[0].endswith("insufficient funds.")


# --- formats --------------------------------------------------------------------------

FORMAT_SAMPLES = {
    "json": b'{"ts":"2026-03-01T03:00:00Z","level":"info","msg":"ok"}\n',
    "access": (
        b'203.0.113.9 - - [01/Mar/2026:03:00:16 +0000] "POST /checkout/pay HTTP/1.1" 200 750 '
        b'"-" "Mozilla/5.0" rt=0.079\n'
    ),
    "alb": (
        b"https 2026-03-01T04:05:11.123456Z app/shop/50dc6c495c0c9188 198.51.100.23:52113 "
        b"10.0.3.17:8080 0.001 0.052 0.000 200 200 1432 512 "
        b'"POST https://shop.example.com:443/checkout/pay HTTP/1.1" "Mozilla/5.0" -\n'
    ),
    "logfmt": b'ts=2026-03-01T03:00:00Z level=info msg="payment authorised" order=ORD-1\n',
    "text": b"2026-03-01 03:30:24,000 INFO [amazonpay.client] POST /v2/checkoutSessions ok\n",
}


@pytest.mark.parametrize(("expected", "line"), FORMAT_SAMPLES.items())
def test_each_log_shape_is_recognised_from_its_first_lines(expected: str, line: bytes) -> None:
    assert detect_format(line * 20) == expected


def test_a_few_odd_lines_do_not_change_the_shape() -> None:
    head = FORMAT_SAMPLES["json"] * 18 + b"Traceback (most recent call last):\n  File x\n"
    assert detect_format(head) == "json"
    assert detect_format(b"") == "text"
    assert detect_format(FORMAT_SAMPLES["json"] * 5 + FORMAT_SAMPLES["text"] * 5) == "text"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("checkout-api.jsonl", "json"),
        ("checkout-node.log", "json"),
        ("payments-service.log", "text"),
        ("paypal-worker.log", "text"),
        ("nginx-access.log", "access"),
        ("apache-access.log", "access"),
        ("alb-access.log", "alb"),
        ("adyen-bridge.logfmt", "logfmt"),
        ("amazon-mws.log.1.gz", "text"),
    ],
)
def test_every_sample_log_has_its_shape_detected(
    catalog: Catalog, name: str, expected: str
) -> None:
    report = analyze([str(SAMPLE_LOGS / name)], catalog, LITERAL)
    assert report.inputs[0].format == expected
    assert report.inputs[0].problems == ()


# --- properties -----------------------------------------------------------------------

LINE_BYTES = st.binary(max_size=40) | st.sampled_from(
    [b"", b" indented", b"\tat frame", b"Caused by: x", b"\r", b"\x00", b"\xff\xfe"]
)
DATA = st.lists(LINE_BYTES, max_size=40).map(b"\n".join) | st.binary(max_size=400)


@PROPERTY
@given(data=DATA, chunk_size=st.integers(1, 64))
def test_chunks_reproduce_every_line_exactly_once(data: bytes, chunk_size: int) -> None:
    result = read_all(data, chunk_size=chunk_size)
    assert result.lines == expected_lines(data)
    assert result.state.lines == len(expected_lines(data))
    assert result.state.bytes_read == len(data)
    numbers = [n for n, _ in result.numbered()]
    assert numbers == list(range(1, len(numbers) + 1))


@PROPERTY
@given(data=DATA, chunk_size=st.integers(1, 32), extra=st.integers(0, 32))
def test_cut_lines_are_bounded_and_every_line_keeps_its_place(
    data: bytes, chunk_size: int, extra: int
) -> None:
    max_line = chunk_size + extra  # chunks are never larger than max_line, as by default
    result = read_all(data, chunk_size=chunk_size, max_line=max_line)
    original = expected_lines(data)
    assert len(result.lines) == len(original)
    for got, line in zip(result.lines, original, strict=True):
        if len(line) <= max_line:
            assert got == line
        else:
            assert line.startswith(got) and max_line - 3 <= len(got) <= max_line
    overlong = [n for n, line in enumerate(original, 1) if len(line) > max_line]
    long_reports = [p.line for p in result.state.problems if "longer than" in p.message]
    assert long_reports == overlong[:1]


@PROPERTY
@given(
    st.lists(
        st.sampled_from(
            [b"ok line", b"caf\xe9 bad", b"worker \x00 crashed", b"\xc3", b"\xff\x00 core"]
        ),
        max_size=30,
    ),
    st.integers(1, 200),
)
def test_damage_is_reported_alike_whatever_the_chunk_size(lines: list[bytes], size: int) -> None:
    """Invalid UTF-8 on a line before the first NUL's is reported, and none on it or after
    it, whether the two are read in one chunk or apart."""
    data = b"".join(line + b"\n" for line in lines)
    problems = [(p.line, p.message) for p in read_all(data).state.problems]
    assert [(p.line, p.message) for p in read_all(data, chunk_size=size).state.problems] == problems
    first_nul = next((n for n, line in enumerate(lines, 1) if b"\x00" in line), None)
    first_bad = next(
        (n for n, line in enumerate(lines, 1) if b"\xe9" in line or line == b"\xc3"), None
    )
    expected = []
    if first_bad is not None and (first_nul is None or first_bad < first_nul):
        expected.append((first_bad, "invalid UTF-8"))
    if first_nul is not None:
        expected.append((first_nul, "binary data (NUL bytes)"))
    assert [(line, message.split(";")[0]) for line, message in problems] == expected


def test_the_command_keeps_freed_chunks_where_malloc_is_glibc() -> None:
    # Linux CI runs glibc with the C speedups built (.ci/run checks they are).
    expected = platform.libc_ver()[0] == "glibc" and speedups.usable()
    assert keep_freed_chunks() is expected
