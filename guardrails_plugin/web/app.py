"""The one reviewer-facing ASGI application: API v1, the inbox, sign-in, health.

`create_app` assembles it from parts that each do one thing (`api`, `inbox`, `signin`,
`stream`, `security`, `errors`); `guardrails-plugin serve` runs it under uvicorn with one worker
(sessions and rate limits live in the process). Other reviewer channels join as an `Extension`
(routes, and work started and stopped with the service): ``serve`` mounts the Slack app's
``/slack/events`` and runs its outbox this way when Slack is configured, so this package never
imports slack_bolt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from guardrails_plugin.approvals.broker import ApprovalBroker
from guardrails_plugin.web import api, errors
from guardrails_plugin.web.oidc import Provider
from guardrails_plugin.web.security import RateLimiter, SecurityHeaders, exception_handlers
from guardrails_plugin.web.sessions import Sessions
from guardrails_plugin.web.settings import WebSettings

__all__ = ["Extension", "create_app", "run"]

STATIC = Path(__file__).parent / "static"


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


class Extension(Protocol):
    """Another channel served by the same application (the Slack app: `notify.slack.asgi`)."""

    def routes(self) -> list[BaseRoute]: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(
    settings: WebSettings,
    broker: ApprovalBroker,
    provider: Provider,
    *,
    extensions: Sequence[Extension] = (),
) -> Starlette:
    """The service. Sessions expire by ``broker.clock``, so a test moves one clock for both."""
    from guardrails_plugin.web import inbox, signin, stream

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        started: list[Extension] = []
        try:
            for extension in extensions:
                extension.start()
                started.append(extension)
            yield
        finally:
            for extension in reversed(started):
                extension.stop()

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            *api.routes(),
            *stream.routes(),
            *signin.routes(),
            *inbox.routes(),
            *[route for extension in extensions for route in extension.routes()],
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers=errors.for_browsers(exception_handlers()),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.broker = broker
    app.state.provider = provider
    app.state.sessions = Sessions(settings.session_seconds, clock=broker.clock)
    app.state.vote_limit = RateLimiter(30, 60.0)
    # Per client address; one office behind one NAT shares it, so not too tight.
    app.state.login_limit = RateLimiter(60, 60.0)
    app.state.callback_limit = RateLimiter(30, 60.0)
    app.state.verify_limit = RateLimiter(6, 60.0)
    return app


def run(app: Starlette, host: str, port: int) -> None:
    """Serve under uvicorn with one worker: sessions, sign-ins in progress and rate limits
    live in this process."""
    import uvicorn

    # Client addresses (rate limits) come from X-Forwarded-For only from the trusted proxies
    # (GUARDRAILS_TRUSTED_PROXIES), else one remote proxy's address would be everyone's.
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=1,
        log_level="warning",
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=app.state.settings.trusted_proxies,
    )
