"""The C forms behind latency creep agree with their Python references: the walk
(paydiag._speedups.creep_episodes), reading the histograms straight from LabelCounts pages,
finds exactly the episodes of LatencyDetector._episodes_walked over the minutes' dicts,
label count cells packed (encode_cells) are those of series.encoded_in_python, and coarser
ones (coarsen_cells) exactly series.relabelled(cells, label >> 1).

Minutes come with gaps (a quiet gateway, a log that stops), histograms drift and jump (a
slowdown of two to eight times), some minutes have no timed calls at all and some counts
take more than one cell; the pages also hold minutes the walk is not asked about (those
a MinuteTable let go at its caps). Thresholds and bucket coarseness are drawn too, so the
window, the baseline, flagged minutes kept out of it and episodes merged across gaps are
all exercised.
"""

from __future__ import annotations

from array import array
from dataclasses import replace
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydiag.analysis import analyze
from paydiag.catalog import Catalog
from paydiag.diagnose.incidents import latency, series
from paydiag.diagnose.incidents.latency import LatencyDetector, LatencyThresholds
from paydiag.diagnose.incidents.series import LabelCounts

if latency._creep_episodes is None:  # not built here: .ci/run checks that CI builds it
    pytest.skip("paydiag._speedups is not built", allow_module_level=True)

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs" / "outage-gateway.log"
PROPERTY = settings(deadline=None, max_examples=600, suppress_health_check=[HealthCheck.too_slow])


_COUNTS = st.one_of(st.integers(1, 9), st.just(140_000))  # and counts past one cell
_KEPT = st.integers(0, 9).map(bool)
_STEPS = st.sampled_from([1, 1, 1, 1, 1, 2, 3, 7, 70])
_DRIFTS = st.sampled_from([0, 0, 0, -1, 1, 20, -20, 45])
Drawn = tuple[int, "array[int]", list[dict[int, int]], LabelCounts[str]]


@st.composite
def minutes_and_histograms(draw: st.DrawFn) -> Drawn:
    """A level, the minutes asked about and their histograms, and the pages holding them."""
    level = draw(st.integers(0, 4))
    top = latency.MAX_LABEL >> level
    count = draw(st.integers(0, 240))
    minutes, histograms, pages = array("q"), [], LabelCounts[str]()
    minute, base = draw(st.integers(1_000_000, 2_000_000)), draw(st.integers(0, top))
    for _ in range(count):
        minute += draw(_STEPS)
        base = min(top, max(0, base + draw(_DRIFTS)))
        labels = draw(
            st.dictionaries(st.integers(max(0, base - 3), min(top, base + 3)), _COUNTS, max_size=5)
        )
        if labels:
            pages.add("gateway", minute, labels)
        if draw(_KEPT):  # else a minute the pages hold and the table let go
            minutes.append(minute)
            histograms.append(labels)
    return level, minutes, histograms, pages


THRESHOLDS = st.builds(
    LatencyThresholds,
    window_minutes=st.integers(1, 8),
    baseline_minutes=st.integers(1, 80),
    creep_factor=st.floats(1.0, 3.0),
    min_increase_ms=st.floats(0.0, 300.0),
    min_samples=st.integers(1, 30),
    min_creep_minutes=st.integers(1, 4),
    merge_gap_minutes=st.integers(0, 3),
)


@PROPERTY
@given(minutes_and_histograms(), THRESHOLDS)
def test_the_c_walk_finds_the_episodes_python_finds(
    drawn: Drawn, thresholds: LatencyThresholds
) -> None:
    level, minutes, histograms, pages = drawn
    detector = LatencyDetector(thresholds)
    detector._level, detector._histograms = level, pages
    expected = detector._episodes_walked(minutes, histograms)
    assert detector._episodes(minutes, "gateway") == expected
    with mock.patch.object(latency, "_creep_episodes", None):  # the pages read in Python
        assert detector._episodes(minutes, "gateway") == expected


def test_thresholds_past_64_bits_act_as_no_limit() -> None:
    minutes = array("q", range(100, 200))
    histograms = [{184: 20} if i < 80 else {209: 20} for i in range(100)]  # 350 ms, 1.2 s
    detector = LatencyDetector()
    huge = LatencyDetector(replace(LatencyThresholds(), baseline_minutes=10**30))
    for minute, counts in zip(minutes, histograms, strict=True):
        detector._histograms.add("gateway", minute, counts)
    huge._histograms = detector._histograms
    walked = huge._episodes_walked(minutes, histograms)
    assert huge._episodes(minutes, "gateway") == walked
    assert detector._episodes(minutes, "gateway")  # the jump at minute 180 is creep


