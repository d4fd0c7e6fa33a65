"""Shared fixtures: the built-in catalog (loaded once) and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paydiag.catalog import Catalog, load_catalog

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent
SAMPLE_LOGS = ROOT / "sample_logs"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    result = load_catalog()
    assert not result.errors, "\n".join(map(str, result.errors))
    return result.catalog


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
