"""A record parsed into an Event: the typed facts the later stages work with."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final

from paydiag import speedups
from paydiag.parse.fields import collect_fields
from paydiag.parse.ids import IdPattern, extract_ids
from paydiag.parse.timestamps import find_timestamp, parse_timestamp

TIME_KEYS = ("timestamp", "ts", "time", "datetime", "loggedat", "eventtime", "date")
LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "levelname")
STATUS_KEYS = (
    "status",
    "statuscode",
    "httpstatus",
    "httpstatuscode",
    "responsestatus",
    "upstreamstatus",
    "targetstatuscode",
    "elbstatuscode",
)
DURATION_MS_KEYS = ("durationms", "latencyms", "elapsedms", "tookms", "responsetimems")
DURATION_S_KEYS = ("requesttime", "rt", "upstreamresponsetime", "duration", "elapsed")
# A number after a duration key that is negative, not finite or longer than this (11.6
# days) is no duration: a misread field, whose sums and logarithms would overflow.
MAX_DURATION_MS = 1e9
# Durations are counted in log-scale buckets this wide (5%), from this many milliseconds.
BUCKET_STEP = math.log(1.05)
BUCKET_FLOOR_MS = 0.1
CURRENCY_KEYS = ("currency", "currencycode")
AMOUNT_KEYS = ("amount", "value", "chargeamount", "totalamount")
METHOD_KEYS = (
    "paymentmethodtype",
    "paymentmethodtypes",
    "paymentmethod",
    "brand",
    "cardbrand",
    "cardtype",
    "fundingsource",
    "methodtype",
)

_LEVEL_WORDS = (
    "TRACE DEBUG INFO NOTICE WARN(?:ING)? ERROR ERR FATAL CRIT(?:ICAL)? SEVERE ALERT EMERG"
)
# \bERROR\b, each word's leading boundary written after its first letter (see
# _HTTP_STATUS_TEXT below): three times cheaper, on every error record.
_LEVEL_WORD = re.compile(
    "("
    + "|".join(rf"{word[0]}(?<!\w{word[0]}){word[1:]}" for word in _LEVEL_WORDS.split())
    + r")\b"
)
_LEVELS = {
    "trace": "debug",
    "debug": "debug",
    "info": "info",
    "notice": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "err": "error",
    "fatal": "fatal",
    "crit": "fatal",
    "critical": "fatal",
    "severe": "error",
    "alert": "fatal",
    "emerg": "fatal",
    "10": "debug",
    "20": "debug",
    "30": "info",
    "40": "warn",
    "50": "error",
    "60": "fatal",
}
_ACCESS = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "[A-Z]+ ([^ "]+)[^"]*" (\d{3}) ')
_ALB_SECONDS = r"(-?\d+(?:\.\d+)?)"
_ALB = re.compile(
    r"^(?:https?|h2|wss?|grpcs?) \S+ \S+ \S+ \S+ "
    rf"{_ALB_SECONDS} {_ALB_SECONDS} {_ALB_SECONDS} (\d{{3}}|-) (\d{{3}}|-) "
    # The request: "POST https://shop.example.com:443/checkout/pay HTTP/1.1" gives the path.
    r'(?:\d+ \d+ "[A-Z]+ (?:[a-z0-9]+://[^/" ]+)?(/[^ "]*))?'
)
# `\bHTTP` written as `H(?<!\wH)TTP` (and so on): a pattern that starts with a letter lets
# the regex engine skip to the letters, instead of trying it at every position.
_HTTP_STATUS_TEXT = re.compile(
    r'(?:H(?<!\wH)TTP/\d(?:\.\d)?"? |s(?<!\ws)tatus[ =:]+|c(?<!\wc)ode[ =:]+)([1-5]\d\d)\b'
)
# Each `*_NEEDS` holds literals its pattern cannot match without: testing them first spares
# most records a regex search.
_HTTP_STATUS_NEEDS = ("HTTP/", "status", "code")
_SANDBOX = re.compile(
    r"sk_test_|pk_test_|rk_test_|sandbox|\"livemode\":\s*false|checkout-test\.adyen|-test\.adyen"
)
_SANDBOX_NEEDS = ("_test_", "sandbox", '"livemode"', "-test.adyen")
_LIVE = re.compile(
    r"sk_live_|pk_live_|rk_live_|\"livemode\":\s*true|api-m\.paypal\.com|-live\.adyen"
    r"|pay-api\.amazon\.[a-z.]+/live/"
)
_LIVE_NEEDS = ("_live_", '"livemode"', "api-m.paypal.com", "-live.adyen", "pay-api.amazon.")
GATEWAY_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("stripe", ("stripe", "req_")),
    ("paypal", ("paypal", "debug_id")),
    ("amazon_pay", ("amazon pay", "amazonpay", "amazon_pay", "pay-api.amazon", "amazonservices")),
    ("adyen", ("adyen", "pspreference")),
    ("braintree", ("braintree",)),
    ("authorize_net", ("authorize.net", "anetapi", "transactionresponse")),
)


@dataclass(slots=True)
class Event:
    """One log record and what paydiag understood of it.

    Read-only, though not frozen: every field is Final, which mypy --strict enforces. An
    Event (and an Observation) is made for every error record, and a frozen dataclass sets
    each field through object.__setattr__: 3 % of all the instructions of a run.
    """

    source: Final[str]
    line: Final[int]
    text: Final[str]
    timestamp: Final[datetime | None] = None
    level: Final[str | None] = None
    http_status: Final[int | None] = None
    path: Final[str | None] = None
    gateway_hint: Final[str | None] = None
    environment: Final[str | None] = None
    transaction_ids: Final[tuple[str, ...]] = ()
    request_ids: Final[tuple[str, ...]] = ()
    amount: Final[str | None] = None
    currency: Final[str | None] = None
    payment_method: Final[str | None] = None
    duration_ms: Final[float | None] = None
    request_time: Final[datetime | None] = None  # the time a signed request says it was made


def parse_record(
    text: str,
    source: str,
    line: int,
    *,
    default_time: datetime | None = None,
    id_patterns: Sequence[IdPattern] = (),
) -> Event:
    fields = collect_fields(text)
    lowered = text.lower()
    ids = extract_ids(text, fields, id_patterns, lowered=lowered)
    status, path, duration = _access_facts(text)
    level_word, status_in_text, gateway, environment = text_facts(text, lowered)
    level, field_status, field_duration, amount, currency, method = _field_facts(fields)
    # Positional, in the order of Event's fields: for every error record, sixteen keyword
    # arguments cost 0.6 us more than the rest of making it (test_parse holds each value
    # to its field).
    return Event(
        source,
        line,
        text,
        _timestamp(text, fields) or default_time,
        level or (_LEVELS[level_word] if level_word else None),
        status or field_status or status_in_text,
        path,
        gateway,
        environment,
        ids.transactions,
        ids.requests,
        amount,
        currency,
        method,
        duration if duration is not None else field_duration,
        request_time(text, lowered=lowered),
    )


# (level, HTTP status, duration in ms, amount, currency, payment method) as fields say them.
_FieldFacts = tuple[str | None, int | None, float | None, str | None, str | None, str | None]
_NO_FIELD_FACTS: _FieldFacts = (None, None, None, None, None, None)
# Every key _field_facts() reads: most records hold none, which one isdisjoint() tells.
_FACT_KEYS = frozenset(
    (
        *LEVEL_KEYS,
        *STATUS_KEYS,
        *DURATION_MS_KEYS,
        *DURATION_S_KEYS,
        *AMOUNT_KEYS,
        *CURRENCY_KEYS,
        *METHOD_KEYS,
    )
)


def _field_facts(fields: dict[str, list[object]]) -> _FieldFacts:
    if fields.keys().isdisjoint(_FACT_KEYS):
        return _NO_FIELD_FACTS
    return (
        _level(fields),
        _status(fields),
        _duration(fields),
        _first_str(fields, AMOUNT_KEYS),
        _currency(fields),
        _first_str(fields, METHOD_KEYS),
    )


def _first(fields: dict[str, list[object]], keys: Sequence[str]) -> object | None:
    for key in keys:
        if key in fields:
            return fields[key][0]
    return None


def _first_str(fields: dict[str, list[object]], keys: Sequence[str]) -> str | None:
    value = _first(fields, keys)
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value)
    return text if 0 < len(text) <= 40 else None


def _timestamp(text: str, fields: dict[str, list[object]]) -> datetime | None:
    found = find_timestamp(text)
    if found is not None:
        return found
    value = _first(fields, TIME_KEYS)
    return parse_timestamp(value) if value is not None else None


def _level(fields: dict[str, list[object]]) -> str | None:
    """The level a field names."""
    value = _first(fields, LEVEL_KEYS)
    if value is not None and not isinstance(value, bool):
        return _LEVELS.get(str(value).lower())
    return None


def _status(fields: dict[str, list[object]]) -> int | None:
    """The HTTP status a field holds."""
    for key in STATUS_KEYS:
        for value in fields.get(key, []):
            if isinstance(value, bool):
                continue
            if isinstance(value, int) or (isinstance(value, str) and value.isdecimal()):
                number = int(value)
                if 100 <= number <= 599:
                    return number
    return None


# What a record's words say, whatever its fields do: its level word (lowercased), an HTTP
# status written out, the gateway its markers name and its environment.
TextFacts = tuple[str | None, int | None, str | None, str | None]
# The C form of text_facts_in_python, for ASCII records, where it is built.
_native_text_facts = speedups.native("text_facts")


def text_facts(text: str, lowered: str) -> TextFacts:
    """The TextFacts of a record; `lowered` is `text.lower()`."""
    if _native_text_facts is not None:
        facts: TextFacts | None = _native_text_facts(text, lowered, GATEWAY_MARKERS)
        if facts is not None:
            return facts
    return text_facts_in_python(text, lowered)


def text_facts_in_python(text: str, lowered: str) -> TextFacts:
    """text_facts() by the regexes: the reference of the C form (which reads ASCII text,
    and leaves the rest to this)."""
    level = _LEVEL_WORD.search(text[:120])
    return (
        level.group(1).lower() if level else None,
        status_in_text(text),
        gateway_hint(lowered),
        environment_of(lowered),
    )


def status_in_text(text: str) -> int | None:
    """An HTTP status the text writes out (`HTTP/1.1 502`, `status=429`, `code: 401`)."""
    if not _contains_any(text, _HTTP_STATUS_NEEDS):
        return None
    match = _HTTP_STATUS_TEXT.search(text)
    return int(match.group(1)) if match else None


def _access_facts(text: str) -> tuple[int | None, str | None, float | None]:
    """Status, path and duration from nginx/Apache combined and AWS ALB access lines."""
    if match := _ACCESS.match(text):
        return int(match.group(2)), match.group(1), None
    if match := _ALB.match(text):
        target = match.group(5)
        status = int(target) if target.isdigit() else None
        elb = match.group(4)
        seconds = float(match.group(2))
        if elb.isdigit() and (status is None or int(elb) >= 500):
            status = int(elb)
        return status, match.group(6), plausible_ms(seconds * 1000)
    return None, None, None


def plausible_ms(milliseconds: float) -> float | None:
    """`milliseconds` if it can be a call's duration (NaN fails both tests)."""
    return milliseconds if 0 <= milliseconds < MAX_DURATION_MS else None