def test_the_sample_outage_shows_the_same_creep_either_way(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_c = analyze([str(SAMPLE)], catalog).incidents
    monkeypatch.setattr(latency, "_creep_episodes", None)
    in_python = analyze([str(SAMPLE)], catalog).incidents
    assert "latency_creep" in {incident.kind for incident in in_c}
    assert in_c == in_python


_CELLS = array("I", [1 << 17 | 5, 2 << 17 | 5])  # minute 0 of its page: labels 1 and 2


@pytest.mark.parametrize(
    ("minutes", "pages", "error"),
    [
        (array("q", [1]), [(0, array("I", [2 << 17 | 1, 1 << 17 | 1]))], ValueError),  # unsorted
        (array("q", [64, 200]), [(1, _CELLS), (0, _CELLS)], ValueError),  # pages out of order
        (array("q", [5, 3]), [], ValueError),  # minutes out of order
        (array("q", [0]), [(0, array("I", [200 << 17 | 1]))], ValueError),  # label past values
        (array("q", [0]), [(0, array("i", [1]))], TypeError),  # cells not array('I')
        (array("q", [0]), [(0,)], TypeError),  # not a pair
        (array("q", [0]), [("0", _CELLS)], TypeError),
        (array("q", [0]), ((0, _CELLS),), TypeError),  # not a list
        (array("i", [1]), [], TypeError),  # minutes not 64-bit
    ],
)
def test_bad_input_raises_instead_of_crashing(
    minutes: array[int], pages: list[tuple[int, array[int]]], error: type[Exception]
) -> None:
    values = [1.0] * 100
    rules = (5, 60, 10, 2, 3, 2.0, 2.0, 200.0)
    with pytest.raises(error):
        latency._creep_episodes(minutes, pages, values, rules)


_PAGES = st.dictionaries(  # (minute offset in the page, label) -> count, past one cell's cap
    st.tuples(st.integers(0, 63), st.integers(0, latency.MAX_LABEL)),
    st.one_of(st.integers(1, 9), st.integers(131_000, 400_000)),
    max_size=60,
).map(lambda totals: {offset << 9 | label: n for (offset, label), n in totals.items()})


@PROPERTY
@given(_PAGES, st.integers(0, 600))
def test_cells_packed_in_c_are_the_cells_python_packs(keyed: dict[int, int], shift: int) -> None:
    assert series._encode(keyed) == series.encoded_in_python(keyed)
    # Keys given less a shift (latency's buckets, below their labels) pack as the keys.
    shifted = {key - shift: count for key, count in keyed.items()}
    assert series._encode(shifted, shift) == series.encoded_in_python(shifted, shift)
    assert series._encode(shifted, shift) == series._encode(keyed)


@PROPERTY
@given(_PAGES)
def test_coarser_cells_in_c_are_the_cells_python_relabels(keyed: dict[int, int]) -> None:
    cells = series.encoded_in_python(keyed)
    assert series.coarsened(cells) == series.relabelled(cells, lambda label: label >> 1)


@PROPERTY
@given(_PAGES)
def test_a_page_read_back_gives_the_minutes_packed(keyed: dict[int, int]) -> None:
    read = series.page_minutes(series.encoded_in_python(keyed))
    assert {o << 9 | label: n for o, counts in read for label, n in counts.items()} == keyed


def test_cells_refuse_what_is_no_page() -> None:
    with pytest.raises(ValueError, match="out of order"):
        series.coarsened(array("I", [2 << 17 | 1, 1 << 17 | 1]))
    with pytest.raises(TypeError):
        series.coarsened(array("i", [1]))
    no_cell = [({1 << 15: 1}, 0), ({-1: 1}, 0), ({1: -1}, 0), ({1: 1}, -2), ({1: 1}, 1 << 15)]
    for totals, shift in no_cell:  # in either form
        with pytest.raises(OverflowError):
            series._encode(totals, shift)
        with pytest.raises(OverflowError):
            series.encoded_in_python(totals, shift)
    with pytest.raises(OverflowError):  # no shift of a key that a cell holds
        series._encode({1: 1}, 1 << 40)
