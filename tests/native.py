"""What the tests of paydiag's C forms share: each compares a C form with its Python
reference, on many drawn examples and on every line of the sample logs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from .conftest import SAMPLE_LOGS


def skip_unless_built(form: object) -> None:
    """Skip the calling test module where the C form is not built (.ci/run checks that CI
    builds it)."""
    if form is None:
        pytest.skip("paydiag._speedups is not built", allow_module_level=True)


def property_settings(examples: int = 3000) -> settings:
    """Many examples and no deadline: a C form is checked over its whole input space."""
    return settings(
        deadline=None, max_examples=examples, suppress_health_check=[HealthCheck.too_slow]
    )


def sample_log_lines() -> list[str]:
    """Every line of the sample logs that are not compressed."""
    lines = [
        line
        for path in sorted(SAMPLE_LOGS.iterdir())
        if path.suffix != ".gz"
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
    ]
    assert len(lines) > 100
    return lines
