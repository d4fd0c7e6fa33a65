"""Rule patterns: the portable regex subset, the literals a prefilter can look for, ERE export.

Rule patterns must run in Python `re`, `grep -E` and Hyperscan alike, so they are checked
against a subset all three share. The check walks the parse tree Python's own `re` builds,
which also gives each pattern's required literals (for the fast prefilter) and lets the
pattern be written back as a POSIX extended regex (for `paydiag rules patterns`).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

# `re._parser` is the parser behind `re.compile`; using it keeps our reading of a pattern
# identical to the engine's. Imported by name because typeshed does not describe it.
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

MIN_LITERAL = 3
_ALLOWED_GLOBAL_FLAGS = re.IGNORECASE | re.UNICODE


@dataclass(frozen=True)
class Literals:
    """At least one of `alternatives` occurs in every text the pattern matches."""

    alternatives: tuple[str, ...]
    ignore_case: bool

    @property
    def shortest(self) -> int:
        return min(len(a) for a in self.alternatives)


class PatternError(ValueError):
    pass


def compile_pattern(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source, re.ASCII)
    except re.error as error:
        raise PatternError(f"regex {source!r} does not compile: {error}") from None


class RulePattern:
    """A rule's regex, compiled the first time it is searched.

    Compiling the catalog's 2,400 regexes took 0.4 s of every command's start, while a run
    confirms only the rules its log makes candidates. Rule files read from the cache were
    checked when they were cached, so a deferred compile cannot fail; a fresh file passes
    its compiled regex in.
    """

    __slots__ = ("_compiled", "pattern")

    def __init__(self, source: str, compiled: re.Pattern[str] | None = None) -> None:
        self.pattern = source
        self._compiled = compiled

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = compile_pattern(self.pattern)
        return self._compiled

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RulePattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"RulePattern({self.pattern!r})"


def _parse(source: str) -> Any:
    try:
        return _parser.parse(source)
    except re.error as error:
        raise PatternError(f"regex {source!r} does not compile: {error}") from None


def portability_problems(source: str, *, needs_literal: bool = True) -> list[str]:
    """Why `source` falls outside the subset shared by Python re, grep -E and Hyperscan.

    `needs_literal`: a `match.patterns` regex must carry a literal for the prefilter;
    `context` and `exclude` regexes only run on records the patterns already found.
    """
    tree = _parse(source)
    problems: list[str] = []
    if tree.state.flags & ~_ALLOWED_GLOBAL_FLAGS:
        problems.append("only the (?i) flag is allowed")
    if tree.state.groupdict:
        problems.append("named groups are not portable")
    problems.extend(sorted(set(_unportable_nodes(tree))))
    if not problems:
        try:
            to_ere(source)
        except PatternError as error:
            problems.append(str(error))
    if not needs_literal:
        return problems
    literals = required_literals(source)
    if literals is None or literals.shortest < MIN_LITERAL:
        problems.append(f"needs a literal run of at least {MIN_LITERAL} characters")
    return problems


def _unportable_nodes(seq: Any) -> list[str]:
    found: list[str] = []
    for op, av in seq:
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            found.append("look-arounds are not portable")
        elif op in (_c.GROUPREF, _c.GROUPREF_EXISTS):
            found.append("back-references are not portable")
        elif op is _c.SUBPATTERN:
            if av[1] or av[2]:
                found.append("inline flags are allowed only as (?i) at the very start")
            found.extend(_unportable_nodes(av[3]))
        elif op is _c.BRANCH:
            for branch in av[1]:
                found.extend(_unportable_nodes(branch))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            found.extend(_unportable_nodes(av[2]))
        elif op is _c.ATOMIC_GROUP:
            found.append("atomic groups are not portable")
    return found


def required_literals(source: str) -> Literals | None:
    """The best set of literals of which one must occur in any match, or None."""
    candidates = literal_candidates(source)
    return candidates[0] if candidates else None


@cache
def literal_candidates(source: str) -> tuple[Literals, ...]:
    """Every top-level requirement of the pattern, best (longest, fewest) first.

    Each is enough on its own for a prefilter; the catalog-wide prefilter picks, per
    pattern, the candidate that the fewest other patterns share.
    """
    tree = _parse(source)
    ignore_case = bool(tree.state.flags & re.IGNORECASE)
    requirements = sorted(_requirements(list(tree)), key=_score, reverse=True)
    return tuple(
        Literals(tuple(sorted({a.lower() if ignore_case else a for a in r})), ignore_case)
        for r in requirements
    )


def _score(requirement: frozenset[str]) -> tuple[int, int]:
    return (min(len(a) for a in requirement), -len(requirement))


def _best_requirement(seq: list[Any]) -> frozenset[str] | None:
    return max(_requirements(seq), key=_score, default=None)


def _requirements(seq: list[Any]) -> list[frozenset[str]]:
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    run_start = 0

    def close_run() -> None:
        if run:
            literal = "".join(run)
            candidates.append(frozenset({literal}))
            # Both hold; the plain one is kept as the cheaper test that most lines fail.
            if (preceded := _preceded(literal, seq[:run_start])) is not None:
                candidates.append(preceded)
            run.clear()

    for index, (op, av) in enumerate(seq):
        if op is _c.LITERAL:
            run_start = index if not run else run_start
            run.append(chr(av))
            continue
        close_run()
        inner = _requirement_of(op, av)
        if inner is not None:
            candidates.append(inner)
    close_run()
    return candidates


def _preceded(run: str, before: list[Any]) -> frozenset[str] | None:
    """A short number `run` with each character that can stand just before it in a match,
    where those are few (None otherwise). A status or error code alone ("400") is in the
    IDs, times and amounts of most healthy lines, while `status[:=]\\s*400` puts one of ten
    characters in front of it. Words are left alone: grown by one character they make
    common endings (`_code`, `e":`) that would file rules under keys every record holds."""
    if not (run.isdigit() and MIN_LITERAL <= len(run) < _RARE_RUN):
        return None
    found = _last_characters(before)
    if found is None or found[1]:  # unknown, or `before` may match nothing
        return None
    return frozenset(char + run for char in found[0])


# A number this long is rare enough on its own (a 5-digit error code).
_RARE_RUN = 5
# More characters than this before a run make a requirement of too many alternatives.
_MAX_PRECEDING = 12
# What \d and \s match: rule patterns are compiled with re.ASCII (compile_pattern).
_CATEGORY_CHARACTERS = {
    "CATEGORY_DIGIT": frozenset("0123456789"),
    "CATEGORY_SPACE": frozenset(" \t\n\r\x0b\x0c"),
}
_ZERO_WIDTH = {"AT_BOUNDARY", "AT_NON_BOUNDARY"}

_Ending = tuple[frozenset[str], bool]


def _last_characters(seq: list[Any]) -> _Ending | None:
    """The characters a match of `seq` can end with, and whether it can match nothing;
    None when they are unknown or more than _MAX_PRECEDING. More characters than a match
    can really end with are safe (a weaker requirement); fewer never happen."""
    found: set[str] = set()
    for op, av in reversed(seq):
        ending = _node_ending(op, av)
        if ending is None:
            return None
        found |= ending[0]
        if len(found) > _MAX_PRECEDING:
            return None
        if not ending[1]:
            return frozenset(found), False
    return frozenset(found), True


def _node_ending(op: Any, av: Any) -> _Ending | None:
    if op is _c.LITERAL:
        return frozenset(chr(av)), False
    if op is _c.IN:
        characters = _class_characters(av)
        return None if characters is None else (characters, False)
    if op is _c.AT:  # \b is zero-width; ^ and $ leave nothing before a run to name
        return (frozenset(), True) if str(av) in _ZERO_WIDTH else None
    if op is _c.SUBPATTERN:
        return _last_characters(list(av[3]))
    if op is _c.BRANCH:
        union: frozenset[str] = frozenset()
        may_be_empty = False
        for branch in av[1]:
            ending = _last_characters(list(branch))
            if ending is None:
                return None
            union, may_be_empty = union | ending[0], may_be_empty or ending[1]
        return union, may_be_empty
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        inner = _last_characters(list(av[2]))
        return None if inner is None else (inner[0], av[0] == 0 or inner[1])
    return None


def _class_characters(items: Any) -> frozenset[str] | None:
    """The characters of a bracket class, when it is no negation and they are few."""
    found: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            found.add(chr(av))
        elif op is _c.RANGE and av[1] - av[0] < _MAX_PRECEDING:
            found.update(map(chr, range(av[0], av[1] + 1)))
        elif op is _c.CATEGORY and str(av) in _CATEGORY_CHARACTERS:
            found |= _CATEGORY_CHARACTERS[str(av)]
        else:
            return None
    return frozenset(found) if len(found) <= _MAX_PRECEDING else None


def _requirement_of(op: Any, av: Any) -> frozenset[str] | None:
    if op is _c.SUBPATTERN:
        return _best_requirement(list(av[3]))
    if op is _c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            requirement = _best_requirement(list(branch))
            if requirement is None:
                return None
            union |= requirement
        return frozenset(union)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] >= 1:
        return _best_requirement(list(av[2]))
    return None


# --- POSIX ERE export (grep -E) -------------------------------------------------------

_ERE_SPECIAL = set(".[]()*+?{}|^$\\")
_CATEGORY_ERE = {
    "CATEGORY_DIGIT": "[0-9]",
    "CATEGORY_NOT_DIGIT": "[^0-9]",
    "CATEGORY_SPACE": "[[:space:]]",
    "CATEGORY_NOT_SPACE": "[^[:space:]]",
    "CATEGORY_WORD": "[[:alnum:]_]",
    "CATEGORY_NOT_WORD": "[^[:alnum:]_]",
}
_CLASS_CATEGORY = {
    "CATEGORY_DIGIT": "0-9",
    "CATEGORY_SPACE": "[:space:]",
    "CATEGORY_WORD": "[:alnum:]_",
}
_AT_ERE = {"AT_BEGINNING": "^", "AT_END": "$", "AT_BOUNDARY": "\\b", "AT_NON_BOUNDARY": "\\B"}


def to_ere(source: str) -> str:
    """The pattern as a GNU `grep -E` regex that matches the same lines."""
    tree = _parse(source)
    return _EreWriter(bool(tree.state.flags & re.IGNORECASE)).seq(list(tree))


def to_byte_regex(source: str) -> str:
    """The pattern as a regex over UTF-8 bytes (for Hyperscan) that matches wherever the
    pattern matches the decoded text, and possibly a little more.

    Python counts characters and a byte scanner counts bytes, one to four per character:
    `\\W{1,5}` meets `de39 → 05` in Python (three characters) but not in five bytes. Every
    atom that can match a non-ASCII character takes one to four bytes here, so no line the
    rule matches is missed; the rule's own regex confirms every line found.
    """
    tree = _parse(source)
    return _EreWriter(bool(tree.state.flags & re.IGNORECASE), over_bytes=True).seq(list(tree))


_NEWLINE = 10
_ATOMS = {"LITERAL", "NOT_LITERAL", "ANY", "IN", "SUBPATTERN", "BRANCH"}
_UTF8_MOST = 4  # bytes per character


@dataclass(frozen=True)
class _EreWriter:
    """Writes a parse tree back as a POSIX extended regex.

    `over_bytes`: for a scanner of the UTF-8 bytes of a whole buffer rather than of lines
    (Hyperscan): atoms that can match a non-ASCII character match one to four bytes, and a
    newline in a bracket stays (a record may span lines).
    """

    ignore_case: bool
    over_bytes: bool = False

    def seq(self, seq: list[Any]) -> str:
        return "".join(self.node(op, av) for op, av in seq)

    def node(self, op: Any, av: Any) -> str:
        atom = self.atom(op, av)
        if atom is not None:
            return atom + _quantifier(1, _UTF8_MOST) if self.widens(op, av) else atom
        if op is _c.AT:
            return _AT_ERE.get(str(av), "")
        if op is _c.SUBPATTERN:
            return "(" + self.seq(list(av[3])) + ")"
        if op is _c.BRANCH:
            return "(" + "|".join(self.seq(list(b)) for b in av[1]) + ")"
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            return self.repeat(av)
        raise PatternError(f"cannot express {op} in a POSIX extended regex")

    def atom(self, op: Any, av: Any) -> str | None:
        """A node that matches one character, as such; None for any other node."""
        if op is _c.LITERAL:
            return _ere_char(av, self.ignore_case)
        if op is _c.NOT_LITERAL:
            # grep reads line by line, so "anything but a newline" is any character there.
            if av == _NEWLINE:
                return "."
            # A byte class cannot leave out a character of several bytes, only its bytes,
            # and those start other characters too.
            return _ANY_BYTE if self.over_bytes and av > _ASCII_MOST else f"[^{_class_char(av)}]"
        if op is _c.ANY:
            return "."
        if op is _c.IN:
            return self.bracket(av)
        return None

    def widens(self, op: Any, av: Any) -> bool:
        """Whether the one-character node matches more than one byte of a character."""
        return self.over_bytes and op is not _c.LITERAL and _may_be_non_ascii(op, av)

    def repeat(self, av: Any) -> str:
        low, high, body = av
        # A character of several bytes is a group of them, not one atom.
        single = len(body) == 1 and str(body[0][0]) in _ATOMS and not _multibyte(*body[0])
        if single and self.widens(*body[0]):
            # n characters are n to 4n bytes: one wider count, not a count of counts.
            inner = self.atom(*body[0]) or ""
            high = high if high == _c.MAXREPEAT else high * _UTF8_MOST
        else:
            inner = self.seq(list(body)) if single else f"({self.seq(list(body))})"
        return inner + _quantifier(low, high)

    def bracket(self, items: Any) -> str:
        if len(items) == 1 and items[0][0] is _c.CATEGORY:
            return _CATEGORY_ERE[str(items[0][1])]
        negate = bool(items) and items[0][0] is _c.NEGATE
        parts: list[str] = []
        for op, av in items[negate:]:
            for part in self.members(op, av, negate):
                if part not in parts:
                    parts.append(part)
        if negate and not parts:
            # Python's `[^é]` takes a newline too, and so must a scan of whole buffers.
            return _ANY_BYTE if self.over_bytes else "."
        # POSIX bracket expressions take a literal "]" only first and a literal "-" only last.
        body = "".join(sorted(parts, key=lambda part: {"]": 0, "-": 2}.get(part, 1)))
        return f"[{'^' if negate else ''}{body}]"

    def members(self, op: Any, av: Any, negate: bool) -> list[str]:
        """A bracket's member as the parts of a POSIX bracket expression."""
        if op is _c.LITERAL:
            if self.over_bytes and av > _ASCII_MOST:
                return self.beyond_ascii(negate)
            if av == _NEWLINE and not self.over_bytes:
                return []  # no newline ever reaches grep inside a line
            char = chr(av)
            swapped = [char.swapcase()] if _folds(char, self.ignore_case) else []
            return [_bracket_literal(c) for c in [char, *swapped]]
        if op is _c.RANGE:
            low, high = av
            if self.over_bytes and high > _ASCII_MOST:
                ascii_part = self.members(_c.RANGE, (low, _ASCII_MOST), negate)
                return (ascii_part if low <= _ASCII_MOST else []) + self.beyond_ascii(negate)
            parts = [f"{_bracket_literal(chr(low))}-{_bracket_literal(chr(high))}"]
            if _folds(chr(low), self.ignore_case) and _folds(chr(high), self.ignore_case):
                parts.append(f"{chr(low).swapcase()}-{chr(high).swapcase()}")
            return parts
        if op is _c.CATEGORY:
            return [_class_category(str(av))]
        raise PatternError(f"cannot express {op} inside a POSIX bracket expression")

    @staticmethod
    def beyond_ascii(negate: bool) -> list[str]:
        """A byte class cannot hold a character of several bytes: it takes every byte
        beyond ASCII instead, or, negated, excludes none of them."""
        return [] if negate else [_NON_ASCII_BYTES]


