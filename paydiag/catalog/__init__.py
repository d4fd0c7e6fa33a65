"""The rule catalog: typed rules loaded from YAML, validated, and looked up by code."""

from paydiag.catalog.loader import LoadResult, builtin_rules_dir, load_catalog
from paydiag.catalog.model import Catalog, GatewayInfo, Problem, Rule, Severity

__all__ = [
    "Catalog",
    "GatewayInfo",
    "LoadResult",
    "Problem",
    "Rule",
    "Severity",
    "builtin_rules_dir",
    "load_catalog",
]
