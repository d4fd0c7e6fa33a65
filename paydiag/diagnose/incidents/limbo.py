"""Orders in limbo and duplicate charges: what became of each order.

One map of orders (by their order-level ID, the first ID an observation carries) answers
both questions. An order is in limbo when it started (created or authorised, or a call for
it timed out) and reached no final state (captured, declined, cancelled, refunded, failed)
within `limbo_after_minutes`; a timeout or 5xx is not final, because the gateway may have
processed the payment. An order is charged twice when it has successful charges with more
than one charge ID.

Orders only ever "created" are abandoned checkouts, not limbo, unless asked for; orders
only ever authorised count only for a gateway whose logs show captures at all (otherwise
authorisation is simply the last step those logs record).

Memory is bounded by `max_orders`. Beyond it the detector keeps a sample: the orders whose
ID hashes to a value with its low `level` bits zero (1 in 2, then 1 in 4 ...). Which orders
are kept depends only on the set of IDs, not on the order they arrive in, so a run split
over processes (`analyze --jobs`) finds the same incidents as one; the incident says when
it was sampled.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import cast

from paydiag.diagnose.incidents.common import (
    SAMPLE_IDS,
    gateway_label,
    latest,
    plural,
    same_kind,
    span_text,
)
from paydiag.diagnose.incidents.model import (
    ChunkObservations,
    Detector,
    Incident,
    Observation,
    RowsWanted,
)
from paydiag.diagnose.incidents.outage import is_outage_failure
from paydiag.diagnose.incidents.series import MICROS_PER_MINUTE, id_hash, instant, moment_of
from paydiag.diagnose.incidents.thresholds import at_least, check

FINAL_STAGES = frozenset({"captured", "declined", "cancelled", "refunded", "failed"})
STARTED_STAGES = ("created", "authorized")  # later ones last
_STARTED_RANK: dict[str | None, int] = {stage: rank for rank, stage in enumerate(STARTED_STAGES)}
_MAX_CHARGES = 8
_ID_PREFIX = re.compile(r"([A-Za-z]{1,8})_")


@dataclass(frozen=True)
class LimboThresholds:
    """When orders are in limbo or charged twice. Defaults in brackets.

    limbo_after_minutes: an order with no final state this long after it started, by the
        latest time in the logs, is in limbo [30].
    include_created_only: also count orders that were only ever created (usually abandoned
        checkouts) [false].
    min_limbo_orders: orders in limbo a gateway needs before it is reported [1].
    min_duplicate_orders: orders charged more than once before it is reported [1].
    max_orders: orders tracked at once, about 0.4 KB each; beyond it a sample is kept
        [20000].
    """

    enabled: bool = True
    limbo_after_minutes: int = field(default=30, metadata=at_least(1))
    include_created_only: bool = False
    min_limbo_orders: int = field(default=1, metadata=at_least(1))
    min_duplicate_orders: int = field(default=1, metadata=at_least(1))
    max_orders: int = field(default=20_000, metadata=at_least(100))

    def __post_init__(self) -> None:
        check(self, "incidents.limbo")


class _Order:
    __slots__ = (
        "_charges",
        "final",
        "first",
        "gateway",
        "hashed",
        "last",
        "started",
        "unsure",
    )

    def __init__(self, when: int, hashed: int, gateway: str | None, stage: str | None) -> None:
        """The order as its first line shows it (most orders have one line a detector reads)."""
        # Times are instants (series.instant()): an order is stepped for every line naming
        # it, and making a datetime per line cost more than the rest of the step.
        self.first = when
        # Its ID's id_hash(), kept because every rise of the sampling level asks again for
        # each order held (hashing them all again cost more than a tenth of the detector).
        self.hashed = hashed
        self.last = when
        self.gateway = gateway
        # The furthest start stage seen.
        self.started = stage if stage in _STARTED_RANK else None
        self.unsure = False  # a call for it timed out or hit a 5xx
        self.final: str | None = None
        # (charge ID or "@source" for charges logged without one, time) per charge seen: a
        # tuple, not a dict of lists, as most orders have one charge and there are many orders.
        self._charges: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_row(cls, row: _OrderRow) -> _Order:
        """The order whose `__slots__` values `row` holds, in their order (`_order_row`)."""
        order = cls.__new__(cls)
        (
            order._charges,
            order.final,
            order.first,
            order.gateway,
            order.hashed,
            order.last,
            order.started,
            order.unsure,
        ) = row
        return order

    @property
    def charges(self) -> dict[str, list[int]]:
        """Charge ID (or "@source") -> the times it was seen."""
        found: dict[str, list[int]] = {}
        for key, when in self._charges:
            found.setdefault(key, []).append(when)
        return found

    def charge(self, ids: tuple[str, ...], source: str, when: int) -> None:
        """A successful charge carrying `ids` (charge or payment IDs beyond the order's)."""
        if not self._charges:  # the first: most orders have one, and nothing to look up
            self._charges = ((ids[0] if ids else f"@{source}", when),)
            return
        seen = self.charges
        # A line naming a charge already seen under one of its IDs is that charge again.
        key = next((i for i in ids if i in seen), ids[0] if ids else f"@{source}")
        times = seen.get(key)
        if times is None and len(seen) >= _MAX_CHARGES:
            return
        if times is None or len(times) < _MAX_CHARGES:
            self._charges += ((key, when),)

    def merge(self, later: _Order) -> None:
        self.first = min(self.first, later.first)
        self.last = max(self.last, later.last)
        self.gateway = self.gateway or later.gateway
        self.start(later.started)
        self.unsure = self.unsure or later.unsure
        if later.final is not None and self.final in (None, "failed"):
            self.final = later.final
        for key, when in later._charges:
            self.charge((key,), "", when)

    def charged_twice(self) -> bool:
        if len(self._charges) < 2:  # the common case, decided without sorting anything
            return False
        charges = self.charges
        if len(charges) == 1:
            key, times = next(iter(charges.items()))
            return key.startswith("@") and len(times) > 1
        return len(self.charge_times()) > 1

    def start(self, stage: str | None) -> None:
        """Note `stage` if it is a start stage beyond the furthest seen."""
        rank = _STARTED_RANK.get(stage)
        if rank is not None and (self.started is None or rank > _STARTED_RANK[self.started]):
            self.started = stage

    def charge_times(self) -> list[int]:
        """One time per distinct charge (the first time each was seen)."""
        charges = self.charges
        if not charges:
            return []
        by_kind: dict[str, list[int]] = {}
        for key, times in charges.items():
            if not key.startswith("@"):
                by_kind.setdefault(id_kind(key), []).append(min(times))
        if by_kind:
            # pi_A and ch_B may be one payment; pi_A and pi_B are two.
            distinct: list[int] = max(by_kind.values(), key=len)
            return sorted(distinct)
        # Without charge IDs, each source logs each charge once: the busiest source counts.
        busiest: list[int] = max(charges.values(), key=len)
        return sorted(busiest)


# An order's __slots__ values, in their order: what it is pickled as (see OrderDetector).
_OrderRow = tuple[
    tuple[tuple[str, int], ...], str | None, int, str | None, int, int, str | None, bool
]
_order_row: Callable[[_Order], _OrderRow] = attrgetter(*_Order.__slots__)


def id_kind(identifier: str) -> str:
    """The family of an ID: its prefix (`pi`, `ch`, `py`) or "other"."""
    match = _ID_PREFIX.match(identifier)
    return match.group(1).lower() if match else "other"


class OrderDetector:
    name = "orders"

    def __init__(self, thresholds: LimboThresholds | None = None) -> None:
        self.thresholds = thresholds or LimboThresholds()
        self._orders: dict[str, _Order] = {}
        self._latest: datetime | None = None
        self._level = 0  # the orders kept are 1 in 2**level (all of them at level 0)
        self._mask = 0  # the low bits an order ID's hash has zero to be in the sample
        self._captures: Counter[str | None] = Counter()  # per gateway

    # Every worker pickles its detector to be merged. Pickled one object at a time, 12,000
    # orders took 37 ms to write and 20 ms to read (the generic path for slots); as rows
    # of their values, 12 ms and 10 ms.
    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        orders = self._orders
        state["_orders"] = (list(orders), list(map(_order_row, orders.values())))
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        keys, rows = cast(tuple[list[str], list[_OrderRow]], state.pop("_orders"))
        self.__dict__.update(state)
        self._orders = dict(zip(keys, map(_Order.from_row, rows), strict=True))

    def observe(self, observation: Observation) -> None:
        when = observation.time
        self._latest = latest(self._latest, when)
        if observation.stage == "captured" and not observation.failed:
            self._captures[observation.gateway] += 1
        self._track(observation)

    def rows_wanted(self) -> RowsWanted:
        return RowsWanted(order_mask=self._mask)

    def observe_chunk(self, chunk: ChunkObservations) -> None:
        batch = chunk.activity
        for _offset, failure in chunk.failures:
            self._latest = latest(self._latest, failure.time)
        if (batch_latest := batch.latest()) is not None:
            self._latest = latest(self._latest, batch_latest)
        for group in batch.minutes.values():
            self._captures[group.gateway] += group.captures
        # Only rows of sampled orders are tracked; every order kept is sampled, and the
        # sample only shrinks, so the rows sampled now hold all this chunk will track
        # (_follow() asks again). The batch kept the rows of the sample as it stood
        # (rows_wanted) and those other detectors read: the others are left out here.
        mask, ids_of, hashes = self._mask, batch.transaction_ids, batch.id_hashes
        if mask:  # by the rows' id_hash(), computed with the batch (0 for a row without IDs)
            sampled = [
                row for row, hashed in enumerate(hashes) if not hashed & mask and ids_of[row]
            ]
        else:  # everything is: no call per row to say so
            sampled = [row for row, ids in enumerate(ids_of) if ids]
        # In log order, since an order's state depends on what came first. Activity rows
        # are read from the batch's columns, not made into Observations.
        source, follow = batch.source, self._follow
        minutes, micros, gateways, stages = (
            batch.minute_keys,
            batch.micros,
            batch.gateways,
            batch.stages,
        )
        for item in chunk.merged(sampled):
            if isinstance(item, int):
                when = minutes[item] * MICROS_PER_MINUTE + micros[item]  # series.instant()
                follow(
                    ids_of[item], when, gateways[item], stages[item], False, source, hashes[item]
                )
            else:
                self._track(item)

    def _track(self, observation: Observation) -> None:
        self._follow(
            observation.transaction_ids,
            instant(observation.time),
            observation.gateway,
            observation.stage,
            observation.failed,
            observation.source,
            unsure=is_outage_failure(observation),
        )

    def _follow(
        self,
        ids: tuple[str, ...],
        when: int,
        gateway: str | None,
        stage: str | None,
        failed: bool,
        source: str,
        hashed: int | None = None,
        unsure: bool = False,
    ) -> None:
        """One step of the order `ids` names first (`hashed`: its id_hash(), if known;
        `unsure`: its fate is unknown)."""
        if not ids:
            return
        # Runs for every line of a sampled order: comparisons, not min()/max().
        key = ids[0]
        order = self._orders.get(key)
        if order is None:
            hashed = id_hash(key) if hashed is None else hashed
            if hashed & self._mask:  # not in the sample
                return
            order = self._orders[key] = _Order(when, hashed, gateway, stage)
            if len(self._orders) > self.thresholds.max_orders:
                self._keep_bounded()
        else:
            if when < order.first:
                order.first = when
            elif when > order.last:
                order.last = when
            if not order.gateway:
                order.gateway = gateway
            order.start(stage)
        if unsure:
            order.unsure = True
        elif stage in FINAL_STAGES and (order.final is None or stage != "failed"):
            order.final = stage
        if stage == "captured" and not failed:
            order.charge(ids[1:], source, when)

    def shift_lines(self, lines: int) -> None:
        """No line numbers are held."""

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, OrderDetector)
        self._latest = latest(self._latest, later._latest)
        self._captures.update(later._captures)
        self._raise_level(max(self._level, later._level))
        for key, order in later._orders.items():
            mine = self._orders.get(key)
            if mine is not None:
                mine.merge(order)
            elif not order.hashed & self._mask:
                self._orders[key] = order
        self._keep_bounded()

    def _keep_bounded(self) -> None:
        if len(self._orders) > self.thresholds.max_orders:
            level = self._level
            while len(self._orders) > self.thresholds.max_orders:
                level += 1
                self._raise_level(level)

    def _raise_level(self, level: int) -> None:
        if level > self._level:
            self._level = level
            self._mask = mask = (1 << level) - 1
            self._orders = {k: o for k, o in self._orders.items() if not o.hashed & mask}

    def incidents(self) -> list[Incident]:
        if self._latest is None:
            return []
        limbo: defaultdict[str | None, list[tuple[str, _Order]]] = defaultdict(list)
        twice: defaultdict[str | None, list[tuple[str, _Order]]] = defaultdict(list)
        cutoff = instant(self._latest) - self.thresholds.limbo_after_minutes * MICROS_PER_MINUTE
        for key, order in self._orders.items():
            if self._in_limbo(order, cutoff):
                limbo[order.gateway].append((key, order))
            if order.charged_twice():
                twice[order.gateway].append((key, order))
        found = [
            _limbo(gateway, orders, self._latest, self.thresholds, 1 << self._level)
            for gateway, orders in limbo.items()
            if len(orders) >= self.thresholds.min_limbo_orders
        ]
        found.extend(
            _duplicates(gateway, orders, 1 << self._level)
            for gateway, orders in twice.items()
            if len(orders) >= self.thresholds.min_duplicate_orders
        )
        return found

    def _in_limbo(self, order: _Order, cutoff: int) -> bool:
        if order.final is not None or order.first > cutoff:
            return False
        return (
            order.unsure
            or (order.started == "authorized" and self._captures[order.gateway] > 0)
            or (order.started == "created" and self.thresholds.include_created_only)
        )


