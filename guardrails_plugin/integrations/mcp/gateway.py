"""Running the gateway: connect to the upstream server, then serve clients on stdio or HTTP.

    upstream: a command it launches (stdio) | a streamable HTTP URL
    clients:  stdio (one client: the process that launched the gateway) | streamable HTTP

The upstream connection lives as long as the gateway; when it breaks (the server exits or
crashes), every call from then on is a tool error naming the failure, and the gateway keeps
answering so the client is never left waiting on a dead pipe.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.mcp.proxy import GuardedProxy

__all__ = ["Upstream", "connect", "run", "serve"]


@dataclass(frozen=True)
class Upstream:
    """Where the real MCP server is: a command to launch, or a streamable HTTP URL."""

    command: Sequence[str] = ()
    url: str | None = None

    def __post_init__(self) -> None:
        if bool(self.command) == bool(self.url):
            raise ValueError("give the upstream server as a command or as a URL, not both")


@contextlib.asynccontextmanager
async def connect(
    upstream: Upstream,
) -> AsyncIterator[tuple[ClientSession, types.InitializeResult]]:
    """An initialized client session to ``upstream``."""
    async with contextlib.AsyncExitStack() as stack:
        if upstream.url is not None:
            from mcp.client import streamable_http

            client: Any = getattr(streamable_http, "streamable_http_client", None)
            client = client or streamable_http.streamablehttp_client
            read, write, *_ = await stack.enter_async_context(client(upstream.url))
        else:
            command, *args = upstream.command
            # The upstream gets the gateway's environment: the client configured it for the
            # server it means to run (API tokens), not for the gateway.
            params = StdioServerParameters(command=command, args=args, env=dict(os.environ))
            read, write = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(ClientSession(read, write))
        info = await session.initialize()
        yield session, info


async def serve(
    guard: Guard,
    upstream: Upstream,
    *,
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    progress_interval: float = 10.0,
) -> None:
    """Serve the guarded upstream until the client goes away (stdio) or forever (http)."""
    async with connect(upstream) as (session, info):
        proxy = GuardedProxy(guard, session, info, progress_interval=progress_interval)
        if transport == "stdio":
            from mcp.server.stdio import stdio_server

            async with stdio_server() as (read, write):
                await proxy.server.run(read, write, proxy.initialization_options())
        elif transport == "http":
            await _serve_http(proxy, host, port)
        else:
            raise ValueError(f"transport {transport!r} is not one of stdio, http")


async def _serve_http(proxy: GuardedProxy, host: str, port: int) -> None:
    import uvicorn
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from starlette.applications import Starlette
    from starlette.routing import Mount

    manager = StreamableHTTPSessionManager(app=proxy.server)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    app = Starlette(routes=[Mount("/mcp", app=manager.handle_request)], lifespan=lifespan)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    await uvicorn.Server(config).serve()


def run(guard: Guard, upstream: Upstream, **options: Any) -> None:
    """`serve`, from synchronous code (the CLI)."""
    anyio.run(lambda: serve(guard, upstream, **options))
