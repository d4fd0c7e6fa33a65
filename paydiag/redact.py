"""One redaction pass for every string that leaves paydiag.

Logs hold card numbers, keys, tokens and personal data; reports must not. Every output
(terminal, JSON, SARIF, JUnit, tickets) goes through `Redactor.redact`, so it is strict
(when in doubt, redact) yet keeps what support needs: transaction, order, request and debug
IDs, timestamps, amounts and error codes.

Each kind of secret has one precompiled pattern behind a cheap literal pre-check, so the
common log line pays for a few substring tests only. Patterns use bounded repeats, start
only where a token starts, and never need a suffix that could fail after an unbounded run,
so a 5 MB line stays linear.

Markers are `[REDACTED:<kind>]`. No pattern matches a marker again, and boundaries treat a
marker's "]" (and a "[" after a match) like a letter, so text glued to a secret stays glued
once the secret is a marker: a second pass finds nothing new (idempotence).

Redaction replaces the secret and nothing else, because reports are often JSON and paydiag's
own prose goes through it too: a value never runs past a line break, a quoted value stops at
its string's unescaped quote, an XML value needs its closing tag on the same or the next line,
and placeholders (`<token>`, `{{api_key}}`, `...redacted`, `****`, markers) are not secrets. A
JSON escape (`\n`, `\u00e9`) ends the word before it, so text inside a rendered JSON string is
redacted like the text it holds, and a card number written as a JSON number becomes a string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar, cast

__all__ = ["DEFAULT_REDACTOR", "Redactor", "field_kind", "redact", "redact_value"]

_T = TypeVar("_T")
_Sub = Callable[[re.Match[str]], str]


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


_MARKER_CORE = r"\[REDACTED(?::[^\]\r\n]{1,40})?\]"
_KEY_PREFIX = r"(?:sk|rk)_(?:live|test)_|whsec_|[A-Za-z0-9_]{1,64}_secret_"
# A value that is already a marker (or a key prefix plus a marker) is left alone.
_KEPT_CORE = r"(?:" + _KEY_PREFIX + r")?" + _MARKER_CORE
# What docs, SDKs and logging libraries write instead of a secret.
_PLACEHOLDER = (
    r"<[A-Za-z_][A-Za-z0-9_ .\-]{0,40}>"
    r"|\{\{ ?[A-Za-z_][A-Za-z0-9_.\-]{0,40} ?\}\}"
    r"|\$\{[A-Za-z_][A-Za-z0-9_]{0,40}\}"
    r"|(?:\.{3}|\u2026)(?i:redacted|masked|hidden|removed|omitted|truncated)?"
    r"|[(\[<*]{0,3}(?i:redacted|masked|hidden|filtered|removed|omitted)[)\]>*]{0,3}"
    r"|[*\u2022xX]{3,64}"
)
# Prose may end a sentence right after one ("reads Bearer <token>."); trailing escaped
# newlines are what a PEM block in JSON leaves after its marker.
_KEPT = re.compile(
    r"(?:" + _KEY_PREFIX + r"|Atz[ar](?:\||%7[Cc]))?"
    r"(?:" + _MARKER_CORE + r"|" + _PLACEHOLDER + r")[.;:!?)]{0,3}(?:\\[nrt]|\s){0,8}"
)
_MARKER_SPAN = re.compile(_MARKER_CORE)


def _is_kept(value: str) -> bool:
    """A marker or a placeholder: nothing secret is left in it."""
    return _KEPT.fullmatch(value) is not None


# A JSON or C escape before a token ends the word before it: in a rendered JSON string,
# "line1\npassword=x" holds "password=x" just as the text it came from did.
_AFTER_ESCAPE = r"(?<=\\[nrtbf])|(?<=\\u[0-9A-Fa-f]{4})"


def _token_start(not_after: str, width: int = 0) -> str:
    """A token starts after none of `not_after` (a character class body), or after an escape.

    With `width`, the check stands that many characters into the token: put after its first
    characters, it lets the engine reject most positions on a cheap test before looking back.
    """
    skip = f".{{{width}}}"
    return rf"(?:(?<![{not_after}]{skip})|(?<=\\[nrtbf]{skip})|(?<=\\u[0-9A-Fa-f]{{4}}{skip}))"


def _replace_group(m: re.Match[str], group: str, replacement: str) -> str:
    start, end = m.span(group)
    base = m.start()
    whole = m.group()
    return whole[: start - base] + replacement + whole[end - base :]


def _first_value_group(m: re.Match[str], names: Iterable[str]) -> str | None:
    return next((name for name in names if m.group(name) is not None), None)


# --- field names --------------------------------------------------------------------------

# Phrases whose words may be joined by "_", "-", " " or camelCase: exp_month, expMonth, ...
_SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "password": ("password", "passwd", "pwd", "passphrase"),
    "cvv": ("cvv", "cvc", "cvv2", "cvc2", "cvn", "cid", "csc", "card code", "security code"),
    "pin": ("pin",),
    "expiry": (
        "exp month",
        "exp year",
        "exp date",
        "expiry",
        "expiry month",
        "expiry year",
        "expiry date",
        "expiration",
        "expiration date",
        "expiration month",
        "expiration year",
    ),
    "api_key": ("api key", "apikey"),
    "secret": (
        "secret",
        "secret key",
        "secret access key",
        "client secret",
        "private key",
        "signing secret",
        "webhook secret",
        "transaction key",
    ),
    "token": ("token", "access token", "refresh token", "id token", "auth token"),
    "phone": ("phone", "phone number", "telephone", "tel", "mobile", "mobile number"),
}


def _phrase_regex(phrase: str) -> str:
    return r"[_\- ]?".join(re.escape(word) for word in phrase.split())


def _normalise(name: str) -> str:
    return re.sub(r"[_\- ]", "", name.lower())


def _alternation(phrases: Iterable[str]) -> str:
    # Longest first, so `secret access key` wins over `secret` at the same position.
    ordered = sorted(set(phrases), key=len, reverse=True)
    return "|".join(_phrase_regex(p) for p in ordered)


_FIELD_KIND = {_normalise(p): kind for kind, ps in _SECRET_FIELDS.items() for p in ps}
_FIELD_NAMES = _alternation(p for ps in _SECRET_FIELDS.values() for p in ps)
# Most positions start no field name; this one-character test rejects them before the
# boundary look-behinds and the long alternation run.
_FIELD_FIRST = (
    "(?=(?i:[" + "".join(sorted({p[0] for ps in _SECRET_FIELDS.values() for p in ps})) + "]))"
)

# A name starts a field when it is not glued to a word before it, except camelCase
# (userPassword), a URL-encoded bracket or quote (card%5Bcvc%5D, %22password%22) or an
# escaped XML tag inside a JSON string (&lt;cardCode&gt;, \u003ccardCode\u003e).
_NAME_START = (
    r"(?<!\[REDACTED:)"
    r"(?:(?<![A-Za-z0-9\]])|(?<=[a-z0-9])(?=[A-Z])|(?<=%[0-9A-Fa-f][0-9A-Fa-f])"
    r"|(?<=&lt;)|" + _AFTER_ESCAPE + r")"
)
# `cvc_check`, `tokenType` and `password_hash` are not secrets.
_NAME_END = r"(?![A-Za-z0-9_])"
_FIELD_KEY = re.compile(_NAME_START + r"(?i:" + _FIELD_NAMES + r")" + r"\Z")
_KEY_PARTS = re.compile(r"[:\[\]]")


def field_kind(name: str) -> str | None:
    """The marker kind for a field whose value is secret (`db_password` -> password).

    Namespaces and form brackets are ignored: `ns:password`, `card[cvc]`.
    """
    last = next((part for part in reversed(_KEY_PARTS.split(name)) if part), "")
    m = _FIELD_KEY.search(last)
    return _FIELD_KIND.get(_normalise(m.group())) if m else None


# --- card numbers -------------------------------------------------------------------------

# A run of digit groups joined by one separator each, holding at least 13 digits (checked
# by a bounded look-ahead so short numbers never reach Python); Luhn and grouping are
# checked in code.
_CARD_RUN = re.compile(
    r"(?=[0-9](?:(?: {1,2}|[+\-.]|%20)?[0-9]){12})[0-9]+(?:(?: {1,2}|[+\-.]|%20)[0-9]+)*"
)
_CARD_SEP = re.compile(r"( {1,2}|[+\-.]|%20)")
# An escape (%3D, %20, \u0020) before a run: its hex digits are not the card's.
_ESCAPE_TAIL = re.compile(r"(?:%|\\u)[0-9A-Fa-f]{0,4}\Z")

_ID_NAMES_SHORT = ("id", "ts", "time", "timestamp", "epoch", "created", "created at", "invoice")
_ID_NAMES_LONG = (
    "psp reference",
    "original reference",
    "trans id",
    "transaction id",
    "order id",
    "invoice id",
    "debug id",
    "request id",
    "correlation id",
)
# A digit run right after one of these fields is an ID or a timestamp that support needs.
_ID_FIELD = re.compile(
    r"(?i)(?:^|%[0-9a-f]{2}|\\[nrtbf]|[^a-z0-9_])"
    r"(?:(?:" + _alternation(_ID_NAMES_LONG) + r")"
    r"(?:\\?[\"'\]]|%5d|%22)?[ \t]{0,4}(?:[:=>]|=>|%3a|%3d)?"
    r"|(?:" + _alternation(_ID_NAMES_SHORT) + r")"
    r"(?:\\?[\"'\]]|%5d|%22)?[ \t]{0,4}(?:[:=>]|=>|%3a|%3d))"
    r"[ \t]{0,4}(?:\\?[\"']|%22)?\Z"
)


# A caller naming the field (`redact_field`) may use any *Id / *_id / *Reference name.
_ID_KEY = re.compile(
    r"(?:^|[_\-. ]|(?<=[a-z0-9])(?=[A-Z]))"
    r"(?:id|Id|ID|ref|Ref|REF|reference|Reference|REFERENCE)\Z"
)


def _is_id_field(name: str) -> bool:
    return _ID_KEY.search(name) is not None or _ID_FIELD.search(f'"{name}":"') is not None


def _card_brand(digits: str) -> bool:
    """Whether a digit run starts like a payment card (Mastercard 2-series, Amex, Diners,
    JCB, Visa, Mastercard, Discover, UnionPay, Maestro: 2 to 6). An ID field keeps its
    all-digit value (an Adyen pspReference starts with 8, epoch milliseconds with 1) only
    when it cannot be a card number logged under the wrong name."""
    return bool(digits) and digits[0] in "23456"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_word(ch: str, marker_edge: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_" or ch == marker_edge)


def _run_start(text: str, start: int) -> tuple[int, bool]:
    """Where the digits proper begin, and whether they are glued to a word before them."""
    tail = _ESCAPE_TAIL.search(text, max(0, start - 6), start)
    if tail:
        escape = tail.group()
        missing = (3 if escape[0] == "%" else 6) - len(escape)
        if missing >= 0:
            return start + missing, False
    if start >= 2 and text[start - 2] == "\\" and text[start - 1] in "nrtbf":
        return start, False
    return start, start > 0 and _is_word(text[start - 1], "]")


def _tainted(groups: list[str], seps: list[str], glued: tuple[bool, bool]) -> list[bool]:
    """Groups that belong to a longer token (req_4242..., ab12-4242...-cd, 4242...ff)."""
    n = len(groups)
    glue = [False] * n
    glue[0] = glued[0]
    glue[-1] = glue[-1] or glued[1]
    # Dashes bind a glued group to its neighbours: they are one alphanumeric ID.
    for k in range(1, n):
        glue[k] = glue[k] or (seps[k] == "-" and glue[k - 1])
    for k in range(n - 2, -1, -1):
        glue[k] = glue[k] or (seps[k + 1] == "-" and glue[k + 1])
    return [g or not groups[k] for k, g in enumerate(glue)]


def _card_window(groups: list[str], seps: list[str], tainted: list[bool], i: int) -> int:
    """Index of the last group of the longest card number starting at group i, or -1."""
    first = groups[i]
    if tainted[i]:
        return -1
    if 13 <= len(first) <= 19:
        return i if _luhn_ok(first) else -1
    if len(first) != 4 or i + 1 >= len(groups):
        return -1
    # Printed cards are grouped 4-4-4-4(-3) or 4-6-5 with one kind of separator; other
    # groupings (UUIDs 8-4-4-4-12, Amazon Pay 3-7-7, dates) are IDs, not cards.
    best, digits = -1, first
    for j in range(i + 1, len(groups)):
        group = groups[j]
        if tainted[j] or seps[j] != seps[i + 1] or not 1 <= len(group) <= 6:
            break
        digits += group
        if len(digits) > 19:
            break
        if len(digits) >= 13 and _luhn_ok(digits):
            best = j
        if len(group) < 4:
            break
    return best


def _redact_run(run: str, glued: tuple[bool, bool], protect_first: bool) -> str:
    parts = _CARD_SEP.split(run)
    groups, seps = parts[0::2], ["", *parts[1::2]]
    tainted = _tainted(groups, seps, glued)
    tainted[0] = tainted[0] or protect_first
    out: list[str] = []
    i = 0
    while i < len(groups):
        j = _card_window(groups, seps, tainted, i)
        if j < 0:
            out.append(seps[i] + groups[i])
            i += 1
            continue
        digits = "".join(groups[i : j + 1])
        out.append(f"{seps[i]}[REDACTED:card ****{digits[-4:]}]")
        i = j + 1
    return "".join(out)


class _JsonStrings:
    """Whether a position of one text is inside a JSON string; asked in increasing order.

    Scanning resumes where the last question stopped, so one pass over a text costs one scan.
    """

    _QUOTE_OR_BREAK = re.compile(r'\\.|["\r\n]')

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._inside = False

    def inside(self, pos: int) -> bool:
        for token in self._QUOTE_OR_BREAK.finditer(self._text, self._pos, pos):
            char = token.group()
            if char == '"':
                self._inside = not self._inside
            elif char in "\r\n":
                self._inside = False  # a JSON string never spans lines
        self._pos = max(self._pos, pos)
        return self._inside


_JSON_SPACE = " \t\r\n"


def _json_number_at(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] sits where JSON puts a value: after `[`, `,` or `"key":`."""
    before = text[max(0, start - 256) : start].rstrip(_JSON_SPACE)
    after = text[end : end + 256].lstrip(_JSON_SPACE)
    if after and after[0] not in ",]}":
        return False
    if before.endswith(("[", ",")):
        return True
    return before.endswith(":") and before[:-1].rstrip(_JSON_SPACE).endswith('"')


