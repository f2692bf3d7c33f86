"""``guardrails-plugin mcp proxy``: the MCP gateway in front of any MCP server."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from guardrails_plugin.cli import render
from guardrails_plugin.cli.approvals import DB_HELP, POLICY_ENV
from guardrails_plugin.errors import GuardError, PolicyError

__all__ = ["mcp"]

PRINCIPAL_ENV = "GUARDRAILS_PRINCIPAL"
DEFAULT_PRINCIPAL = "agent:mcp-gateway"


@click.group()
def mcp() -> None:
    """Guard the tools of any MCP server for any MCP client."""


@mcp.command("proxy", context_settings={"ignore_unknown_options": True})
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The policy (default: $GUARDRAILS_POLICY).",
)
@click.option("--db", type=str, default=None, metavar="PATH|URL", help=DB_HELP)
@click.option(
    "--principal",
    default=None,
    help=f"The agent's identity (default: ${PRINCIPAL_ENV}, then {DEFAULT_PRINCIPAL}).",
)
@click.option("--on-behalf-of", default=None, help="The human the client acts for, e.g. cli:alice.")
@click.option(
    "--upstream-url", default=None, help="The upstream server's streamable HTTP URL (no COMMAND)."
)
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="How clients reach the gateway; http serves streamable HTTP on /mcp.",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address for --transport http."
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port for http."
)
@click.option(
    "--progress-interval",
    type=click.FloatRange(0.05, 3600),
    default=10.0,
    show_default=True,
    help="Seconds between progress notifications while a call waits for approval.",
)
@click.option(
    "--upstream-timeout",
    type=click.FloatRange(0.1, 86400),
    default=300.0,
    show_default=True,
    help="Seconds the upstream may take to answer one call or read (the wait for approval not "
    "counted); past it the call is cancelled upstream and fails.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="HOST:PORT",
    help="Another Host header --transport http serves (DNS-rebinding protection; repeatable).",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    metavar="URL",
    help="Another browser Origin --transport http serves (repeatable).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Let --transport http bind beyond loopback although it has no authentication (only "
    "behind a proxy that authenticates clients).",
)
@click.option(
    "--env",
    "env_passthrough",
    multiple=True,
    metavar="NAME",
    help="A GUARDRAILS_* variable the upstream command may see (all others are removed; "
    "repeatable).",
)
@click.option("--no-ner", is_flag=True, help="Skip spaCy NER (faster start; fewer names found).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def proxy(
    policy: Path | None,
    db: str | None,
    principal: str | None,
    on_behalf_of: str | None,
    upstream_url: str | None,
    transport: str,
    host: str,
    port: int,
    progress_interval: float,
    upstream_timeout: float,
    allowed_hosts: tuple[str, ...],
    allowed_origins: tuple[str, ...],
    allow_remote: bool,
    env_passthrough: tuple[str, ...],
    no_ner: bool,
    command: tuple[str, ...],
) -> None:
    """Serve the tools of the MCP server COMMAND (after ``--``), or of --upstream-url, with
    every tool call masked, judged by the policy, and approved where it says so.

    \b
    guardrails-plugin mcp proxy --policy policy.yaml -- npx -y @modelcontextprotocol/server-github

    Tools are listed unchanged and only listed tools may be called; resources/read and
    prompts/get are judged and masked as calls of the tools `resources/read` and `prompts/get`.
    The upstream command gets the environment without GUARDRAILS_* variables (see --env).
    --transport http has no authentication: it serves loopback only unless --allow-remote. Log
    lines (which request waits, the commands that decide it) go to stderr: stdout is the MCP
    channel.
    """
    try:
        from guardrails_plugin.integrations.mcp import Upstream, run
        from guardrails_plugin.integrations.mcp.gateway import is_loopback
    except ImportError as exc:
        raise click.ClickException(
            f"the MCP gateway needs the mcp extra ({exc.name} is missing): "
            "pip install 'guardrails-plugin[mcp]'"
        ) from None
    from guardrails_plugin.guard import Guard
    from guardrails_plugin.masking import Masker

    path = policy or (Path(os.environ[POLICY_ENV]) if os.environ.get(POLICY_ENV) else None)
    if path is None:
        raise click.BadParameter(
            "give the policy with --policy or GUARDRAILS_POLICY", param_hint="--policy"
        )
    if transport == "http" and not is_loopback(host) and not allow_remote:
        raise click.BadParameter(
            f"{host} is not a loopback address, and --transport http has no authentication: "
            "anyone who reaches it would call every allowed tool. Use 127.0.0.1, or pass "
            "--allow-remote behind a proxy that authenticates clients",
            param_hint="--host",
        )
    try:
        upstream = Upstream(command=command, url=upstream_url, env_passthrough=env_passthrough)
    except ValueError as exc:
        raise click.UsageError(f"{exc}: `-- COMMAND [ARGS...]` or --upstream-url URL") from None
    logging.basicConfig(level=logging.INFO, format="guardrails-plugin: %(message)s")
    try:
        guard = Guard.from_policy(
            path,
            store=db,
            principal=principal or os.environ.get(PRINCIPAL_ENV) or DEFAULT_PRINCIPAL,
            on_behalf_of=on_behalf_of,
            masker=Masker(ner=not no_ner),
        )
    except PolicyError as exc:
        render.print_policy_error(render.stderr(), exc)
        raise SystemExit(1) from None
    except GuardError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        run(
            guard,
            upstream,
            transport=transport,
            host=host,
            port=port,
            progress_interval=progress_interval,
            upstream_timeout=upstream_timeout,
            allowed_hosts=allowed_hosts,
            allowed_origins=allowed_origins,
            allow_remote=allow_remote,
        )
    finally:
        guard.store.close()
