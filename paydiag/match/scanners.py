"""Scanners find the offsets of possible matches in a whole buffer in one pass.

They only narrow the search: every offset they report is confirmed by the Python regexes
of the rules, so both scanners give identical results and differ only in speed. Hyperscan
also says which rule's pattern matched where, so only those rules are confirmed.
"""

from __future__ import annotations

import contextlib
import importlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import ahocorasick

from paydiag import speedups
from paydiag.cache import cache_key, code_fingerprint, read_cached, write_cached
from paydiag.catalog.model import Rule
from paydiag.catalog.patterns import MIN_LITERAL, to_byte_regex
from paydiag.match.prefilter import ERROR_WORDS, ascii_lower
from paydiag.match.requirements import Requirement, RequirementIndex, all_met

if TYPE_CHECKING:
    from paydiag import _speedups


@dataclass(frozen=True)
class ScanResult:
    hits: list[int]  # offsets in the chunk on whose lines a rule or an error word may match
    # (offset, rule ID) of every match of a rule's pattern, in offset order, where the
    # scanner knows them (None): a record matches no rule without one of its own.
    rule_matches: list[tuple[int, str]] | None = None


class Scanner(Protocol):
    name: str

    def scan(self, chunk: bytes) -> ScanResult: ...


# The kinds of word the C scanner's automaton holds (_speedups.c's L_ERROR_WORD, L_KEY).
_ERROR_WORD, _KEY = range(2)

# Literals shorter than this (numbers, `=39`, `100`) occur in the ids, times and amounts of
# most healthy lines, so a pattern is filed under a longer requirement where it has one.
_SPECIFIC_KEY = 5


class LiteralScanner:
    """Aho-Corasick over the lowercased buffer, then the requirement check per line.

    The automaton holds the error words and one specific requirement per rule pattern, so
    most healthy lines cause no work at all; a line with a hit is a candidate when it
    holds an error word or meets every requirement of a pattern filed under a key it holds.
    """

    name = "literal"

    def __init__(self, rules: Sequence[Rule], native: bool | None = None) -> None:
        """`native`: scan in C (True), in Python (False), or in C where paydiag._speedups
        is usable (None); the two find the same lines."""
        self._error_words = frozenset(_as_text(ascii_lower(word)) for word in ERROR_WORDS)
        # Per key, the requirements of each pattern filed under it, in the byte-per-character
        # form of the scanned text, so a line is checked without decoding it.
        self._patterns: dict[str, list[list[tuple[str, ...]]]] = {}
        every = [reqs for patterns in RequirementIndex(rules).requirements for reqs in patterns]
        self._shared = Counter(a for reqs in every for r in reqs for a in r)
        for requirements in every:
            key = self._keys(requirements)
            checks = [tuple(map(_as_text, r)) for r in self._still_open(requirements, key)]
            for literal in key:
                self._patterns.setdefault(_as_text(literal), []).append(checks)
        # Each key's value is the key itself.
        self._automaton = ahocorasick.Automaton()
        for literal in self._patterns.keys() | self._error_words:
            self._automaton.add_word(_as_text(literal), _as_text(literal))
        self._automaton.make_automaton()
        self._native = self._native_scanner() if native is not False else None
        if native and self._native is None:
            raise RuntimeError("paydiag._speedups is not built")

    def _native_scanner(self) -> _speedups.LiteralScanner | None:
        if not speedups.usable():
            return None
        from paydiag import _speedups

        words = [(word.encode("latin-1"), _ERROR_WORD, 0) for word in self._error_words]
        # An error word decides a line on its own, so a key that is one is left out.
        words += [
            (key.encode("latin-1"), _KEY, index)
            for index, key in enumerate(self._patterns)
            if key not in self._error_words
        ]
        patterns = [
            [[tuple(a.encode("latin-1") for a in r) for r in checks] for checks in filed]
            for filed in self._patterns.values()
        ]
        return _speedups.LiteralScanner(words, patterns)

    def _keys(self, requirements: tuple[Requirement, ...]) -> Requirement:
        """The literals one of which every match of the pattern holds besides error words.

        Empty when a requirement is all error words: the error words alone find the line.
        """
        if any(all(self._has_error_word(a) for a in r) for r in requirements):
            return frozenset()
        usable = [
            frozenset(a for a in r if not self._has_error_word(a))
            for r in requirements
            if min(map(len, r)) >= MIN_LITERAL
        ]
        if not usable:
            return frozenset()
        return max(usable, key=self._specificity)

    def _still_open(
        self, requirements: tuple[Requirement, ...], key: Requirement
    ) -> list[Requirement]:
        """The requirements a line found by one of `key`'s literals must still meet: not
        the one that key came from (its literal is on the line), the cheapest test that the
        most lines fail first (a search per alternative; longer literals are rarer), so that
        a healthy line fails a pattern at its first test."""
        rest = list(requirements)
        for requirement in rest:
            if frozenset(a for a in requirement if not self._has_error_word(a)) == key:
                rest.remove(requirement)
                break
        return sorted(rest, key=lambda r: len(r) / min(map(len, r)))

    def _specificity(self, requirement: Requirement) -> tuple[bool, int, int]:
        """Long literals first, then those fewest other patterns share (a field name)."""
        shortest = min(map(len, requirement), default=0)
        shared = max((self._shared[a] for a in requirement), default=0)
        return shortest >= _SPECIFIC_KEY, -shared, shortest

    def _has_error_word(self, literal: str) -> bool:
        return any(word in literal for word in self._error_words)

    def scan(self, chunk: bytes) -> ScanResult:
        return ScanResult(self.hits(chunk))

    def hits(self, chunk: bytes) -> list[int]:
        """Offsets in `chunk` on whose lines a rule or an error word may match."""
        if self._native is not None:
            return self._native.hits(chunk)
        text = chunk.lower().decode("latin-1")
        hits: list[int] = []
        # `iter` yields in end order, so a line's hits come together and the line is
        # decided when the first hit past its end arrives, or at once by an error word.
        # Restarting `iter` past a decided line would cost more: each call converts the
        # whole text again. `found` is None once the line is a hit.
        line_start, line_end = 0, -1
        found: set[str] | None = set()
        for end, literal in self._automaton.iter(text):
            if end > line_end:
                if found and self._meets_a_pattern(text, line_start, line_end, found):
                    hits.append(line_start)
                line_start = text.rfind("\n", 0, end) + 1
                line_end = text.find("\n", end)
                line_end = len(text) if line_end == -1 else line_end
                found = set()
            if found is None:
                continue
            if literal in self._error_words:
                hits.append(line_start)
                found = None
            else:
                found.add(literal)
        if found and self._meets_a_pattern(text, line_start, line_end, found):
            hits.append(line_start)
        return hits

    def _meets_a_pattern(self, text: str, start: int, end: int, found: set[str]) -> bool:
        line = text[start:end]
        return any(all_met(r, line) for key in found for r in self._patterns[key])


