"""Issue 12 (Done when, MCP): tools of a real MCP server, loaded by langchain-mcp-adapters, guarded.

A tiny FastMCP server (``mcp_server.py`` beside this file) runs over stdio in its own process;
its tools are loaded with ``load_mcp_tools`` (with a tool-call interceptor), guarded by
`guard_tools` or `GuardMiddleware`, and driven by a ``create_agent`` agent with a scripted model.
The server logs every call it really runs, so a test can tell that a denied call never reached
it. MCP tools are async only (``coroutine``), so the agents run with ``ainvoke``.

Properties (shared/research/RELIABILITY.md): P2 (nothing runs without the policy's allow or a
recorded approval), P11 (no canary in what the model reads or in the database files).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain.tools import ToolRuntime
from langchain_core.messages import ToolMessage
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.interceptors import MCPToolCallRequest
from langchain_mcp_adapters.tools import load_mcp_tools

from guardrails_plugin.store import Event
from guardrails_plugin.testing import ScriptedApprover, Vote

from ..security.agents import VARIANTS, agent_for, events, make_guard, tool_call
from ..security.conftest import stored_bytes

pytestmark = pytest.mark.timeout(120)

SERVER = Path(__file__).with_name("mcp_server.py")
EMAIL = "olga.brandt@example.org"
IBAN = "DE89370400440532013000"
CANARIES = {EMAIL: "<EMAIL_1>", IBAN: "<IBAN_1>"}
# A given name under `name` beside an email is a person (issue 13); alone in prose it is not.
NAME, NAME_FIELD = "Olga", '"name": "Olga"'

POLICY = """
version: 1
defaults: {effect: allow}
people:
  bob: [cli:bob]
groups:
  ops: [bob]
rules:
  - id: no-drops
    match: {tool: drop_table}
    effect: deny
    reason: Agents do not drop tables.
  - id: exports
    match: {tool: export_table}
    effect: require_approval
    reason: Exports need ops.
    approval: {approvers: [ops], timeout: 1m}
