"""Refusals as a browser should see them: an HTML page for a person, JSON for a program.

`security.exception_handlers` answers every refusal with ``{"error": {...}}``; that stays the
answer for ``/api/``, for ``/health`` and ``/slack/``, and for any client that asks for
``application/json``. A browser navigating the inbox (``Accept: text/html``) gets the same
status and message as a page instead, with the same headers (``Retry-After`` on a 429), so a
reviewer who follows a stale link or votes too fast reads a sentence, not a JSON document.
The message is the one the JSON carries (already written for the client) and is escaped by
the template like every other value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from guardrails_plugin.web.pages import render

__all__ = ["for_browsers", "wants_html"]

log = logging.getLogger(__name__)

Handler = Callable[[Request, Exception], Awaitable[Response]]

_MACHINE_PATHS = ("/api/", "/health", "/slack/", "/static/")
_TITLES = {
    400: "Bad request",
    401: "Sign in to continue",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    413: "Too large",
    415: "Unsupported form",
    429: "Too many requests",
    503: "Temporarily unavailable",
}


def wants_html(request: Request) -> bool:
    """A person's browser on a page of ours: not the API, and ``text/html`` preferred."""
    if request.url.path.startswith(_MACHINE_PATHS):
        return False
    accept = request.headers.get("accept", "").lower()
    if "text/html" not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at == -1 or accept.find("text/html") < json_at


def for_browsers(handlers: dict[Any, Handler]) -> dict[Any, Handler]:
    """``handlers`` (the JSON ones), each answering a browser with a page instead."""

    def wrap(handler: Handler) -> Handler:
        async def handle(request: Request, exc: Exception) -> Response:
            answer = await handler(request, exc)
            if not wants_html(request):
                return answer
            try:
                return _page(request, answer)
            except Exception:  # the JSON refusal still says what happened
                log.exception("could not render the error page for %s", request.url.path)
                return answer

        return handle

    return {kind: wrap(handler) for kind, handler in handlers.items()}


def _page(request: Request, answer: Response) -> Response:
    try:
        message = str(json.loads(bytes(answer.body))["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = "the request could not be served"
    status = answer.status_code
    retry = answer.headers.get("retry-after")
    title = _TITLES.get(status, "Something went wrong" if status >= 500 else "Refused")
    page = render(
        request,
        "error.html",
        {"title": title, "message": message, "status": status, "retry_after": retry},
        status,
    )
    for name in ("retry-after", "www-authenticate", "allow"):
        if name in answer.headers:
            page.headers[name] = answer.headers[name]
    return page
