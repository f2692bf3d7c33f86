"""``/api/v1/stream``: Server-Sent Events, one ``request`` event per request created or changed
(status or revision), for the inbox's live list and for API clients.

The stream watches the store's change counter (cheap; PostgreSQL's is moved by NOTIFY, SQLite's
by any commit) and diffs the recent requests when it moves. An event carries only the id,
tool, status and revision: a client reads the rest through the API, with its own rights. A
stream ends after `MAX_SECONDS` (EventSource reconnects), so a revoked session stops receiving
soon after, and comments keep proxies from closing an idle one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from guardrails_plugin.web.auth import authenticate

__all__ = ["routes"]

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
MAX_SECONDS = 600.0


def _snapshot(store: Any) -> dict[str, tuple[str, int, str]]:
    return {
        r.id: (r.status.value, r.revision, r.tool) for r in store.list_requests(None, limit=300)
    }


async def _events(request: Request, store: Any) -> AsyncIterator[str]:
    started = time.monotonic()
    quiet = started
    token = await run_in_threadpool(store.change_token)
    seen = await run_in_threadpool(_snapshot, store)
    yield "retry: 2000\n\n"
    while time.monotonic() - started < MAX_SECONDS:
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)
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
    await authenticate(request)
    return StreamingResponse(
        _events(request, request.app.state.broker.store),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )


def routes() -> list[BaseRoute]:
    return [Route("/api/v1/stream", stream, methods=["GET"])]
