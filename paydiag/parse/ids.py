"""Transaction, order and request IDs: the handles support needs to find a payment.

Field names say what most IDs are; well-known shapes (Stripe prefixes, Amazon Pay
reference IDs) are recognised anywhere in the text; users add their own patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from paydiag import speedups

# Most specific first: the first ID an event carries is the transaction it counts for,
# so an order is counted once even when its PSP reference is logged beside it.
TRANSACTION_KEYS: tuple[str, ...] = (
    "orderid",
    "merchantorderid",
    "merchantreference",
    "orderreference",
    "orderreferenceid",
    "amazonorderreferenceid",
    "order",
    "cartid",
    "invoiceid",
    "checkoutsessionid",
    "paymentsessionid",
    "paymentintent",
    "paymentintentid",
    "paymentid",
    "chargepermissionid",
    "chargeid",
    "charge",
    "transactionid",
    "transid",
    "txnid",
    "txid",
    "pspreference",
    "originalreference",
    "authorizationid",
    "amazonauthorizationid",
    "captureid",
    "amazoncaptureid",
    "refundid",
    "amazonrefundid",
)
# In the order a record's request IDs are listed: a tuple, since a set's order changes with
# every process's string hashing, and with it the order of IDs in reports and tickets.
REQUEST_KEYS = (
    "requestid",
    "xrequestid",
    "debugid",
    "correlationid",
    "xcorrelationid",
    "traceid",
    "xamznrequestid",
    "paypaldebugid",
    "striperequestid",
)


@dataclass(frozen=True)
class _Shape:
    kind: str
    pattern: re.Pattern[str]
    # Every match holds a match of this one (in the lowercased text if `folded`): a search
    # far cheaper than the shape's for the many records that hold none.
    needs: re.Pattern[str] | None = None
    folded: bool = False


# All but the second write their leading boundary after the first character
# (`x(?<![\w-]x)` is `(?<![\w-])x`): a pattern that starts with a character lets the regex
# engine skip to it instead of trying the whole pattern at every position.
_BUILTIN_SHAPES: tuple[_Shape, ...] = (
    _Shape(
        "request",
        re.compile(r"(r(?<![\w-]r)eq_[A-Za-z0-9]{10,32})(?![\w-])"),
        re.compile("req_"),
    ),
    _Shape(
        "transaction",
        re.compile(r"(?<![\w-])((?:ch|pi|py|in|re|cs_live|cs_test)_[A-Za-z0-9]{10,64})(?![\w-])"),
        re.compile(r"_(?<=ch_|pi_|py_|in_|re_|cs_)"),
    ),
    _Shape(
        "transaction",
        re.compile(r"([SPBC](?<![\w-][SPBC])\d{2}-\d{7}-\d{7}(?:-[A-Z]\d{6})?)(?![\w-])"),
        re.compile(r"-\d{7}-"),  # a search from a literal: seven times cheaper than the class
    ),
    # "... failed for order 5O190127TN364715T": prose that names the order. Under IGNORECASE
    # the letters of "order" match only themselves in either case, so the first one needs no
    # flag and the lowercased text holds "order" and what follows it.
    _Shape(
        "transaction",
        re.compile(r"[oO](?<!\w[oO])(?i:rder(?: id)?[ #:]+([A-Za-z0-9][\w-]{4,40}\d[\w-]*))\b"),
        re.compile("order[ #:]"),
        folded=True,
    ),
)
_PLAUSIBLE_ID = re.compile(r"^[A-Za-z0-9][\w.:/-]{2,100}$")


@dataclass(frozen=True)
class IdPattern:
    """A user's own ID shape (config `id_patterns`): group 1, or the whole match, is the ID."""

    kind: str
    pattern: re.Pattern[str]


_TRANSACTION_RANK = {key: rank for rank, key in enumerate(TRANSACTION_KEYS)}
_REQUEST_RANK = {key: rank for rank, key in enumerate(REQUEST_KEYS)}


# Read-only by Final fields, not frozen (one is made per error record; see event.Event).
@dataclass(slots=True)
class Ids:
    transactions: Final[tuple[str, ...]]
    requests: Final[tuple[str, ...]]


# The C form of builtin_ids_in_python, for ASCII records, where it is built.
_native_builtin_ids = speedups.native("builtin_ids")


def extract_ids(
    text: str,
    fields: dict[str, list[object]],
    extra: Sequence[IdPattern] = (),
    *,
    lowered: str | None = None,
) -> Ids:
    """The IDs of a record; `lowered` is `text.lower()`, if the caller has it already."""
    found: _Found | None = None
    if _native_builtin_ids is not None:
        found = _native_builtin_ids(text, fields, _TRANSACTION_RANK, _REQUEST_RANK)
    transactions, requests = found or builtin_ids_in_python(text, fields, lowered)
    for own in extra:
        _add_matches(requests if own.kind == "request" else transactions, own.pattern, text)
    return Ids(tuple(transactions), tuple(requests))


# (transaction IDs, request IDs), each an ordered set: a dict of None.
_Found = tuple[dict[str, None], dict[str, None]]


def builtin_ids_in_python(
    text: str, fields: dict[str, list[object]], lowered: str | None = None
) -> _Found:
    """The IDs the fields and the built-in shapes name, by the regexes: the reference of the
    C form (which reads ASCII records, and leaves the rest to this)."""
    lowered = text.lower() if lowered is None else lowered
    transactions: dict[str, None] = {}
    requests: dict[str, None] = {}
    for key in sorted(_TRANSACTION_RANK.keys() & fields.keys(), key=_TRANSACTION_RANK.__getitem__):
        _add_plausible(transactions, fields[key])
    # Most records hold no request key: one set intersection says so.
    for key in sorted(_REQUEST_RANK.keys() & fields.keys(), key=_REQUEST_RANK.__getitem__):
        _add_plausible(requests, fields[key])
    for shape in _BUILTIN_SHAPES:
        if shape.needs is None or shape.needs.search(lowered if shape.folded else text):
            _add_matches(requests if shape.kind == "request" else transactions, shape.pattern, text)
    return transactions, requests


def _add_matches(target: dict[str, None], pattern: re.Pattern[str], text: str) -> None:
    for match in pattern.finditer(text):
        target[match.group(1) if pattern.groups else match.group(0)] = None


def _add_plausible(target: dict[str, None], values: Iterable[object]) -> None:
    for value in values:
        if isinstance(value, bool):
            continue
        text = str(value)
        if _PLAUSIBLE_ID.match(text):
            target[text] = None