"""


class Interceptor:
    """A langchain-mcp-adapters tool-call interceptor that records each request it passes on."""

    def __init__(self) -> None:
        self.requests: list[MCPToolCallRequest] = []

    async def __call__(self, request: MCPToolCallRequest, handler: Any) -> Any:
        self.requests.append(request)
        return await handler(request)


class Run:
    """One agent run against a fresh server process: the tool messages, what the interceptor
    saw, and the calls the server really ran."""

    def __init__(self, messages: list[ToolMessage], seen: Interceptor, log: Path) -> None:
        self.messages = messages
        self.interceptor = seen
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        self.server_calls = [json.loads(line) for line in lines]


def drive(variant: str, guard: Any, calls: Sequence[dict[str, Any]], folder: Path) -> Run:
    """Load the server's tools through langchain-mcp-adapters and run a ``create_agent`` agent
    (guarded as ``variant``, or "plain") whose model makes ``calls`` in one turn."""
    log = folder / f"server-{variant}.jsonl"
    interceptor = Interceptor()

    async def go() -> list[ToolMessage]:
        connection = {
            "command": sys.executable,
            "args": [str(SERVER), str(log)],
            "transport": "stdio",
        }
        client = MultiServerMCPClient({"crm": connection})
        async with client.session("crm") as session:
            tools = await load_mcp_tools(
                session, tool_interceptors=[interceptor], server_name="crm"
            )
            agent = agent_for(variant, guard, tools, *calls)
            result = await agent.ainvoke(
                {"messages": [("user", "go")]}, {"configurable": {"thread_id": "t-1"}}
            )
        return [m for m in result["messages"] if isinstance(m, ToolMessage)]

    return Run(asyncio.run(go()), interceptor, log)


def masked(value: Any) -> Any:
    """``value`` with each canary replaced by its placeholder (strings, lists and dicts)."""
    if isinstance(value, str):
        for raw, placeholder in CANARIES.items():
            value = value.replace(raw, placeholder)
        return value.replace(NAME_FIELD, '"name": "<PERSON_1>"')
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {
            k: "<PERSON_1>" if (k, v) == ("name", NAME) else masked(v) for k, v in value.items()
        }
    return value


def seen(message: ToolMessage) -> dict[str, Any]:
    """A tool message as the model and the graph get it, without the ids drawn at random (the
    message's, and the adapter's ``lc_…`` id on each content block)."""
    dumped = message.model_dump(exclude={"id"})
    if isinstance(dumped["content"], list):
        dumped["content"] = [
            {k: v for k, v in block.items() if k != "id"} for block in dumped["content"]
        ]
    return dumped


def assert_clean(guard: Any, folder: Path) -> None:
    for row in events(guard, Event.TOOL_EXECUTED):
        assert set(row) == {"tool", "elapsed_ms", "output_classes", "run_id"}
    stored = stored_bytes(folder / "guard.db")
    for raw in CANARIES:
        assert raw.encode() not in stored


@pytest.mark.parametrize("variant", VARIANTS)
def test_text_and_structured_results_reach_the_model_masked(variant: str, tmp_path: Path) -> None:
    """An MCP text result (content blocks) and a structured one (the JSON text block and the
    ``structured_content`` artifact) are the unguarded run's, with only the canaries masked:
    same blocks, same JSON layout, same artifact shape."""
    calls = [
        tool_call("find_contact", {"name": "Olga"}, call_id="call_mcp_1"),
        tool_call("get_customer", {"customer_id": 3}, call_id="call_mcp_2"),
    ]
    plain = drive("plain", None, calls, tmp_path)
    guard = make_guard(tmp_path, POLICY)
    guarded = drive(variant, guard, calls, tmp_path)
    assert len(plain.messages) == 2 and all(m.status == "success" for m in plain.messages)
    assert [seen(m) for m in guarded.messages] == [masked(seen(m)) for m in plain.messages]
    customer = guarded.messages[1]
    assert customer.artifact["structured_content"]["email"] == "<EMAIL_1>"
    assert "<IBAN_1>" in customer.content[0]["text"]
    assert [c["tool"] for c in guarded.server_calls] == ["find_contact", "get_customer"]
    assert_clean(guard, tmp_path)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_denied_call_never_reaches_the_server(variant: str, tmp_path: Path) -> None:
    """The policy's deny: the model reads the refusal as an error tool message; neither the
    interceptor nor the server ever sees the call."""
    guard = make_guard(tmp_path, POLICY)
    run = drive(variant, guard, [tool_call("drop_table", {"table": "customers"})], tmp_path)
    (message,) = run.messages
    assert message.status == "error" and "Agents do not drop tables" in str(message.content)
    assert run.interceptor.requests == [] and run.server_calls == []
    assert [r.event for r in guard.store.audit_rows()] == [Event.CALL_EVALUATED]


@pytest.mark.parametrize("verdict", ["approve", "deny"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_an_approval_gates_the_call(variant: str, verdict: str, tmp_path: Path) -> None:
    """``require_approval``: the call waits for the reviewer (ScriptedApprover, through the
    real broker); approved, it runs once on the server; denied, never."""
    guard = make_guard(tmp_path, POLICY)
    call = tool_call("export_table", {"database": "prod", "table": "orders"})
    with ScriptedApprover(guard.broker, "cli:bob", decide=lambda r: Vote(verdict, "checked")):
        run = drive(variant, guard, [call], tmp_path)
    (message,) = run.messages
    if verdict == "approve":
        assert message.status == "success"
        assert message.content[0]["text"] == "exported prod.orders"
        assert run.server_calls == [
            {"tool": "export_table", "args": {"database": "prod", "table": "orders"}}
        ]
    else:
        assert message.status == "error" and run.server_calls == []
        assert run.interceptor.requests == []


@pytest.mark.parametrize("variant", ["wrapper", "middleware", "plain"])
def test_interceptors_keep_the_runtime(variant: str, tmp_path: Path) -> None:
    """langchain-mcp-adapters hands interceptors LangGraph's ``ToolRuntime`` (state, context,
    store) when the tool runs inside a graph; a guarded tool must not take it away."""
    guard = None if variant == "plain" else make_guard(tmp_path, POLICY)
    call = tool_call("find_contact", {"name": "Olga"}, call_id="call_mcp_rt")
    run = drive(variant, guard, [call], tmp_path)
    (request,) = run.interceptor.requests
    assert request.args == {"name": "Olga"}
    assert isinstance(request.runtime, ToolRuntime)
    assert request.runtime.tool_call_id == "call_mcp_rt"
