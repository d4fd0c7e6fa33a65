"""Find rules by the code a merchant pastes: any gateway's spelling, alias or rule id."""

from __future__ import annotations

import difflib
import re

from paydiag.catalog.model import Catalog, Rule

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise(code: str) -> str:
    """`Invalid Parameter-Value`, `invalid_parameter_value` and `InvalidParameterValue` agree."""
    return _NOT_ALNUM.sub("", code.lower())


def find_rules(catalog: Catalog, code: str, gateway: str | None = None) -> list[Rule]:
    wanted = normalise(code)
    found = [
        rule
        for rule in catalog.rules
        if wanted in {normalise(name) for name in (*rule.names, rule.id)}
        and (gateway is None or normalise(rule.gateway) == normalise(gateway))
    ]
    # An exact spelling first, then by gateway for a stable page.
    return sorted(found, key=lambda rule: (code not in rule.names, rule.gateway, rule.id))


def suggest(catalog: Catalog, code: str, limit: int = 5) -> list[str]:
    """Close spellings of known codes, for "did you mean"."""
    names = {normalise(name): name for rule in catalog.rules for name in rule.names}
    close = difflib.get_close_matches(normalise(code), list(names), n=limit, cutoff=0.6)
    return [names[key] for key in close]