def _card_sub(strings: _JsonStrings) -> _Sub:
    def sub(m: re.Match[str]) -> str:
        text, (begin, end) = m.string, m.span()
        start, glued_before = _run_start(text, begin)
        if end - start < 13:
            return m.group()
        glued_after = end < len(text) and _is_word(text[end], "[")
        digits = text[start:end]
        protect = _ID_FIELD.search(text, max(0, start - 48), start) is not None and not (
            _card_brand(digits)
        )
        run = _redact_run(digits, (glued_before, glued_after), protect)
        if run != digits and digits.isdigit():
            # A card number logged as a JSON number: its marker must be a JSON string. A
            # minus sign makes it a negative number, which no card number is.
            signed = int(start > 0 and text[start - 1] == "-")
            if _json_number_at(text, start - signed, end) and not strings.inside(start - signed):
                return m.group() if signed else f'{text[begin:start]}"{run}"'
        return text[begin:start] + run

    return sub


# --- keys, tokens and other secrets -------------------------------------------------------

# A complete block runs to its END line; its body (base64, header lines, raw or JSON-escaped
# newlines) cannot run past "-----". A truncated block keeps only what looks like key lines
# (runs of 16+ base64 characters), so a BEGIN line quoted in prose takes no words with it.
_PEM_GAP = r"(?:\r?\n|\\r\\n|\\n|[ \t]){0,4}"
_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:(?P<full>(?:[A-Za-z0-9+/=\s:,.()]|\\[nrt/]|-(?!----)){0,65536}+"
    r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)"
    r"|(?P<cut>(?:" + _PEM_GAP + r"[A-Za-z0-9+/]{16,100}={0,2}){0,1024}+"
    r"(?:" + _PEM_GAP + r"[A-Za-z0-9+/]{1,15}={0,2}(?=\Z|\\?\"))?))"
)
_STRIPE_KEY = re.compile(
    _token_start(r"A-Za-z0-9\]") + r"((?:sk|rk)_(?:live|test)_|whsec_)[A-Za-z0-9*]+"
)
_AWS_KEY_ID = re.compile(
    _token_start(r"A-Za-z0-9_\]") + r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9\[])"
)
# Starting only where a token starts keeps a long base64 run from being rescanned per "eyJ".
_JWT = re.compile(
    r"eyJ"
    + _token_start(r"A-Za-z0-9_\-\]", 3)
    + r"[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"
)
# Login with Amazon access (Atza|) and refresh (Atzr|) tokens, raw or URL-encoded.
_LWA_TOKEN = re.compile(
    r"Atz[ar](?:\||%7[Cc])(?:[A-Za-z0-9\-._~+/=|]|%(?!22|2[Cc]|26)[0-9A-Fa-f]{2}){8,4096}"
)
# Stripe client secrets embed the object ID: pi_123_secret_abc keeps pi_123.
_ID_SECRET = re.compile(
    _token_start(r"A-Za-z0-9_\]") + r"((?:pi|seti|src)_[A-Za-z0-9]{8,64})_secret_[A-Za-z0-9]+"
)

