"""Both candidate scanners give the same report: Hyperscan only makes it faster."""

from __future__ import annotations

from pathlib import Path

import pytest

from paydiag.analysis import AnalyzeOptions, analyze
from paydiag.catalog import Catalog
from paydiag.match.scanners import available_engines

from .conftest import SAMPLE_LOGS, generate_log

pytestmark = pytest.mark.skipif(
    "hyperscan" not in available_engines(), reason="the fast extra (hyperscan) is not installed"
)


def _without_engine(catalog: Catalog, inputs: list[str], engine: str) -> dict[str, object]:
    report = analyze(inputs, catalog, AnalyzeOptions(engine=engine)).to_dict()
    assert report.pop("engine") == engine
    return report


@pytest.mark.parametrize("log", sorted(p.name for p in SAMPLE_LOGS.iterdir()))
def test_engines_agree_on_every_sample_log(catalog: Catalog, log: str) -> None:
    inputs = [str(SAMPLE_LOGS / log)]
    assert _without_engine(catalog, inputs, "literal") == _without_engine(
        catalog, inputs, "hyperscan"
    )


def test_engines_agree_on_a_generated_log(catalog: Catalog, tmp_path: Path) -> None:
    log = generate_log(3 << 20, 11, tmp_path / "generated.log")
    literal = _without_engine(catalog, [str(log)], "literal")
    assert literal["findings"]
    assert literal == _without_engine(catalog, [str(log)], "hyperscan")
