"""``/api/v1/stream``: Server-Sent Events, one ``request`` event per request created or changed
(status or revision), for the inbox's live list and for API clients.

The stream watches the store's change counter (cheap; PostgreSQL's is moved by NOTIFY, SQLite's
by any commit) and diffs the recent requests when it moves. An event carries only the id,
tool, status and revision: a client reads the rest through the API, with its own rights.

A stream re-checks its caller on every turn and ends as soon as the session is gone (sign-out,
expiry, a new sign-in) or the bearer token has expired; it also ends after `MAX_SECONDS`
(EventSource reconnects). One identity holds at most `MAX_PER_IDENTITY` open streams (each polls
the store), and comments keep proxies from closing an idle one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from guardrails_plugin.web.api import reader
from guardrails_plugin.web.auth import Caller, still_signed_in

__all__ = ["routes"]

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
MAX_SECONDS = 600.0
MAX_PER_IDENTITY = 4
_open_lock = threading.Lock()


def _open(request: Request) -> Counter[str]:
    """Open streams per identity, for this app."""
    with _open_lock:
        found = getattr(request.app.state, "open_streams", None)
        if not isinstance(found, Counter):
            found = Counter()
            request.app.state.open_streams = found
        return found


def _snapshot(store: Any) -> dict[str, tuple[str, int, str]]:
    return {
        r.id: (r.status.value, r.revision, r.tool) for r in store.list_requests(None, limit=300)
    }


class _Slot:
    """One identity's claim on a stream, taken in `stream` (check and count in one locked step,
    so parallel opens cannot all pass the check) and given back exactly once: when the body
    ends, or when the response ends without the body ever starting."""

    def __init__(self, streams: Counter[str], identity: str) -> None:
        self._streams = streams
        self._identity = identity
        self._held = True

    def release(self) -> None:
        with _open_lock:
            if not self._held:
                return
            self._held = False
            self._streams[self._identity] -= 1
            if self._streams[self._identity] <= 0:
                del self._streams[self._identity]


def _take(request: Request, identity: str) -> _Slot | None:
    streams = _open(request)
    with _open_lock:
        if streams[identity] >= MAX_PER_IDENTITY:
            return None
        streams[identity] += 1
    return _Slot(streams, identity)


class _CountedStream(StreamingResponse):
    """Gives the slot back however the response ends: a body never iterated (the client gone
    before the headers were sent, a failed send) runs no finally in the generator."""

    def __init__(self, content: AsyncIterator[str], slot: _Slot, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()


async def _events(request: Request, caller: Caller, store: Any, slot: _Slot) -> AsyncIterator[str]:
    try:
        async for event in _watch(request, caller, store):
            yield event
    finally:
        slot.release()  # as soon as the body ends, not only when the response does


async def _watch(request: Request, caller: Caller, store: Any) -> AsyncIterator[str]:
    started = time.monotonic()
    quiet = started
    token = await run_in_threadpool(store.change_token)
    seen = await run_in_threadpool(_snapshot, store)
    yield "retry: 2000\n\n"
    while time.monotonic() - started < MAX_SECONDS:
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)
        if not still_signed_in(request, caller):
            return  # signed out or expired: nothing more for this browser or token
        current = await run_in_threadpool(store.change_token)
        if current == token:
            if time.monotonic() - quiet > KEEPALIVE_SECONDS:
                quiet = time.monotonic()
                yield ": keep-alive\n\n"
            continue
        token = current
        now = await run_in_threadpool(_snapshot, store)
        for request_id, (status, revision, tool) in now.items():
            if seen.get(request_id) != (status, revision, tool):
                data = {"id": request_id, "tool": tool, "status": status, "revision": revision}
                yield f"event: request\ndata: {json.dumps(data)}\n\n"
        seen = now
        quiet = time.monotonic()


async def stream(request: Request) -> Response:
    caller = await reader(request)
    slot = _take(request, caller.identity)
    if slot is None:
        raise HTTPException(
            429,
            f"{caller.identity} already has {MAX_PER_IDENTITY} event streams open; close one",
            headers={"Retry-After": "10"},
        )
    try:
        events = _events(request, caller, request.app.state.broker.store, slot)
    except BaseException:
        slot.release()
        raise
    return _CountedStream(
        events,
        slot,
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )


def routes() -> list[BaseRoute]:
    return [Route("/api/v1/stream", stream, methods=["GET"])]
