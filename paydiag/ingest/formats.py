"""Recognise a log's shape from its first lines, once per file, without configuration."""

from __future__ import annotations

import re

SAMPLE_LINES = 50
_ACCESS = re.compile(rb'^\S+ \S+ \S+ \[[^\]]+\] "[A-Z]+ [^"]*" \d{3} ')
_ALB = re.compile(rb"^(?:https?|h2|wss?|grpcs?) \d{4}-\d\d-\d\dT\S+ \S+ \S+ \S+ ")
_LOGFMT = re.compile(rb'^(?:[\w.@-]+=(?:"[^"]*"|\S*)\s+){2,}')

# Where an access log says a request failed: the status after the quoted request line
# (nginx/Apache), or ELB/target status after the three timings (ALB). Access lines carry
# no error words, so these statuses are what makes them candidates.
ERROR_STATUS_GATES = {
    "access": re.compile(rb'" [45]\d\d '),
    "alb": re.compile(rb" -?[\d.]+ -?[\d.]+ -?[\d.]+ (?:[45]\d\d \S+|\S+ [45]\d\d) "),
}

# Formats whose every line is a record on its own (no stack-trace continuations).
SINGLE_LINE_FORMATS = frozenset({"json", "access", "alb", "logfmt"})


def detect_format(head: bytes) -> str:
    """json, access (nginx/Apache), alb, logfmt or text, by the majority of sample lines."""
    lines = [line for line in head.split(b"\n", SAMPLE_LINES)[:SAMPLE_LINES] if line.strip()]
    if not lines:
        return "text"
    votes = {
        "json": sum(line.lstrip().startswith(b"{") for line in lines),
        "access": sum(bool(_ACCESS.match(line)) for line in lines),
        "alb": sum(bool(_ALB.match(line)) for line in lines),
        "logfmt": sum(bool(_LOGFMT.match(line)) for line in lines),
    }
    best = max(votes, key=lambda name: votes[name])
    return best if votes[best] * 10 >= len(lines) * 8 else "text"
