"""Web security in one place: response headers (a strict Content-Security-Policy), JSON errors
for every refusal, request bodies read with a size and depth limit, and rate limits.

Every malformed request gets a 4xx with a JSON body ``{"error": {"status", "message"}}``; a
request the service cannot serve because its store fails gets a 503. Nothing reaches the client
as a 500 traceback. Numbers from the client are ASCII digits of bounded length (``"²".isdigit()``
is true, ``int("²")`` fails) and JSON numbers past Python's digit limit are a 400.

When the public URL is https, every answer carries ``Strict-Transport-Security``, so a browser
that reached the inbox once never again sends its session over plain http.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from guardrails_plugin.errors import StoreError

__all__ = [
    "CSP",
    "MAX_BODY",
    "RateLimiter",
    "SecurityHeaders",
    "exception_handlers",
    "json_error",
    "limiter",
    "parse_int",
    "read_json",
]

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
MAX_DEPTH = 32
HSTS = b"max-age=31536000"
_DIGITS = re.compile(r"[0-9]{1,18}")
# No inline script or style, no eval, nothing framed, forms post only here.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class SecurityHeaders:
    """Adds the security headers to every HTTP response, and ``Cache-Control: no-store`` to all
    but static files (pages hold masked but still sensitive data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")
        settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
        https = str(getattr(settings, "public_url", "")).startswith("https://")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"server"]
                headers += _HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                if https:
                    headers.append((b"strict-transport-security", HSTS))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "message": message}}, status_code=status, headers=headers
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_error(exc.status_code, str(exc.detail), exc.headers)


async def _store_error(request: Request, exc: Exception) -> Response:
    log.error("store failure serving %s: %s", request.url.path, exc)
    return json_error(503, "the approval store is unavailable; try again")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s", request.url.path)
    return json_error(500, "internal error")


def exception_handlers() -> dict[Any, Any]:
    return {HTTPException: _http_error, StoreError: _store_error, Exception: _unexpected}


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused (413) past ``limit`` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None:
        size = parse_int(declared)
        if size is None or size > limit:
            raise HTTPException(413 if size is not None else 400, f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body over {limit} bytes")
    return bytes(body)


async def read_json(request: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    """A JSON object body, or a 4xx saying what is wrong with it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, "send a JSON object with Content-Type: application/json")
    raw = await read_body(request, limit)
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None
    except ValueError:  # a number past the int-string limit: valid syntax, no usable value
        raise HTTPException(400, "body holds a number too long to read") from None
    if not isinstance(value, dict):
        raise HTTPException(400, "body must be a JSON object")
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise HTTPException(400, f"body nests deeper than {MAX_DEPTH} levels")
    return value


def parse_int(raw: str | None) -> int | None:
    """``raw`` as a non-negative integer when it is 1-18 ASCII digits, else None."""
    return int(raw) if raw is not None and _DIGITS.fullmatch(raw) else None


def limiter(request: Request, name: str, limit: int, window: float) -> RateLimiter:
    """The app's limiter ``name``, made on first use (one per app, like those `create_app`
    makes)."""
    state = request.app.state
    found = getattr(state, name, None)
    if not isinstance(found, RateLimiter):
        with _MAKE:
            found = getattr(state, name, None)
            if not isinstance(found, RateLimiter):
                found = RateLimiter(limit, window)
                setattr(state, name, found)
    return found


_MAKE = threading.Lock()


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (sliding window, in memory: one
    service process). Keys are identities or client addresses."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one event for ``key``; 429 with Retry-After once over the limit."""
        now = time.monotonic()
        with self._lock:
            if len(self._events) >= self.max_keys and key not in self._events:
                self._events = {
                    k: q for k, q in self._events.items() if q and q[-1] > now - self.window
                }
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                retry = max(1, int(events[0] + self.window - now) + 1)
                raise HTTPException(
                    429, "too many requests; slow down", headers={"Retry-After": str(retry)}
                )
            events.append(now)