def _limbo(
    gateway: str | None,
    orders: list[tuple[str, _Order]],
    latest: datetime,
    thresholds: LimboThresholds,
    sampled_one_in: int,
) -> Incident:
    orders.sort(key=lambda item: item[1].first)
    name = gateway_label(gateway)
    start = moment_of(orders[0][1].first)
    end = moment_of(max(order.last for _, order in orders))
    unsure = sum(1 for _, order in orders if order.unsure)
    authorised = sum(1 for _, order in orders if order.started == "authorized")
    count = len(orders)
    figures: dict[str, float | int | str] = {
        "orders_in_limbo": count,
        "after_timeout_or_gateway_error": unsure,
        "authorized_not_captured": authorised,
        "oldest_open_minutes": round((latest - start).total_seconds() / 60),
        "limbo_after_minutes": thresholds.limbo_after_minutes,
    }
    figures.update(_sample_figures(count, sampled_one_in, "orders_in_limbo"))
    details = []
    if unsure:
        details.append(
            f"{unsure:,} left open after a timeout or gateway error: whether they were charged "
            "is only known at the gateway"
        )
    if authorised:
        details.append(f"{authorised:,} authorised but never captured or voided")
    last_start = moment_of(orders[-1][1].first)
    summary = (
        f"{plural(count, 'order')} of {name} started between {start:%H:%M:%S} and "
        f"{last_start:%H:%M:%S} UTC but reached no final state (captured, declined, "
        f"cancelled) within {thresholds.limbo_after_minutes} minutes"
        + (": " + "; ".join(details) if details else "")
        + "."
        + _sample_note(sampled_one_in)
    )
    causes = []
    if unsure:
        causes.append(
            "A timeout or 5xx left the result unknown and nothing followed up: the payment may "
            "have gone through at the gateway."
        )
    causes.append(
        "The webhooks that would have settled these orders were not received or not processed "
        "(endpoint down, signature failures, a queue backlog)."
    )
    if authorised:
        causes.append(
            "Authorisations wait for a capture that never ran (a fulfilment job failed, a manual "
            "capture was forgotten); they expire after a few days and the money is released."
        )
    causes.append(
        "The customer left during a 3-D Secure or redirect step and the order was never cancelled."
    )
    fixes = (
        "Look up each order at the gateway (API or dashboard) before anything else: it may be "
        "paid.",
        "Reconcile: mark paid orders paid and fulfil them; cancel or void the rest so stock and "
        "authorisations are released.",
        "Capture or void open authorisations before they expire (about 7 days for most cards).",
        "Check the webhook endpoint's delivery log at the gateway for failed deliveries in this "
        "window, and replay them.",
        f"Add a reconciliation job: any order pending for more than "
        f"{thresholds.limbo_after_minutes} minutes is looked up at the gateway automatically.",
        "Retry a payment only with its original idempotency key, so a retry cannot charge twice.",
    )
    severity = "critical" if count >= 50 else "high" if count >= 5 or authorised else "medium"
    return Incident(
        kind="orders_in_limbo",
        gateway=gateway,
        start=start,
        end=end,
        severity=severity,
        title=f"Orders in limbo: {plural(count, 'order')} of {name} never reached a final "
        f"state, {span_text(start, end)}",
        summary=summary,
        fault="merchant_integration",
        figures=figures,
        transactions=tuple(key for key, _ in orders[:SAMPLE_IDS]),
        causes=tuple(causes),
        fixes=fixes,
    )


