"""Render a ticket: a built-in template (markdown, email, json) or the user's own Jinja2 file.

Templates run in Jinja2's sandbox with StrictUndefined, so a user's template can neither reach
Python internals nor silently print nothing for a misspelt variable. Every rendered ticket goes
through redaction (redaction.py) before it is returned.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from paydiag.ticket.context import TicketContext, TicketError
from paydiag.ticket.redaction import kept_texts, redact_data, redact_text

BUILTIN_TEMPLATES = {"markdown": "markdown.md.j2", "email": "email.txt.j2"}
JSON_TEMPLATE = "json"
TEMPLATE_NAMES = (*BUILTIN_TEMPLATES, JSON_TEMPLATE)
TICKET_VERSION = 1  # of the json template's fields: changes when one is removed or renamed
_HTML_SUFFIXES = (".html", ".htm", ".html.j2", ".htm.j2", ".html.jinja", ".htm.jinja")


class TemplateProblem(TicketError):
    """A user's template that cannot be read or rendered."""


def render_ticket(context: TicketContext, template: str = "markdown") -> str:
    """The ticket as text, redacted, from a built-in template name or a template file path."""
    kept = kept_texts(context)
    if template == JSON_TEMPLATE:
        data = redact_data({"ticket_version": TICKET_VERSION, **context.to_dict()}, kept)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if template in BUILTIN_TEMPLATES:
        text = _builtin_env().get_template(BUILTIN_TEMPLATES[template]).render(_variables(context))
    else:
        text = _render_file(Path(template), context)
    return redact_text(text, kept)


def _variables(context: TicketContext) -> dict[str, Any]:
    return {f.name: getattr(context, f.name) for f in fields(context)}


def _options() -> Mapping[str, Any]:
    return {
        "keep_trailing_newline": True,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "undefined": jinja2.StrictUndefined,
    }


@cache
def _builtin_env() -> SandboxedEnvironment:
    loader = jinja2.PackageLoader("paydiag", "templates/ticket")
    return SandboxedEnvironment(loader=loader, autoescape=False, **_options())


def _render_file(path: Path, context: TicketContext) -> str:
    if not path.is_file():
        names = ", ".join(TEMPLATE_NAMES)
        raise TemplateProblem(
            f"unknown template {str(path)!r}: use {names} or the path of a Jinja2 template file"
        )
    html = path.name.lower().endswith(_HTML_SUFFIXES)
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(path.parent)), autoescape=html, **_options()
    )
    try:
        return env.get_template(path.name).render(_variables(context))
    except jinja2.TemplateSyntaxError as error:
        raise TemplateProblem(f"template {path}:{error.lineno}: {error.message}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateProblem(f"template {path}: cannot read it: {error}") from None
    except Exception as error:  # any failure inside the user's template is theirs to fix
        line = _template_line(error, path)
        where = f"{path}:{line}" if line else str(path)
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        raise TemplateProblem(f"template {where}: {message}") from None


def _template_line(error: BaseException, path: Path) -> int | None:
    """The line of the user's template where rendering failed (Jinja rewrites tracebacks)."""
    target = str(path.resolve())
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename and _same_file(frame.filename, target)
    ]
    return lines[-1] if lines else None


def _same_file(filename: str, target: str) -> bool:
    try:
        return str(Path(filename).resolve()) == target
    except OSError:
        return False
