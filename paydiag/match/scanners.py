"""Scanners find the offsets of possible matches in a whole buffer in one pass.

They only narrow the search: every offset they report is confirmed by the Python regexes
of the rules, so both scanners give identical results and differ only in speed.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Protocol

import ahocorasick

from paydiag.catalog.model import Rule
from paydiag.match.prefilter import ERROR_WORDS, scan_literals


class Scanner(Protocol):
    name: str

    def hits(self, chunk: bytes) -> list[int]:
        """Offsets in `chunk` on whose lines a rule or an error word may match."""
        ...


class LiteralScanner:
    """Aho-Corasick over the lowercased buffer: every literal the rules need, in one pass."""

    name = "literal"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._automaton = ahocorasick.Automaton()
        for literal in scan_literals(rules):
            # latin-1 maps each byte to one character, so offsets stay byte offsets.
            key = literal.encode("utf-8").decode("latin-1")
            self._automaton.add_word(key, len(key))
        self._automaton.make_automaton()

    def hits(self, chunk: bytes) -> list[int]:
        text = chunk.lower().decode("latin-1")
        return [end for end, _length in self._automaton.iter(text)]


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
        self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._database.compile(expressions=expressions, flags=flags)

    def hits(self, chunk: bytes) -> list[int]:
        found: list[int] = []

        def on_match(_id: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            found.append(max(end - 1, 0))

        self._database.scan(chunk, match_event_handler=on_match)
        return found


def _escape(word: str) -> bytes:
    return "".join("\\" + c if not c.isalnum() else c for c in word).encode("utf-8")


def available_engines() -> list[str]:
    engines = ["literal"]
    try:
        importlib.import_module("hyperscan")
    except ImportError:
        return engines
    return ["hyperscan", *engines]


def make_scanner(rules: Sequence[Rule], engine: str = "auto") -> Scanner:
    """`auto` takes Hyperscan when installed, else the pure Python scanner."""
    if engine == "auto":
        engine = available_engines()[0]
    if engine == "hyperscan":
        return HyperscanScanner(rules)
    if engine == "literal":
        return LiteralScanner(rules)
    raise ValueError(
        f"unknown engine {engine!r} (choose from auto, {', '.join(available_engines())})"
    )
