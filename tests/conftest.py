"""Shared fixtures: the built-in catalog (loaded once) and a CLI runner."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from paydiag.catalog import Catalog, load_catalog

# CI (.ci/run sets CI) draws the same examples for each property test on every run, so the
# gate never fails at random; runs elsewhere draw new ones, which is how bugs are found.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent
SAMPLE_LOGS = ROOT / "sample_logs"


def pytest_configure(config: pytest.Config) -> None:
    """A cache folder of the run's own, set before test modules load catalogs, so the
    tests neither read the developer's cache nor leave entries in it."""
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="paydiag-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ["XDG_CACHE_HOME"], ignore_errors=True)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    result = load_catalog()
    assert not result.errors, "\n".join(map(str, result.errors))
    return result.catalog


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def generate_log(size: int, seed: int, path: Path) -> Path:
    """A realistic payment log from the benchmark generator (benchmarks/ is not a package)."""
    generator = ROOT / "benchmarks" / "generate_log.py"
    namespace: dict[str, object] = {}
    exec(compile(generator.read_text(), str(generator), "exec"), namespace)
    namespace["generate"](size, seed, path)  # type: ignore[operator]
    return path