def _ere_char(code: int, ignore_case: bool) -> str:
    char = chr(code)
    if _folds(char, ignore_case):
        return f"[{char.lower()}{char.upper()}]"
    return "\\" + char if char in _ERE_SPECIAL else char


def _folds(char: str, ignore_case: bool) -> bool:
    """Whether a caseless match takes `char` in either case: ASCII letters only, as rule
    patterns are compiled with re.ASCII (`é` does not match `É`)."""
    return ignore_case and char.isascii() and char.isalpha()


def _quantifier(low: int, high: int) -> str:
    if high == _c.MAXREPEAT:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if (low, high) == (0, 1):
        return "?"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def _may_be_non_ascii(op: Any, av: Any) -> bool:
    """Whether a one-character node can match a character beyond ASCII."""
    if op in (_c.ANY, _c.NOT_LITERAL):
        return True
    if op is not _c.IN:
        return _multibyte(op, av)
    return any(
        item is _c.NEGATE
        or _multibyte_member(item, value)
        or (item is _c.CATEGORY and str(value).startswith("CATEGORY_NOT_"))
        for item, value in av
    )


def _multibyte(op: Any, av: Any) -> bool:
    """Whether the node is one character that UTF-8 writes in several bytes."""
    return op is _c.LITERAL and av > _ASCII_MOST


def _multibyte_member(op: Any, av: Any) -> bool:
    """Whether a bracket's member takes characters that UTF-8 writes in several bytes."""
    return (op is _c.LITERAL and av > _ASCII_MOST) or (op is _c.RANGE and av[1] > _ASCII_MOST)


_ASCII_MOST = 0x7F
_NON_ASCII_BYTES = "\\x80-\\xff"
_ANY_BYTE = "[\\x00-\\xff]"


def _class_category(name: str) -> str:
    if name not in _CLASS_CATEGORY:
        raise PatternError(
            f"cannot express {name} inside a POSIX bracket expression "
            "(write the class out, e.g. [^A-Za-z0-9] for [\\W_])"
        )
    return _CLASS_CATEGORY[name]


def _class_char(code: int) -> str:
    char = chr(code)
    return "\\" + char if char in "]\\^-" else char


def _bracket_literal(char: str) -> str:
    # Inside a POSIX bracket expression backslash is literal; "]" must come first, "-" last.
    return "\\" if char == "\\" else char
