"""The Slack app inside another ASGI application: ``POST /slack/events`` as a Starlette route,
and the outbox loop started and stopped with the host's lifespan.

``guardrails-plugin serve`` mounts it next to the API and the inbox, so a deployment runs one
reviewer-facing service. Not Bolt's own ``slack_bolt.adapter.starlette`` handler: that reads
any body whole, calls the synchronous ``App.dispatch`` on the event loop (a Slack Web API call
there would stall every other request, the event streams included) and lets a non-UTF-8 body
become a 500. Here the body is read with the `MAX_BODY` limit and `server.dispatch` (the same
checks `SlackServer` makes; Bolt verifies signature and timestamp) runs in a worker thread.
"""

from __future__ import annotations

from slack_bolt import App
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from guardrails_plugin.notify.slack.outbox import SlackOutbox
from guardrails_plugin.notify.slack.server import EVENTS_PATH, MAX_BODY, OutboxLoop, dispatch

__all__ = ["SlackEndpoint"]


class SlackEndpoint:
    """The Bolt ``app`` as routes for a host ASGI app, and its ``outbox`` run every
    ``sync_interval`` seconds between `start` and `stop` (None: never, for tests that drive it)."""

    def __init__(self, app: App, outbox: SlackOutbox, *, sync_interval: float | None = 0.5):
        self.app = app
        self.outbox = outbox
        self._loop = OutboxLoop(outbox, sync_interval) if sync_interval is not None else None

    def routes(self) -> list[BaseRoute]:
        return [Route(EVENTS_PATH, self._events, methods=["POST"])]

    def start(self) -> None:
        if self._loop is not None:
            self._loop.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()

    async def _events(self, request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            status = 413 if declared.isdigit() else 400
            return PlainTextResponse("request too large" if status == 413 else "bad length", status)
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                return PlainTextResponse("request too large", 413)
        status, body, headers = await run_in_threadpool(
            dispatch, self.app, bytes(raw), list(request.headers.items())
        )
        # Bolt's headers are lists (one value each here); Starlette sets the length itself.
        first = {
            name.lower(): str(values[0] if isinstance(values, list | tuple) else values)
            for name, values in headers.items()
            if name.lower() != "content-length" and values
        }
        return Response(body, status, headers=first, media_type=None)
