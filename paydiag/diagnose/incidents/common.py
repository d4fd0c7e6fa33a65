"""Small pieces every detector shares: capped ID samples, merging, wording of times.

Detectors see observations file by file, so time order is not guaranteed; they bucket by
minute (in the compact tables of `series`) and decide in `incidents()`, when everything has
been seen.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_GATEWAYS = 64
SAMPLE_IDS = 20  # transactions an incident lists

# Failures that say nothing definite about the payment: the gateway may have processed it.
INDETERMINATE_CATEGORIES = frozenset({"timeout", "gateway_outage"})
CONNECTION_RULES = frozenset(
    {
        "network.econnrefused",
        "network.econnreset",
        "network.curle_couldnt_connect",
        "network.eai_again",
    }
)
AUTH_CATEGORIES = frozenset({"auth_credentials", "auth_token", "signature"})


def add_capped(target: dict[K, None], values: Iterable[K], limit: int) -> None:
    """Insertion-ordered set that stops growing at `limit`."""
    for value in values:
        if len(target) >= limit:
            return
        target[value] = None


def add_counts(target: dict[K, int], counts: Mapping[K, int]) -> None:
    """Counter.update(counts) on a plain dict, for the hot paths: a Counter defines
    __delitem__ in Python, which sends every item it sets through a slow slot call (a
    dict takes half the time to add a minute's few dozen bucket counts)."""
    for key, count in counts.items():
        target[key] = target.get(key, 0) + count


def order_id(transaction_ids: tuple[str, ...]) -> str | None:
    """The order-level ID of an observation (the first one it carries)."""
    return transaction_ids[0] if transaction_ids else None


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def span_text(start: datetime, end: datetime) -> str:
    """The span as `14:20 to 14:32 UTC` (with dates when it crosses midnight)."""
    if start.date() != end.date():
        return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    return f"{hhmm(start)} to {hhmm(end)} UTC"


def minutes_between(start: datetime, end: datetime) -> int:
    """Whole minutes an incident lasted, at least 1."""
    return max(1, round((end - start).total_seconds() / 60))


def percent(value: float) -> str:
    return f"{value * 100:.0f}%" if value >= 0.1 else f"{value * 100:.1f}%"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def gateway_label(gateway: str | None) -> str:
    return gateway or "an unidentified gateway"


def median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def merge_keyed(
    target: dict[K, V], later: dict[K, V], limit: int, combine: Callable[[V, V], None]
) -> None:
    """Fold `later` into `target`: shared keys combined, new keys added while there is room."""
    for key, value in later.items():
        mine = target.get(key)
        if mine is None:
            if len(target) < limit:
                target[key] = value
        else:
            combine(mine, value)


def same_kind(detector: object, later: Any) -> None:
    """Detectors merge only with their own kind (the pipeline pairs them by position)."""
    if type(later) is not type(detector):
        raise TypeError(f"cannot merge {type(later).__name__} into {type(detector).__name__}")