# A quote followed by JSON punctuation closes the string a field name stood in
# ({"a":"password=","b":1}): it starts no value.
_NOT_CLOSING = r"(?![ \t]{0,8}[,:\]}])"

# Credentials are one token or, for signature schemes, comma-separated name=value parameters.
# Brackets and braces are JSON structure, not credentials, unless they make up a marker or
# a placeholder.
_AUTH_CHUNK = r"(?:[^\s,\"'\\\[\]{}]|" + _MARKER_CORE + r"|" + _PLACEHOLDER + r"){1,4096}"
_AUTH_HEADER = re.compile(
    r"(?P<key>" + _token_start(r"A-Za-z0-9\]") + r"(?i:(?:proxy-)?authorization)"
    r"(?![A-Za-z0-9_])(?:\\?[\"'])?[ \t]{0,8}[:=][ \t]{0,8}(?:\\?[\"']" + _NOT_CLOSING + r")?)"
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9_\-]{0,40})[ \t]+)?"
    r"(?P<value>"
    + _AUTH_CHUNK
    + r"(?:,[ \t]?[A-Za-z][A-Za-z0-9\-]{0,40}="
    + _AUTH_CHUNK
    + r"){0,16})"
)
_AUTH_PARAM = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9\-]{0,40})=(?P<value>.+)")
# Parameters of signature schemes (AWS4, Amazon Pay) that identify, not authenticate.
_PUBLIC_AUTH_PARAMS = frozenset({"publickeyid", "signedheaders", "algorithm"})

