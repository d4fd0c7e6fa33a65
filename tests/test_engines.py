"""Every engine gives the same report: Hyperscan and the C speedups only make it faster.

Three ways to run: Hyperscan with the C speedups (every accelerator), the literal
prefilter with them, and the literal prefilter in pure Python (PAYDIAG_NO_SPEEDUPS=1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paydiag.analysis import AnalyzeOptions, analyze
from paydiag.catalog import Catalog
from paydiag.match.scanners import available_engines
from paydiag.speedups import NO_SPEEDUPS_VARIABLE

from .conftest import SAMPLE_LOGS, generate_log

pytestmark = pytest.mark.skipif(
    "hyperscan" not in available_engines(), reason="the fast extra (hyperscan) is not installed"
)


def _without_engine(
    catalog: Catalog, inputs: list[str], engine: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    """The report of `engine` (`pure`: the literal one without the C speedups)."""
    with monkeypatch.context() as patch:
        if engine == "pure":
            patch.setenv(NO_SPEEDUPS_VARIABLE, "1")
        scanner = "literal" if engine == "pure" else engine
        report = analyze(inputs, catalog, AnalyzeOptions(engine=scanner)).to_dict()
    assert report.pop("engine") == scanner
    return report


def _all_agree(
    catalog: Catalog, inputs: list[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    reports = [
        _without_engine(catalog, inputs, engine, monkeypatch)
        for engine in ("hyperscan", "literal", "pure")
    ]
    assert reports[1] == reports[0]
    assert reports[2] == reports[0]
    return reports[0]


@pytest.mark.parametrize("log", sorted(p.name for p in SAMPLE_LOGS.iterdir()))
def test_engines_agree_on_every_sample_log(
    catalog: Catalog, log: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _all_agree(catalog, [str(SAMPLE_LOGS / log)], monkeypatch)


def test_engines_agree_on_a_generated_log(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = generate_log(3 << 20, 11, tmp_path / "generated.log")
    report = _all_agree(catalog, [str(log)], monkeypatch)
    assert report["findings"] and report["incidents"]
