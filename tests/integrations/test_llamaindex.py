"""Real LlamaIndex agents (FunctionAgent, ReActAgent, AgentWorkflow) with a scripted
function-calling LLM, their tools guarded."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from typing import Any

from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent, ReActAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool

from guardrails_plugin.integrations.llamaindex import (
    ApprovalDecidedEvent,
    ApprovalRequiredEvent,
    guard_tool,
    guard_tools,
    install_audit_handler,
)
from guardrails_plugin.store import Event, Status
from guardrails_plugin.testing import ScriptedApprover, Vote

from ..helpers import KEY
from .conftest import Spy


def scripted(turns: list[list[tuple[str, dict[str, Any]]]], final: str = "All done.") -> Any:
    """An LLM that emits one list of tool calls per turn, then a final answer."""
    state = {"turn": 0}

    def respond(messages: Any, **kwargs: Any) -> ChatMessage:
        turn = state["turn"]
        state["turn"] += 1
        if turn < len(turns):
            calls = [
                ToolSelection(tool_id=f"t{turn}-{i}", tool_name=name, tool_kwargs=args)
                for i, (name, args) in enumerate(turns[turn])
            ]
            return ChatMessage(
                role="assistant", content="", additional_kwargs={"tool_calls": calls}
            )
        return ChatMessage(role="assistant", content=final)

    return MockFunctionCallingLLM(response_generator=respond)


def make_tools(spy: Spy) -> list[FunctionTool]:
    def lookup_customer(customer_id: int) -> dict:
        """Look up a customer by id."""
        spy.record("lookup_customer", {"customer_id": customer_id})
        return {"id": customer_id, "name": "Ana Lopez", "email": "ana.lopez@example.org"}

    def send_email(to: str, body: str) -> str:
        """Send an email."""
        spy.record("send_email", {"to": to, "body": body})
        return f"sent to {to}"

    def post_webhook(body: str) -> str:
        """Post to a webhook."""
        spy.record("post_webhook", {"body": body})
        return "posted"

    def s3_put_bucket_acl(bucket: str, acl: str) -> str:
        """Change a bucket ACL."""
        spy.record("s3_put_bucket_acl", {"bucket": bucket})
        return "ok"

    async def export_table(database: str, table: str) -> str:
        """Export a table to S3."""
        spy.record("export_table", {"database": database, "table": table})
        return f"exported {table}"

    def restart_service(name: str) -> str:
        """Restart a service."""
        spy.record("restart_service", {"name": name})
        return "restarted"

    tools = [lookup_customer, send_email, post_webhook, s3_put_bucket_acl, restart_service]
    return [FunctionTool.from_defaults(f) for f in tools] + [
        FunctionTool.from_defaults(async_fn=export_table)
    ]


async def run_agent(agent: Any, events: list[Any] | None = None) -> tuple[Any, dict[str, Any]]:
    handler = agent.run("go")
    results: dict[str, Any] = {}
    async for event in handler.stream_events():
        name = type(event).__name__
        if name == "ToolCallResult":
            results.setdefault(event.tool_name, []).append(event.tool_output)
        if events is not None and isinstance(event, ApprovalRequiredEvent | ApprovalDecidedEvent):
            events.append(event)
    return await handler, results


def function_agent(guard: Any, spy: Spy, turns: Any, **kw: Any) -> FunctionAgent:
    return FunctionAgent(tools=guard_tools(make_tools(spy), guard, **kw), llm=scripted(turns))


def test_allow_masks_and_deny_reaches_the_model(guard, spy):
    agent = function_agent(
        guard,
        spy,
        [
            [
                ("lookup_customer", {"customer_id": 7}),
                ("s3_put_bucket_acl", {"bucket": "exports", "acl": "public-read"}),
            ]
        ],
    )
    final, results = asyncio.run(run_agent(agent))
    [looked_up] = results["lookup_customer"]
    assert not looked_up.is_error and "ana.lopez" not in looked_up.content
    assert "<EMAIL_1>" in looked_up.content and "<PERSON_1>" in looked_up.content
    assert looked_up.raw_output["email"] == "<EMAIL_1>"
    [denied] = results["s3_put_bucket_acl"]
    assert denied.is_error
    assert (
        denied.content == "Denied by policy rule 'no-public-buckets': Public buckets are forbidden."
    )
    assert spy.names() == ["lookup_customer"]
    assert str(final) == "All done."


def test_the_wrapped_tool_has_the_identical_schema(guard, spy):
    """With ``events=True`` too: approval events go through the step's context, so the tool
    does not ask for the context unless the original does (issue 12)."""
    for original in make_tools(spy):
        for events in (False, True):
            wrapped = guard_tool(original, guard, events=events)
            assert isinstance(wrapped, FunctionTool)
            assert wrapped.metadata.to_openai_tool() == original.metadata.to_openai_tool()
            assert wrapped.metadata.return_direct == original.metadata.return_direct
            assert wrapped.requires_context == original.requires_context


def test_approval_waits_and_streams_events(guard, spy):
    agent = function_agent(
        guard, spy, [[("export_table", {"database": "prod-eu", "table": "c"})]], events=True
    )
    events: list[Any] = []
    with ScriptedApprover(guard.broker, "cli:bob"):
        _, results = asyncio.run(run_agent(agent, events))
    assert [type(e).__name__ for e in events] == ["ApprovalRequiredEvent", "ApprovalDecidedEvent"]
    assert (
        events[0].args == {"database": "prod-eu", "table": "c"} and events[1].status == "approved"
    )
    assert not results["export_table"][0].is_error
    assert spy.names() == ["export_table"]


def test_reject_with_reason(guard, spy):
    agent = function_agent(guard, spy, [[("export_table", {"database": "prod-eu", "table": "c"})]])
    with ScriptedApprover(guard.broker, "cli:carol", decide=lambda r: Vote("deny", "use staging")):
        _, results = asyncio.run(run_agent(agent))
    [output] = results["export_table"]
    assert output.is_error and "was denied by carol: use staging" in output.content
    assert spy.names() == []


def test_timeout_denies(guard, spy):
    agent = function_agent(guard, spy, [[("restart_service", {"name": "billing"})]])
    _, results = asyncio.run(run_agent(agent))
    [output] = results["restart_service"]
    assert output.is_error and "expired" in output.content and spy.names() == []


def test_parallel_tool_calls_in_one_turn(guard, spy):
    agent = function_agent(
        guard,
        spy,
        [
            [
                ("export_table", {"database": "prod-eu", "table": "a"}),
                ("export_table", {"database": "prod-us", "table": "b"}),
                ("lookup_customer", {"customer_id": 1}),
            ]
        ],
    )
    decide = {"a": Vote("approve"), "b": Vote("deny", "no")}
    with ScriptedApprover(guard.broker, "cli:bob", decide=lambda r: decide[r.masked_args["table"]]):
        _, results = asyncio.run(run_agent(agent))
    exports = sorted(o.is_error for o in results["export_table"])
    assert exports == [False, True]
    assert sorted(spy.names()) == ["export_table", "lookup_customer"]


def test_placeholders_restored_only_for_allowed_tools(guard, spy):
    agent = function_agent(
        guard,
        spy,
        [
            [("lookup_customer", {"customer_id": 7})],
            [
                ("send_email", {"to": "<EMAIL_1>", "body": "Hi <PERSON_1>"}),
                ("post_webhook", {"body": "<EMAIL_1>"}),
            ],
        ],
    )
    asyncio.run(run_agent(agent))
    calls = dict(spy.calls)
    assert calls["send_email"] == {"to": "ana.lopez@example.org", "body": "Hi Ana Lopez"}
    assert calls["post_webhook"] == {"body": "<EMAIL_1>"}


def test_a_tool_that_takes_the_context_keeps_working(guard, spy):
    from .li_ctx_tool import make_remember

    remember = make_remember(spy.record)
    original = FunctionTool.from_defaults(async_fn=remember)
    wrapped = guard_tool(original, guard)
    assert isinstance(wrapped, FunctionTool) and wrapped.requires_context
    assert wrapped.metadata.to_openai_tool() == original.metadata.to_openai_tool()
    agent = FunctionAgent(tools=[wrapped], llm=scripted([[("remember", {"note": "n1"})]]))
    _, results = asyncio.run(run_agent(agent))
    [output] = results["remember"]
    assert not output.is_error and output.content == "remembered (Context)"


def test_sync_call_path(guard, spy):
    tool = guard_tools(make_tools(spy), guard)[0]
    output = tool.call(customer_id=3)
    assert not output.is_error and "<EMAIL_1>" in output.content
    denied = guard_tools(make_tools(spy), guard)[3].call(bucket="b", acl="public-read")
    assert denied.is_error and spy.names() == ["lookup_customer"]


def test_react_agent(guard, spy):
    state = {"turn": 0}

    def respond(messages: Any, **kwargs: Any) -> ChatMessage:
        state["turn"] += 1
        if state["turn"] == 1:
            text = (
                "Thought: I need the customer.\nAction: lookup_customer\n"
                'Action Input: {"customer_id": 9}'
            )
        else:
            text = "Thought: I can answer without using any more tools.\nAnswer: found them"
        return ChatMessage(role="assistant", content=text)

    agent = ReActAgent(
        tools=guard_tools(make_tools(spy), guard),
        llm=MockFunctionCallingLLM(response_generator=respond),
    )
    final, results = asyncio.run(run_agent(agent))
    assert "<EMAIL_1>" in results["lookup_customer"][0].content
    assert "found them" in str(final)


def test_agent_workflow_with_a_handoff(guard, spy):
    def router_turns(messages: Any, **kwargs: Any) -> ChatMessage:
        if not any(getattr(m, "role", None) == "tool" for m in messages):
            call = ToolSelection(
                tool_id="h1",
                tool_name="handoff",
                tool_kwargs={"to_agent": "support", "reason": "customer data"},
            )
            return ChatMessage(
                role="assistant", content="", additional_kwargs={"tool_calls": [call]}
            )
        return ChatMessage(role="assistant", content="handed off")

    router = FunctionAgent(
        name="router",
        description="Routes requests.",
        tools=[],
        llm=MockFunctionCallingLLM(response_generator=router_turns),
        can_handoff_to=["support"],
    )
    support = FunctionAgent(
        name="support",
        description="Looks customers up.",
        tools=guard_tools(make_tools(spy), guard),
        llm=scripted(
            [
                [
                    ("lookup_customer", {"customer_id": 5}),
                    ("s3_put_bucket_acl", {"bucket": "x", "acl": "public-read"}),
                ]
            ]
        ),
    )
    workflow = AgentWorkflow(agents=[router, support], root_agent="router")
    _, results = asyncio.run(run_agent(workflow))
    assert "<EMAIL_1>" in results["lookup_customer"][0].content
    assert results["s3_put_bucket_acl"][0].is_error
    assert spy.names() == ["lookup_customer"]


def test_all_requests_of_one_run_share_a_run_id(guard, spy):
    agent = function_agent(
        guard,
        spy,
        [
            [("export_table", {"database": "prod-eu", "table": "a"})],
            [("export_table", {"database": "prod-eu", "table": "b"})],
        ],
    )
    with ScriptedApprover(guard.broker, "cli:bob"):
        asyncio.run(run_agent(agent))
    runs = {r.run_id for r in guard.store.list_requests()}
    assert len(runs) == 1 and next(iter(runs)).startswith("llamaindex:")


def test_a_vote_from_another_process_resumes_the_awaiting_agent(guard, spy, monkeypatch):
    env = {**os.environ, "GUARDRAILS_AUDIT_KEY": KEY.hex()}

    def vote_from_another_process() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = guard.store.list_requests(Status.PENDING)
            if pending:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "guardrails_plugin",
                        "approve",
                        pending[0].id,
                        "--revision",
                        "0",
                        "--db",
                        str(guard.store.path),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=True,
                )
                return
            time.sleep(0.02)

    voter = threading.Thread(target=vote_from_another_process)
    voter.start()
    agent = function_agent(guard, spy, [[("export_table", {"database": "prod-eu", "table": "x"})]])
    _, results = asyncio.run(run_agent(agent))
    voter.join()
    assert not results["export_table"][0].is_error and spy.names() == ["export_table"]
    [request] = guard.store.list_requests()
    assert request.status is Status.APPROVED and request.decided_by == "bob"


def test_audit_span_handler_records_llm_and_tool_spans(guard, spy):
    from llama_index_instrumentation import get_dispatcher

    handler = install_audit_handler(guard)
    try:
        agent = function_agent(guard, spy, [[("lookup_customer", {"customer_id": 7})]])
        asyncio.run(run_agent(agent))
    finally:
        dispatcher = get_dispatcher()
        dispatcher.span_handlers.remove(handler)
    events = [r.event for r in guard.store.audit_rows()]
    assert "span.tool" in events and "span.llm" in events
    rows = [r for r in guard.store.audit_rows() if r.event == "span.tool"]
    assert all("ana" not in str(dict(r.data)) for r in rows)
    assert Event.TOOL_EXECUTED in events