_BEARER = re.compile(
    r"(?i:bearer)" + _token_start(r"\w", 6) + r"[ \t]{1,8}(?P<value>[A-Za-z0-9\-._~+/]{8,4096}=*)"
)
_PARAM_NAME = re.compile(r"[a-z_]+=")
# Escapes are taken in pairs, so a value never ends between a backslash and its quote.
_CURL_USER = re.compile(
    r"(?P<key>(?:^|\s|\\[nrt])(?:-u|--user)(?:[ \t]{1,8}|=)(?:\\?[\"']" + _NOT_CLOSING + r")?"
    r"(?:[^\s:\"'\\]|\\[^\s\"']){0,256}:)"
    r"(?P<value>(?:[^\s\"'\\]|\\[^\s\"']){1,1024})"
)
_URL_PASSWORD = re.compile(
    r"(?P<key>\b[A-Za-z][A-Za-z0-9+.\-]{0,15}://[^\s/:@\"'<>]{0,256}:)"
    r"(?P<value>[^\s/@\"'<>]{1,256})@"
)

# name, its closing quote or bracket, separator; then one of the value shapes below. The
# closing quote is named so that a quoted value can be checked against it.
_KV_KEY = (
    _FIELD_FIRST
    + _NAME_START
    + r"(?P<name>(?i:"
    + _FIELD_NAMES
    + r"))"
    + _NAME_END
    + r"(?:(?P<q_dq>\")|(?P<q_esc>\\\")|(?P<q_sq>')|\\'|\]|%5[Dd]|%22)?"
    + r"[ \t]{0,8}(?:=>|[:=]|%3[AaDd]|&gt;|\\u003[Ee])[ \t]{0,8}"
)
_BARE_END = r"(?![^\s&,;\"'<>\\\]})])"
_KV_VALUE = (
    # Quoted values stop at their own quote, a line break or an escaped line break; escapes
    # are taken in pairs so the closing quote is never mistaken for an escaped one.
    r"\\\"(?(q_esc)|" + _NOT_CLOSING + r")(?P<v_esc>(?:[^\"\\\r\n]|\\[^\"\r\nnr]){0,8192})"
    r"|\"(?(q_dq)|" + _NOT_CLOSING + r")(?P<v_dq>(?:[^\"\\\r\n]|\\[^\r\n]){0,8192})"
    r"|'(?(q_sq)|" + _NOT_CLOSING + r")(?P<v_sq>(?:[^'\"\\\r\n]|\\[^\r\nnr]){0,8192})"
    r"|%22(?P<v_pct>(?:[^%\s&\"\\]|%(?!22)){0,8192})"
    # Bare: a marker, a placeholder, a phone number (may hold spaces), or up to a delimiter.
    # A closing bracket or brace ends the value; an opening one starts a structure.
    + r"|(?P<v_bare>"
    + _KEPT_CORE
    + r"|(?:"
    + _PLACEHOLDER
    + r")"
    + _BARE_END
    + r"|[+(]?[0-9][0-9() .\-]{4,30}[0-9](?![0-9A-Za-z_])"
    + r"|[^\s&,;\"'<>\\\[\]{}()][^\s&,;\"'<>\\\]})]{0,8191})"
)
_KV = re.compile(r"(?P<key>" + _KV_KEY + r")(?:" + _KV_VALUE + r")")
_KV_VALUES = ("v_esc", "v_dq", "v_sq", "v_pct", "v_bare")
# A value is one line between its tags, which may sit on the lines before and after it; a
# tag without its closing tag (`"Bearer <token>"`) is text, not an element.
_XML_BREAK = r"(?:[ \t]{0,64}(?:\r?\n|\\r\\n|\\n)[ \t]{0,64})?"
_XML = re.compile(
    r"<(?P<tag>[A-Za-z_][A-Za-z0-9_.:\-]{0,80})(?:[ \t][^<>\r\n]{0,512})?>"
    + _XML_BREAK
    + r"(?:<!\[CDATA\[(?P<v_cdata>(?:[^\]\"\r\n]|\](?!\]>)){1,8192}+)\]\]>"
    + r"|(?P<v_xml>(?:[^<\"\\\r\n]|\\[^<\r\nnr]|\\(?=<)){1,8192}+))"
    + _XML_BREAK
    + r"</(?P=tag)>"
)
_XML_VALUES = ("v_cdata", "v_xml")

