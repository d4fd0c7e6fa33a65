"""Support tickets: the request a gateway's support team can act on, drafted from a finding.

`build_ticket(report, options, template)` is the library API `paydiag ticket` calls: pick the
finding, build the typed context (context.py) with the gateway's support profile
(profiles.py) and the priority (priority.py), render it (render.py), redacted.
"""

from __future__ import annotations

from paydiag.report.model import Report
from paydiag.ticket.context import (
    NoFinding,
    TicketContext,
    TicketError,
    TicketOptions,
    build_context,
    select_finding,
)
from paydiag.ticket.profiles import ProfileError, SupportProfile, load_profiles, profile_for
from paydiag.ticket.render import TEMPLATE_NAMES, TemplateProblem, render_ticket


def build_ticket(report: Report, options: TicketOptions, template: str = "markdown") -> str:
    """The redacted ticket for the finding `options` name (default: the most severe)."""
    finding = select_finding(report, options)
    return render_ticket(build_context(finding, report, options), template)


__all__ = [
    "TEMPLATE_NAMES",
    "NoFinding",
    "ProfileError",
    "SupportProfile",
    "TemplateProblem",
    "TicketContext",
    "TicketError",
    "TicketOptions",
    "build_context",
    "build_ticket",
    "load_profiles",
    "profile_for",
    "render_ticket",
    "select_finding",
]
