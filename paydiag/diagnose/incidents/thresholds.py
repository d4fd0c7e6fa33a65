"""Checking detector thresholds: one clear message per bad value, whoever built them.

Every detector's thresholds are a frozen dataclass whose fields have defaults; each field's
type is the type of its default, and its bounds sit in the field metadata (`at_least`,
`share`). `check()` runs in `__post_init__`, so thresholds built in code and thresholds read
from a config file (`IncidentSettings.from_mapping`) are validated the same way.
"""

from __future__ import annotations

from dataclasses import Field, fields
from typing import Any

_BOUNDS = "bounds"


def at_least(minimum: float) -> dict[str, Any]:
    """Field metadata: the value must be >= minimum."""
    return {_BOUNDS: (minimum, None)}


def share() -> dict[str, Any]:
    """Field metadata: a fraction between 0 and 1."""
    return {_BOUNDS: (0.0, 1.0)}


def check(instance: Any, section: str) -> None:
    """Validate (and normalise: ints to floats, lists to tuples) every field of `instance`.

    Raises ValueError naming the setting, e.g. `incidents.outage.window_minutes: must be
    at least 1, got 0`.
    """
    for item in fields(instance):
        where = f"{section}.{item.name}"
        value = _typed(item, getattr(instance, item.name), where)
        low, high = item.metadata.get(_BOUNDS, (None, None))
        if low is not None and value < low:
            raise ValueError(f"{where}: must be at least {low:g}, got {value!r}")
        if high is not None and value > high:
            raise ValueError(f"{where}: must be at most {high:g}, got {value!r}")
        object.__setattr__(instance, item.name, value)


def _typed(item: Field[Any], value: Any, where: str) -> Any:
    default = item.default
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected a whole number, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    return value


def field_names(cls: Any) -> tuple[str, ...]:
    return tuple(item.name for item in fields(cls))