# --- personal data ------------------------------------------------------------------------

# Starting only at the start of a local part (or after a %20-style or JSON escape) keeps a
# long word from being rescanned. A word starts after an escaped backslash ("\\") too,
# but in "\\\n" the "n" belongs to the escape "\n", not to an address.
_EMAIL = re.compile(
    r"(?:(?<![A-Za-z0-9._%+\-\]\\])|(?<=%[0-9A-Fa-f][0-9A-Fa-f])|(?<=(?<!\\)\\\\)|"
    + _AFTER_ESCAPE
    + r")[A-Za-z0-9._%+\-]{1,64}(?:@|%40)"
    r"[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_E164 = re.compile(
    r"(?:\+"
    + _token_start(r"A-Za-z0-9%+\]", 1)
    + r"|%2[Bb]"
    + _token_start(r"A-Za-z0-9%+\]", 3)
    + r")"
    r"[1-9][0-9]{7,14}(?![0-9])"
)
_IBAN = re.compile(
    r"[A-Z]"
    + _token_start(r"A-Za-z0-9_\]", 1)
    + r"[A-Z][0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9_\[])"
)
# A national phone number (`415-555-0199`, `(415) 555-0199`, `+44 20 7946 0958`) is only
# told from an ID, amount or time by a word before it that says it is a phone.
_PHONE_TEXT = re.compile(
    r"(?P<key>(?=(?i:[ptmc]))"
    + _NAME_START
    + r"(?i:(?:tele)?phone|tel|mobile|cell(?:phone)?)(?:[_\- ]?(?i:number|num|no\.?|#))?"
    + r"(?![A-Za-z0-9_])(?:\\?[\"'])?[ \t]{0,4}(?:=>|[:=#]|%3[AaDd])?[ \t]{0,4}(?:\\?[\"']|%22)?)"
    + r"(?P<value>(?>(?:\+|%2[Bb])?[0-9(][0-9()]{0,13}(?:(?:[ .\-]|%20)[0-9(][0-9()]{0,13}){0,6}))"
    + r"(?![0-9A-Za-z])"
)
_PHONE_SEP = re.compile(r"([ .\-]|%20)")
_ISO_DATE = re.compile(r"[12][0-9]{3}-[01][0-9]-[0-3][0-9](?![0-9])")


