"""Running the gateway: connect to the upstream server, then serve clients on stdio or HTTP.

    upstream: a command it launches (stdio) | a streamable HTTP URL
    clients:  stdio (one client: the process that launched the gateway) | streamable HTTP

The upstream connection lives as long as the gateway; when it breaks (the server exits or
crashes), every call from then on is a tool error naming the failure, and the gateway keeps
answering so the client is never left waiting on a dead pipe.

The HTTP transport has no authentication: whoever reaches it calls every allowed tool as the
gateway's principal. So it binds to loopback by default, refuses another address unless the
operator says so (`allow_remote`, for a gateway behind an authenticating proxy), and keeps the
SDK's DNS-rebinding protection on: a request whose Host or Origin names another site (a web page
that rebound its own name to 127.0.0.1) gets 421/403.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.mcp.proxy import GuardedProxy

__all__ = ["LOOPBACK", "Upstream", "child_environment", "connect", "run", "serve"]

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The guard's own variables (audit and masking keys, session and OIDC secrets, the store's URL
# with its password) are not the upstream's business: a hostile server command holding the audit
# key could forge audit rows. `--env NAME` hands one on explicitly.
_GUARD_PREFIX = "GUARDRAILS_"


def child_environment(
    environ: Mapping[str, str], passthrough: Sequence[str] = ()
) -> dict[str, str]:
    """The environment the upstream command gets: the gateway's, without ``GUARDRAILS_*``
    variables except those named in ``passthrough``."""
    keep = set(passthrough)
    return {k: v for k, v in environ.items() if not k.startswith(_GUARD_PREFIX) or k in keep}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Upstream:
    """Where the real MCP server is: a command to launch, or a streamable HTTP URL."""

    command: Sequence[str] = ()
    url: str | None = None
    # GUARDRAILS_* variables the command may see (all others of that prefix are removed).
    env_passthrough: Sequence[str] = ()

    def __post_init__(self) -> None:
        if bool(self.command) == bool(self.url):
            raise ValueError("give the upstream server as a command or as a URL, not both")


@contextlib.asynccontextmanager
async def connect(
    upstream: Upstream, *, message_handler: Any = None
) -> AsyncIterator[tuple[ClientSession, types.InitializeResult]]:
    """An initialized client session to ``upstream``; ``message_handler`` hears its
    notifications (the SDK's ``ClientSession`` hook)."""
    async with contextlib.AsyncExitStack() as stack:
        if upstream.url is not None:
            from mcp.client import streamable_http

            client: Any = getattr(streamable_http, "streamable_http_client", None)
            client = client or streamable_http.streamablehttp_client
            read, write, *_ = await stack.enter_async_context(client(upstream.url))
        else:
            command, *args = upstream.command
            # The upstream gets the gateway's environment (the client configured it for the
            # server it means to run: API tokens), less the guard's own secrets.
            env = child_environment(os.environ, upstream.env_passthrough)
            params = StdioServerParameters(command=command, args=args, env=env)
            read, write = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(
            ClientSession(read, write, message_handler=message_handler)
        )
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
    upstream_timeout: float = 300.0,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    allow_remote: bool = False,
) -> None:
    """Serve the guarded upstream until the client goes away (stdio) or forever (http).

    ``allowed_hosts`` / ``allowed_origins``: Host and Origin values the HTTP transport serves
    besides its own address (and, on loopback, ``localhost``/``127.0.0.1``/``[::1]``).
    ``allow_remote``: bind HTTP to an address other than loopback although nothing
    authenticates the clients (refused otherwise)."""
    if transport not in ("stdio", "http"):
        raise ValueError(f"transport {transport!r} is not one of stdio, http")
    if transport == "http" and not is_loopback(host):
        if not allow_remote:
            raise ValueError(
                f"--host {host} would let anyone who reaches it call every allowed tool: the "
                "HTTP transport has no authentication. Bind to 127.0.0.1, or put an "
                "authenticating proxy in front and pass --allow-remote"
            )
        log.warning(
            "SERVING WITHOUT AUTHENTICATION on %s:%s: anyone who reaches this address calls "
            "every allowed tool as %s",
            host,
            port,
            guard.principal.agent,
        )
    proxies: list[GuardedProxy] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ServerNotification) and isinstance(
            message.root, types.ToolListChangedNotification
        ):
            for proxy in proxies:
                proxy.listing_changed()

    async with connect(upstream, message_handler=on_message) as (session, info):
        proxy = GuardedProxy(
            guard,
            session,
            info,
            progress_interval=progress_interval,
            upstream_timeout=upstream_timeout,
        )
        proxies.append(proxy)
        if transport == "stdio":
            from mcp.server.stdio import stdio_server

            async with stdio_server() as (read, write):
                await proxy.server.run(read, write, proxy.initialization_options())
        else:
            security = transport_security(host, port, allowed_hosts, allowed_origins)
            await _serve_http(proxy, host, port, security)


def transport_security(
    host: str, port: int, allowed_hosts: Sequence[str] = (), allowed_origins: Sequence[str] = ()
) -> Any:
    """The SDK's DNS-rebinding protection, on: Host must name the gateway (its bound address,
    and on loopback the usual loopback names), Origin, when a browser sends one, likewise."""
    from mcp.server.transport_security import TransportSecuritySettings

    names = {host} | (set(LOOPBACK) if is_loopback(host) else set())
    # Port 0 (any free port) is only known once bound: match any port on those names.
    at = f":{port}" if port else ":*"
    hosts = [f"[{n}]{at}" if ":" in n else f"{n}{at}" for n in sorted(names)]
    hosts += list(allowed_hosts)
    origins = [f"http://{h}" for h in hosts]
    origins += list(allowed_origins)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


async def _serve_http(proxy: GuardedProxy, host: str, port: int, security: Any) -> None:
    import uvicorn
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from starlette.applications import Starlette
    from starlette.routing import Mount

    manager = StreamableHTTPSessionManager(app=proxy.server, security_settings=security)

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
