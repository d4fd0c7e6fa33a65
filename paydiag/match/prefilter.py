"""What the scanners look for besides the rules' own literals, and how they compare text.

The rules' literals come from `match.requirements`; here are the error words that make a
record worth reporting when no rule knows it, and the one case folding every literal
comparison uses (ASCII lowercase: a case-insensitive find is a superset of the exact one,
and the rules' regexes confirm every hit).
"""

from __future__ import annotations

# Words that make a record "error-looking" even when no rule knows it (unrecognised
# errors); a scanner looks for them beside the rules' own literals.
ERROR_WORDS: tuple[str, ...] = (
    "error",
    "fail",
    "declin",
    "denied",
    "invalid",
    "refused",
    "reject",
    "exception",
    "timeout",
    "timed out",
    "unauthori",
    "forbidden",
    "expired",
    # pino/bunyan write the level as a number: 50 is error, 60 fatal.
    '"level":50',
    '"level":60',
    '"level": 50',
    '"level": 60',
)


def ascii_lower(text: str) -> str:
    """Lowercase ASCII letters only, exactly as `bytes.lower` and `re.ASCII | re.I` fold."""
    return text.encode("utf-8").lower().decode("utf-8")