def _phone_number(parts: list[str]) -> str:
    """The leading digit groups (`parts` alternates groups and separators) of one number.

    A following number ("415-555-0199 12 times") starts after a space that comes after
    dashes or dots, or past the 15 digits a phone number has at most.
    """
    for k in range(3, len(parts), 2):
        if parts[k] in (" ", "%20") and any(sep in ".-" for sep in parts[1:k:2]):
            parts = parts[:k]
            break
    while len(parts) > 1 and _digit_count("".join(parts)) > 15:
        del parts[-2:]
    return "".join(parts)


def _phone_sub(m: re.Match[str]) -> str:
    value = m.group("value")
    number = _phone_number(_PHONE_SEP.split(value))  # digit groups at even indexes
    if (
        not 7 <= _digit_count(number) <= 15
        or number.count("(") != number.count(")")
        or _ISO_DATE.match(number)
    ):
        return m.group()
    return m.group("key") + _marker("phone") + value[len(number) :]


def _email_sub(m: re.Match[str]) -> str:
    # A local part never holds "..": `ws_...@Company` is a placeholder and `...jane@x.io`
    # is an ellipsis before an address. Dots alone before the @ are neither, and are
    # redacted like any address.
    text = m.group()
    at = text.find("@")
    if at < 0:
        at = text.lower().find("%40")
    dots = text.rfind("..", 0, at)
    if dots < 0 or not text[:at].strip("."):
        return _marker("email")
    local = dots + 2
    return text if local >= at else text[:local] + _marker("email")


def _iban_ok(compact: str) -> bool:
    if not 15 <= len(compact) <= 34:
        return False
    rotated = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rotated)) % 97 == 1


def _iban_sub(m: re.Match[str]) -> str:
    chunks = m.group().split(" ")
    # The last chunks may be a following word: try the longest IBAN first.
    for k in range(len(chunks), 0, -1):
        if _iban_ok("".join(chunks[:k])):
            rest = " ".join(chunks[k:])
            return _marker("iban") + (" " + rest if rest else "")
    return m.group()


# --- substitutions ------------------------------------------------------------------------


def _whole(kind: str) -> _Sub:
    marker = _marker(kind)
    return lambda m: marker


def _pem_sub(m: re.Match[str]) -> str:
    if m.group("full") is None and not m.group("cut"):
        return m.group()  # a BEGIN line alone (quoted in prose) holds no key
    return _marker("private_key")


def _lwa_sub(m: re.Match[str]) -> str:
    token = m.group()
    body = token[5:] if token[4] == "|" else token[7:]
    return token if _is_kept(body) else _marker("token")


def _stripe_key_sub(m: re.Match[str]) -> str:
    return m.group(1) + "[REDACTED]"


def _group_sub(kind: str) -> _Sub:
    def sub(m: re.Match[str]) -> str:
        if _is_kept(m.group("value")):
            return m.group()
        return _replace_group(m, "value", _marker(kind))

    return sub


