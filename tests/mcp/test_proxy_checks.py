"""The gateway's own checks, in process: `GuardedProxy` between two in-memory MCP sessions, the
upstream being tests/mcp/upstream.py's FastMCP server (which coerces arguments with pydantic, as
most MCP servers do), a real SQLite store in tmp_path and a real policy."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, types
from mcp.shared.memory import create_connected_server_and_client_session

from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.mcp import GuardedProxy
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY
from . import upstream

DEADLINE = 60

POLICY = """
version: 1
defaults: {effect: allow}
people: {bob: [cli:bob]}
rules:
  - id: no-real-purge
    match: {tool: purge, args: {dry_run: false}}
    effect: deny
    reason: Only dry runs of purge
  - id: deploy
    match: {tool: deploy}
    effect: require_approval
    approval: {approvers: [bob], timeout: 5m}
"""

Scenario = Callable[[ClientSession], Awaitable[Any]]


def _gateway(tmp_path: Path, monkeypatch, scenario: Scenario, **guard: Any) -> tuple[Any, list]:
    """Run ``scenario`` against the proxy; its result, and the audit's (event, data) rows."""
    monkeypatch.setenv("UPSTREAM_LOG", str(tmp_path / "upstream.log"))
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard_ = Guard(
        Policy.from_string(POLICY),
        store,
        principal="agent:bot",
        masker=Masker(ner=False),
        watch_policy=False,
        **guard,
    )

    async def run() -> Any:
        with anyio.fail_after(DEADLINE):
            async with create_connected_server_and_client_session(upstream.app) as session:
                proxy = GuardedProxy(guard_, session, await session.initialize())
                async with create_connected_server_and_client_session(proxy.server) as client:
                    await client.list_tools()
                    return await scenario(client)

    try:
        result = anyio.run(run)
        return result, [(r.event, dict(r.data)) for r in store.audit_rows()]
    finally:
        store.close()


def _ran(tmp_path: Path) -> list[dict[str, Any]]:
    log = tmp_path / "upstream.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _text(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


@pytest.mark.parametrize("sent", ["false", "no", 0, "0"])
def test_arguments_that_do_not_fit_the_input_schema_are_refused_not_coerced(
    tmp_path, monkeypatch, sent
):
    """A deny rule on ``dry_run: false`` cannot be dodged by sending ``"false"`` (or ``"no"``,
    ``0``): the policy would judge the string, and the upstream's SDK would turn it into False
    and purge. Arguments must fit the tool's listed input schema, with JSON Schema's strict
    types, or the call is refused and the upstream never runs (RELIABILITY P4: fail closed)."""

    async def scenario(client: ClientSession) -> types.CallToolResult:
        return await client.call_tool("purge", {"dry_run": sent})

    result, rows = _gateway(tmp_path, monkeypatch, scenario)
    assert result.isError, _text(result)
    assert "input schema" in _text(result)
    assert _ran(tmp_path) == []
    assert "call.evaluated" not in [event for event, _ in rows]
    assert ("tool.args_refused", "purge") in [(e, d.get("tool")) for e, d in rows]


def test_a_real_boolean_is_judged_by_the_policy(tmp_path, monkeypatch):
    """The schema check refuses only what does not fit: ``false`` reaches the policy (denied
    by its rule), ``true`` is allowed and runs."""

    async def scenario(client: ClientSession) -> list[types.CallToolResult]:
        return [
            await client.call_tool("purge", {"dry_run": False}),
            await client.call_tool("purge", {"dry_run": True}),
        ]

    (denied, allowed), _rows = _gateway(tmp_path, monkeypatch, scenario)
    assert denied.isError and "Only dry runs of purge" in _text(denied)
    assert not allowed.isError, _text(allowed)
    assert _ran(tmp_path) == [{"tool": "purge", "args": {"dry_run": True}}]


def test_a_timed_out_approval_wait_says_so_and_is_no_guard_error(tmp_path, monkeypatch):
    """A call whose approval is not decided within the guard's ``wait_timeout`` comes back with
    the timeout's sentence, not "internal error", and the audit holds no ``guard.error``
    (RELIABILITY P5: a wait ends in a decision or a clear denial)."""

    async def scenario(client: ClientSession) -> types.CallToolResult:
        return await client.call_tool("deploy", {"service": "api"})

    result, rows = _gateway(tmp_path, monkeypatch, scenario, wait_timeout=0.3)
    assert result.isError
    assert "no decision on approval request" in _text(result) and "in time" in _text(result)
    assert "internal error" not in _text(result)
    assert "guard.error" not in [event for event, _ in rows]
    assert _ran(tmp_path) == []


def test_a_refused_tool_name_adds_no_placeholder_to_the_session(tmp_path, monkeypatch):
    """A made-up tool name is masked for the audit in a throwaway vault: the values in it do
    not become placeholders of the session's run, so the next real call's first address is
    still ``<EMAIL_1>`` (a client cannot fill the run's vault with names it invents)."""

    async def scenario(client: ClientSession) -> types.CallToolResult:
        refused = await client.call_tool("mail made.up@example.com", {})
        assert refused.isError and "does not list" in _text(refused)
        return await client.call_tool("lookup", {"customer": "real.person@example.com"})

    _result, rows = _gateway(tmp_path, monkeypatch, scenario)
    (refused,) = [d["tool"] for event, d in rows if event == "tool.unlisted"]
    assert "made.up@example.com" not in refused and "<EMAIL" in refused
    (evaluated,) = [d for event, d in rows if event == "call.evaluated"]
    assert evaluated["masked_args"] == {"customer": "<EMAIL_1>"}