def _sample_figures(count: int, sampled_one_in: int, name: str) -> dict[str, float | int | str]:
    if sampled_one_in == 1:
        return {}
    return {"sampled_one_order_in": sampled_one_in, f"estimated_{name}": count * sampled_one_in}


def _sample_note(sampled_one_in: int) -> str:
    if sampled_one_in == 1:
        return ""
    return (
        f" Counted on a sample of 1 in {sampled_one_in:,} orders: the logs hold more orders "
        "than incidents.limbo.max_orders."
    )


def _duplicates(
    gateway: str | None, orders: list[tuple[str, _Order]], sampled_one_in: int
) -> Incident:
    times = {key: order.charge_times() for key, order in orders}
    orders.sort(key=lambda item: times[item[0]][1])
    name = gateway_label(gateway)
    start = moment_of(times[orders[0][0]][1])
    end = moment_of(max(times[key][-1] for key, _ in orders))
    extra = sum(len(times[key]) - 1 for key, _ in orders)
    count = len(orders)
    listed = "; ".join(
        f"{key}: {', '.join(k for k in order.charges if not k.startswith('@'))}"
        for key, order in orders[:5]
    )
    figures: dict[str, float | int | str] = {
        "orders_charged_more_than_once": count,
        "extra_charges": extra,
    }
    if listed.strip("; :"):
        figures["charges"] = listed
    figures.update(_sample_figures(count, sampled_one_in, "orders_charged_more_than_once"))
    summary = (
        f"{plural(count, 'order')} of {name} had more than one successful charge "
        f"({plural(extra, 'extra charge')}), the second from {start:%H:%M:%S} UTC: customers "
        "paid twice for one order." + _sample_note(sampled_one_in)
    )
    return Incident(
        kind="duplicate_charge",
        gateway=gateway,
        start=start,
        end=end,
        severity="critical" if count >= 3 else "high",
        title=f"Duplicate charges: {plural(count, 'order')} of {name} charged more than once, "
        f"{span_text(start, end)}",
        summary=summary,
        fault="merchant_integration",
        figures=figures,
        transactions=tuple(key for key, _ in orders[:SAMPLE_IDS]),
        causes=(
            "A retry after a timeout or 5xx created a new payment while the first had gone "
            "through: no idempotency key, or a new key for each retry.",
            "The customer pressed pay twice or reloaded the payment page, and checkout created a "
            "second payment for the same order.",
            "A webhook or queue message was processed twice and charged again.",
        ),
        fixes=(
            "Refund the extra charges now (the orders are listed), before customers dispute "
            "them: a chargeback costs more than a refund.",
            "Send an idempotency key derived from the order with every create or charge call "
            "(Stripe and Adyen `Idempotency-Key`, PayPal `PayPal-Request-Id`) and reuse it on "
            "every retry.",
            "After a timeout, look the payment up by order before creating a new one.",
            "Disable the pay button after the first click and make the order's payment step "
            "idempotent on your side.",
            "Deduplicate webhook events by their event ID before acting on them.",
        ),
    )