def _auth_value(value: str) -> str:
    parts = [p.strip() for p in value.split(",")]
    params = [_AUTH_PARAM.fullmatch(p) for p in parts]
    if len(parts) < 2 or not all(params):
        return _marker("authorization")
    return ", ".join(_auth_param(m) for m in params if m is not None)


def _auth_param(m: re.Match[str]) -> str:
    name, value = m.group("name"), m.group("value")
    if name.lower() in _PUBLIC_AUTH_PARAMS or _is_kept(value):
        return m.group()
    return f"{name}={_marker('authorization')}"


def _auth_sub(m: re.Match[str]) -> str:
    value = m.group("value")
    if _is_kept(value):
        return m.group()
    return _replace_group(m, "value", _auth_value(value))


def _bearer_sub(m: re.Match[str]) -> str:
    value, after = m.group("value"), m.string[m.end() : m.end() + 1]
    # `sk_live_[REDACTED]` is already done; `Bearer error="invalid_token"` names a parameter.
    if after == "[" or (after == '"' and _PARAM_NAME.fullmatch(value)) or _is_kept(value):
        return m.group()
    return _replace_group(m, "value", _marker("token"))


# A CVV is 3 or 4 digits: `cvv: Gateway rejected` is a title, not a security code.
_CVV_VALUE = re.compile(r"[ \t]{0,2}([0-9]{3,4})(?![0-9A-Za-z])")
_DIGIT = re.compile(r"[0-9]")
_PHONE_SHAPE = re.compile(r"[+(]?[0-9][0-9() .\-]*")


def _secret_span(kind: str, value: str) -> tuple[int, int] | None:
    """The part of a field's value that is secret, if any."""
    if not value or _is_kept(value):
        return None
    if kind == "cvv":
        cvv = _CVV_VALUE.match(value)
        return cvv.span(1) if cvv else None
    if kind == "phone":
        if not _DIGIT.search(value):
            return None  # `phone: required`
        if _PHONE_SHAPE.fullmatch(value):
            return 0, len(_phone_number(_PHONE_SEP.split(value)))
    return 0, len(value)


def _field_sub(names: tuple[str, ...], kind_of: Callable[[re.Match[str]], str | None]) -> _Sub:
    def sub(m: re.Match[str]) -> str:
        group = _first_value_group(m, names)
        kind = kind_of(m)
        if group is None or kind is None:
            return m.group()
        span = _secret_span(kind, m.group(group))
        if span is None:
            return m.group()
        offset = m.start(group) - m.start()
        whole = m.group()
        return whole[: offset + span[0]] + _marker(kind) + whole[offset + span[1] :]

    return sub


def _kv_kind(m: re.Match[str]) -> str | None:
    return _FIELD_KIND.get(_normalise(m.group("name")))


def _xml_kind(m: re.Match[str]) -> str | None:
    return field_kind(m.group("tag"))


@dataclass(frozen=True)
class _Pass:
    """One pattern, run only when one of its needles occurs in the text."""

    pattern: re.Pattern[str]
    sub: _Sub
    needles: tuple[str, ...] = ()
    lower: bool = False  # needles are matched against the lower-cased text

    def apply(self, text: str, lowered: str) -> str:
        haystack = lowered if self.lower else text
        if self.needles and not any(n in haystack for n in self.needles):
            return text
        return self.pattern.sub(self.sub, text)


_KV_NEEDLES = ("pass", "pwd", "secret", "key", "token", "cv", "cid", "csc", "code", "exp")
_KV_NEEDLES_PII = ("pin", "phone", "mobile", "tel")

# Order matters: prefix-keeping keys first, so later passes see their markers and keep them.
_PASSES: tuple[_Pass, ...] = (
    _Pass(_PEM, _pem_sub, ("PRIVATE KEY",)),
    _Pass(_STRIPE_KEY, _stripe_key_sub, ("sk_", "rk_", "whsec_")),
    _Pass(_AWS_KEY_ID, _whole("aws_access_key_id"), ("AKIA", "ASIA")),
    _Pass(_JWT, _whole("jwt"), ("eyJ",)),
    _Pass(_LWA_TOKEN, _lwa_sub, ("Atza", "Atzr")),
    _Pass(_ID_SECRET, lambda m: m.group(1) + "_secret_[REDACTED]", ("_secret_",)),
    _Pass(_AUTH_HEADER, _auth_sub, ("authorization",), lower=True),
    _Pass(_BEARER, _bearer_sub, ("bearer",), lower=True),
    _Pass(_CURL_USER, _group_sub("password"), ("-u", "--user")),
    _Pass(_URL_PASSWORD, _group_sub("password"), ("://",)),
    _Pass(_XML, _field_sub(_XML_VALUES, _xml_kind), ("<",)),
    _Pass(_KV, _field_sub(_KV_VALUES, _kv_kind), _KV_NEEDLES + _KV_NEEDLES_PII, lower=True),
    _Pass(_PHONE_TEXT, _phone_sub, ("phone", "tel", "mobile", "cell"), lower=True),
    _Pass(_EMAIL, _email_sub, ("@", "%40")),
    _Pass(_IBAN, _iban_sub),
    _Pass(_E164, _whole("phone"), ("+", "%2B", "%2b")),
)


