"""Scanners find the offsets of possible matches in a whole buffer in one pass.

They only narrow the search: every offset they report is confirmed by the Python regexes
of the rules, so both scanners give identical results and differ only in speed.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Sequence
from typing import Any, Protocol

import ahocorasick

from paydiag.cache import cache_key, read_cached, write_cached
from paydiag.catalog.model import Rule
from paydiag.match.prefilter import ERROR_WORDS, ascii_lower
from paydiag.match.requirements import RequirementIndex


class Scanner(Protocol):
    name: str

    def hits(self, chunk: bytes) -> list[int]:
        """Offsets in `chunk` on whose lines a rule or an error word may match."""
        ...


class LiteralScanner:
    """Aho-Corasick over the lowercased buffer, then the requirement check per line.

    The automaton holds only each pattern's least shared literal and the error words, so
    most healthy lines cause no work at all; a line with a hit is a candidate when it
    holds an error word or meets every requirement of some rule pattern.
    """

    name = "literal"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._index = RequirementIndex(rules)
        self._error_words = frozenset(ascii_lower(word) for word in ERROR_WORDS)
        # Keys as latin-1 text, where each byte is one character, so offsets stay byte
        # offsets; each key's value is the literal itself.
        self._automaton = ahocorasick.Automaton()
        for literal in self._index.keys | self._error_words:
            self._automaton.add_word(literal.encode("utf-8").decode("latin-1"), literal)
        self._automaton.make_automaton()

    def hits(self, chunk: bytes) -> list[int]:
        text = chunk.lower().decode("latin-1")
        hits: list[int] = []
        line_start, line_end, found = 0, -1, set[str]()
        for end, literal in self._automaton.iter(text):
            if end > line_end:
                if found and self._candidate(chunk, line_start, line_end, found):
                    hits.append(line_start)
                line_start = text.rfind("\n", 0, end) + 1
                line_end = text.find("\n", end)
                line_end = len(text) if line_end == -1 else line_end
                found = set()
            found.add(literal)
        if found and self._candidate(chunk, line_start, line_end, found):
            hits.append(line_start)
        return hits

    def _candidate(self, chunk: bytes, start: int, end: int, found: set[str]) -> bool:
        if not found.isdisjoint(self._error_words):
            return True
        line = chunk[start:end].lower().decode("utf-8", "replace")
        return next(self._index.possible(line, found), None) is not None


class HyperscanScanner:
    """Hyperscan (optional extra `paydiag[fast]`): all rule patterns at once, in C."""

    name = "hyperscan"

    def __init__(self, rules: Sequence[Rule]) -> None:
        hyperscan: Any = importlib.import_module("hyperscan")
        expressions: list[bytes] = []
        flags: list[int] = []
        for rule in rules:
            for pattern in rule.match.patterns:
                source = pattern.pattern
                caseless = source.startswith("(?i)")
                expressions.append(source.removeprefix("(?i)").encode("utf-8"))
                # MULTILINE: `^`/`$` may hold at any line start; the confirm step then
                # checks them against the record, so this only widens the net.
                flags.append(
                    hyperscan.HS_FLAG_MULTILINE | (hyperscan.HS_FLAG_CASELESS if caseless else 0)
                )
        for word in ERROR_WORDS:
            expressions.append(_escape(word))
            flags.append(hyperscan.HS_FLAG_CASELESS)
        self._database = _load_or_compile(hyperscan, expressions, flags)

    def hits(self, chunk: bytes) -> list[int]:
        found: list[int] = []

        def on_match(_id: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            found.append(max(end - 1, 0))

        self._database.scan(chunk, match_event_handler=on_match)
        return found


def _load_or_compile(hyperscan: Any, expressions: list[bytes], flags: list[int]) -> Any:
    """A compiled database, from the user's cache when the same patterns were seen before.

    Compiling the catalog takes about a second; loading it takes microseconds. The cache
    key is a hash of the patterns, flags and Hyperscan version, so a stale entry is
    never used; an unwritable cache only costs the compile.
    """
    name = f"hyperscan-{cache_key(repr((expressions, flags, hyperscan.__version__)))}.db"
    cached = read_cached(name)
    if cached is not None:
        with contextlib.suppress(hyperscan.error):
            database = hyperscan.loadb(cached, mode=hyperscan.HS_MODE_BLOCK)
            database.scratch = hyperscan.Scratch(database)
            return database
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=expressions, flags=flags)
    write_cached(name, hyperscan.dumpb(database))
    return database


def _escape(word: str) -> bytes:
    return "".join("\\" + c if not c.isalnum() else c for c in word).encode("utf-8")


def available_engines() -> list[str]:
    engines = ["literal"]
    try:
        importlib.import_module("hyperscan")
    except ImportError:
        return engines
    return ["hyperscan", *engines]


def engine_name(engine: str) -> str:
    """`auto` is Hyperscan when installed, else the pure Python scanner."""
    return available_engines()[0] if engine == "auto" else engine


def make_scanner(rules: Sequence[Rule], engine: str = "auto") -> Scanner:
    engine = engine_name(engine)
    if engine == "hyperscan":
        return HyperscanScanner(rules)
    if engine == "literal":
        return LiteralScanner(rules)
    raise ValueError(
        f"unknown engine {engine!r} (choose from auto, {', '.join(available_engines())})"
    )
