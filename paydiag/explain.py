"""The troubleshooting page for one code: text, Markdown or JSON, from the same rules."""

from __future__ import annotations

import json
from collections.abc import Sequence

import jinja2

from paydiag.catalog.model import Catalog, Rule

FAULT_NAMES = {
    "merchant_integration": "the merchant's developers (integration code)",
    "merchant_config": "the merchant's operators (account or configuration)",
    "gateway": "the payment gateway",
    "issuer": "the card issuer",
    "customer": "the customer",
    "network": "the network between you and the gateway",
}
RETRY_NAMES = {
    "no": "no — do not retry the same request",
    "after_fix": "after the cause is fixed",
    "later": "later, with backoff",
    "new_method": "ask the shopper for another payment method",
}

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("paydiag", "templates"),
    autoescape=False,  # Markdown and plain text, never HTML
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def render_explain(rules: Sequence[Rule], catalog: Catalog, fmt: str) -> str:
    if fmt == "json":
        return json.dumps([rule.to_dict() for rule in rules], indent=2, ensure_ascii=False) + "\n"
    template = _templates.get_template("explain.md.j2" if fmt == "markdown" else "explain.txt.j2")
    return template.render(
        rules=rules,
        gateway_names={info.gateway: info.name for info in catalog.gateways},
        fault_names=FAULT_NAMES,
        retry_names=RETRY_NAMES,
    )
