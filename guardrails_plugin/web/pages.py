"""Server-rendered pages: Jinja2 with autoescaping on for every template, so an argument such
as ``<img src=x onerror=alert(1)>`` is text on the page, and no template holds inline script
(the Content-Security-Policy would refuse it anyway)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

__all__ = ["pretty", "render"]

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


_ENV.filters["pretty"] = pretty


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    from guardrails_plugin.web.auth import session_of

    _, session = session_of(request)
    page = _ENV.get_template(name).render(
        {"session": session, "csrf": session.csrf if session else "", **context}
    )
    return HTMLResponse(page, status_code=status)
