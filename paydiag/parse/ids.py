"""Transaction, order and request IDs: the handles support needs to find a payment.

Field names say what most IDs are; well-known shapes (Stripe prefixes, Amazon Pay
reference IDs) are recognised anywhere in the text; users add their own patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
REQUEST_KEYS = frozenset(
    {
        "requestid",
        "xrequestid",
        "debugid",
        "correlationid",
        "xcorrelationid",
        "traceid",
        "xamznrequestid",
        "paypaldebugid",
        "striperequestid",
    }
)

_BUILTIN_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("request", re.compile(r"(?<![\w-])(req_[A-Za-z0-9]{10,32})(?![\w-])")),
    (
        "transaction",
        re.compile(r"(?<![\w-])((?:ch|pi|py|in|re|cs_live|cs_test)_[A-Za-z0-9]{10,64})(?![\w-])"),
    ),
    ("transaction", re.compile(r"(?<![\w-])([SPBC]\d{2}-\d{7}-\d{7}(?:-[A-Z]\d{6})?)(?![\w-])")),
    # "... failed for order 5O190127TN364715T": prose that names the order.
    ("transaction", re.compile(r"\border(?: id)?[ #:]+([A-Za-z0-9][\w-]{4,40}\d[\w-]*)\b", re.I)),
)
_PLAUSIBLE_ID = re.compile(r"^[A-Za-z0-9][\w.:/-]{2,100}$")


@dataclass(frozen=True)
class IdPattern:
    """A user's own ID shape (config `id_patterns`): group 1, or the whole match, is the ID."""

    kind: str
    pattern: re.Pattern[str]


_TRANSACTION_RANK = {key: rank for rank, key in enumerate(TRANSACTION_KEYS)}


@dataclass(frozen=True)
class Ids:
    transactions: tuple[str, ...]
    requests: tuple[str, ...]


def extract_ids(text: str, fields: dict[str, list[object]], extra: Sequence[IdPattern] = ()) -> Ids:
    transactions: dict[str, None] = {}
    requests: dict[str, None] = {}
    for key in sorted(_TRANSACTION_RANK.keys() & fields.keys(), key=_TRANSACTION_RANK.__getitem__):
        transactions.update(dict.fromkeys(_plausible(fields[key])))
    for key in REQUEST_KEYS & fields.keys():
        requests.update(dict.fromkeys(_plausible(fields[key])))
    shapes = [*_BUILTIN_SHAPES, *((p.kind, p.pattern) for p in extra)]
    for kind, pattern in shapes:
        target = requests if kind == "request" else transactions
        for match in pattern.finditer(text):
            target[match.group(1) if pattern.groups else match.group(0)] = None
    return Ids(tuple(transactions), tuple(requests))


def _plausible(values: Iterable[object]) -> Iterable[str]:
    for value in values:
        if isinstance(value, bool):
            continue
        text = str(value)
        if _PLAUSIBLE_ID.match(text):
            yield text