def _as_text(literal: str) -> str:
    """`literal` as it appears in the scanned text: latin-1, one character per UTF-8 byte,
    so offsets stay byte offsets and a byte-wise find is a superset of a decoded one."""
    return literal.encode("utf-8").decode("latin-1")


class HyperscanScanner:
    """Hyperscan (optional extra `paydiag[fast]`): all rule patterns at once, in C."""

    name = "hyperscan"

    def __init__(self, rules: Sequence[Rule]) -> None:
        hyperscan: Any = importlib.import_module("hyperscan")
        sources = [pattern.pattern for rule in rules for pattern in rule.match.patterns]
        self._database = _load_or_compile(hyperscan, sources)
        # The rule of each expression of the database; the error words' has none.
        self._rule_of: tuple[str | None, ...] = (
            *(rule.id for rule in rules for _pattern in rule.match.patterns),
            None,
        )

    def scan(self, chunk: bytes) -> ScanResult:
        hits: list[int] = []
        rule_matches: list[tuple[int, str]] = []
        # Called for every match (42,000 in 60 MB of log): bound methods and no max() call spare
        # a tenth of the scan's time.
        rule_of, add_hit, add_rule_match = self._rule_of, hits.append, rule_matches.append

        def on_match(number: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            offset = end - 1 if end else 0  # the match's last byte
            add_hit(offset)
            rule = rule_of[number]
            if rule is not None:
                add_rule_match((offset, rule))

        self._database.scan(chunk, match_event_handler=on_match)
        rule_matches.sort()  # end order, as Hyperscan reports them; sorted to be sure
        return ScanResult(hits, rule_matches)

    def hits(self, chunk: bytes) -> list[int]:
        """Offsets in `chunk` on whose lines a rule or an error word may match."""
        return self.scan(chunk).hits


# The code that turns rule patterns into a database: a change to it makes a new one.
_DATABASE_CODE = (
    Path(__file__),
    Path(__file__).with_name("prefilter.py"),
    Path(__file__).parent.parent / "catalog" / "patterns.py",
)


def _load_or_compile(hyperscan: Any, sources: list[str]) -> Any:
    """A compiled database of the rule patterns `sources` and the error words, from the
    user's cache when the same patterns were seen before.

    Compiling the catalog takes about a second; loading it takes microseconds. The cache
    key is a hash of the patterns, the code that rewrites them and the Hyperscan version,
    so a stale entry is never used; an unwritable cache only costs the compile.
    """
    code = code_fingerprint(*_DATABASE_CODE)
    name = f"hyperscan-{cache_key(repr(sources), code, hyperscan.__version__)}.db"
    cached = read_cached(name)
    if cached is not None:
        with contextlib.suppress(hyperscan.error):
            database = hyperscan.loadb(cached, mode=hyperscan.HS_MODE_BLOCK)
            database.scratch = hyperscan.Scratch(database)
            return database
    # Byte regexes: Hyperscan reads bytes, where a rule's regex counts characters.
    expressions = [to_byte_regex(source).encode("utf-8") for source in sources]
    expressions.append(_ERROR_LINE)
    flags = [hyperscan.HS_FLAG_MULTILINE] * len(sources)
    flags.append(hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_MULTILINE)
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=expressions, flags=flags)
    write_cached(name, hyperscan.dumpb(database))
    return database


def _escape(word: str) -> bytes:
    return "".join("\\" + c if not c.isalnum() else c for c in word).encode("utf-8")


# A line holding an error word, reported once at its end: as one expression per word, each
# word's every match was a call into Python (50,000 of 78,000 calls in 60 MB of log, for
# 14,000 lines). Hyperscan reports an expression once per end offset, and only the line
# matters.
_ERROR_LINE = b"(?:" + b"|".join(_escape(word) for word in ERROR_WORDS) + b")[^\\n]*$"


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