# Logs repeat the same durations (whole milliseconds, mostly): each is bucketed once.
@lru_cache(maxsize=1 << 16)
def duration_bucket(milliseconds: float) -> int:
    """The bucket of a call's duration in latency's histograms (_speedups.c's bucket_of()
    is the same function)."""
    return math.floor(math.log(max(milliseconds, BUCKET_FLOOR_MS)) / BUCKET_STEP)


def _duration(fields: dict[str, list[object]]) -> float | None:
    for keys, scale in ((DURATION_MS_KEYS, 1.0), (DURATION_S_KEYS, 1000.0)):
        value = _first(fields, keys)
        if value is None or isinstance(value, bool):
            continue
        try:
            found = plausible_ms(float(str(value).removesuffix("ms").removesuffix("s")) * scale)
        except ValueError:
            continue
        if found is not None:
            return found
    return None


def _currency(fields: dict[str, list[object]]) -> str | None:
    value = _first(fields, CURRENCY_KEYS)
    if isinstance(value, str) and len(value) == 3 and value.isalpha():
        return value.upper()
    return None


_AMZ_DATE = re.compile(r"(?i)x-amz(?:-pay)?-date[\"']?\s*[:=]\s*[\"']?(\d{8}T\d{6}Z)")
_MWS_TIMESTAMP = re.compile(
    r"\bTimestamp=(\d{4}-\d\d-\d\dT\d\d(?::|%3A)\d\d(?::|%3A)\d\d(?:\.\d+)?Z)"
)
_STRIPE_SIGNATURE_TIME = re.compile(r"(?i)stripe-signature[\"']?\s*[:=]\s*[\"']?t=(\d{10})\b")