_MAX_ROUNDS = 4


def _digit_count(text: str) -> int:
    return sum(map(text.count, "0123456789"))


# --- public API ---------------------------------------------------------------------------


def _compile_extra(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except (re.error, TypeError) as exc:
            raise ValueError(f"invalid redaction pattern '{pattern}': {exc}") from exc
    return tuple(compiled)


def _outside_markers(m: re.Match[str]) -> str:
    # A user pattern may match inside a marker; leaving markers whole keeps redaction
    # idempotent. Empty matches would litter the text with markers.
    if not m.group():
        return ""
    window = m.string[max(0, m.start() - 64) : m.end() + 64]
    offset = max(0, m.start() - 64)
    for marker in _MARKER_SPAN.finditer(window):
        if marker.start() + offset < m.end() and m.start() < marker.end() + offset:
            return m.group()
    return "[REDACTED]"


@dataclass(frozen=True)
class Redactor:
    """Removes secrets and personal data from text; see the module docstring."""

    extra_patterns: tuple[str, ...] = ()  # user regexes from config; each match -> [REDACTED]
    _extra: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = tuple(self.extra_patterns)
        if isinstance(self.extra_patterns, str):
            patterns = (self.extra_patterns,)
        object.__setattr__(self, "extra_patterns", patterns)
        object.__setattr__(self, "_extra", _compile_extra(patterns))

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by a `[REDACTED:<kind>]` marker."""
        # A marker can free its neighbour: in "4242…4242+14155552671" the phone number only
        # stands alone once the card is gone. Repeating until nothing changes makes the
        # result idempotent; text without secrets takes one round.
        for _ in range(_MAX_ROUNDS):
            redacted = self._redact_once(text)
            if redacted == text:
                break
            text = redacted
        return text

    def _redact_once(self, text: str) -> str:
        if not text:
            return text
        lowered = text.lower()
        for step in _PASSES:
            text = step.apply(text, lowered)
        if _digit_count(text) >= 13:
            text = _CARD_RUN.sub(_card_sub(_JsonStrings(text)), text)
        for pattern in self._extra:
            text = pattern.sub(_outside_markers, text)
        return text

    def redact_field(self, name: str, value: str) -> str:
        """Redacts `value` knowing the field it came from (JSON reports lose that context)."""
        kind = field_kind(name)
        if kind is not None:
            return value if not value or _is_kept(value) else _marker(kind)
        if name.lower() == "authorization":
            return self.redact(f"Authorization: {value}")[len("Authorization: ") :]
        if value.isascii() and value.isdigit() and _is_id_field(name) and not _card_brand(value):
            return value  # a pspReference or timestamp, not a card number
        return self.redact(value)

    def redact_value(self, value: _T) -> _T:
        """Redacts every string inside dicts, lists, tuples and sets; keys are kept.

        A dict key is the context of its value: `{"cvc": 123}` becomes `{"cvc": "[REDACTED:cvv]"}`
        (an int that holds a secret becomes its marker) and `{"pspReference": "8815…"}` stays.
        """
        return cast(_T, self._walk(value, None))

    def _walk(self, value: object, key: str | None) -> object:
        if isinstance(value, dict):
            return {k: self._walk(v, k if isinstance(k, str) else None) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, key) for v in value]
        if isinstance(value, tuple):
            items = [self._walk(v, key) for v in value]
            make = cast("Callable[..., object]", type(value))
            return make(*items) if hasattr(value, "_fields") else tuple(items)
        if isinstance(value, (set, frozenset)):
            return type(value)(self._walk(v, key) for v in value)
        return self._leaf(value, key)

    def _leaf(self, value: object, key: str | None) -> object:
        if isinstance(value, str):
            return self.redact(value) if key is None else self.redact_field(key, value)
        if isinstance(value, bool) or not isinstance(value, int):
            return value
        # An int is a secret under a secret field (cvc, exp_month) or if it is a card number.
        text = str(value)
        redacted = self._leaf(text, key)
        return value if redacted == text else redacted


DEFAULT_REDACTOR = Redactor()


def redact(text: str) -> str:
    """`DEFAULT_REDACTOR.redact(text)`."""
    return DEFAULT_REDACTOR.redact(text)


def redact_value(value: _T) -> _T:
    """`DEFAULT_REDACTOR.redact_value(value)`: for JSON reports."""
    return DEFAULT_REDACTOR.redact_value(value)