def request_time(text: str, *, lowered: str | None = None) -> datetime | None:
    """The timestamp a signed request carried (Amazon Pay, MWS, AWS, Stripe webhooks);
    `lowered` is `text.lower()`, if the caller has it already.

    Signatures embed the signing time; a gateway rejects one too far from its clock, so
    comparing it with the log's own time shows clock skew.
    """
    # Under IGNORECASE the letters of "x-amz" and "gnature" match only themselves in
    # either case (unlike "s" and "i"), so the lowercased text must hold them.
    lowered = text.lower() if lowered is None else lowered
    if "x-amz" in lowered and (match := _AMZ_DATE.search(text)):
        basic = match.group(1)
        return parse_timestamp(
            f"{basic[:4]}-{basic[4:6]}-{basic[6:8]}T{basic[9:11]}:{basic[11:13]}:{basic[13:15]}Z"
        )
    if "Timestamp=" in text and (match := _MWS_TIMESTAMP.search(text)):
        return parse_timestamp(match.group(1).replace("%3A", ":"))
    if "gnature" in lowered and (match := _STRIPE_SIGNATURE_TIME.search(text)):
        return parse_timestamp(int(match.group(1)))
    return None


def gateway_hint(lowered: str) -> str | None:
    for gateway, markers in GATEWAY_MARKERS:
        for marker in markers:
            if marker in lowered:
                return gateway
    return None


def environment_of(lowered: str) -> str | None:
    if _contains_any(lowered, _SANDBOX_NEEDS) and _SANDBOX.search(lowered):
        return "sandbox"
    if _contains_any(lowered, _LIVE_NEEDS) and _LIVE.search(lowered):
        return "production"
    return None


def _contains_any(text: str, literals: Sequence[str]) -> bool:
    # A loop, not any() over a generator: this runs several times per record.
    for literal in literals:  # noqa: SIM110
        if literal in text:
            return True
    return False
