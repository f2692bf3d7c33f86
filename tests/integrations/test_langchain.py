"""Real LangChain agents (create_agent, scripted model) guarded three ways."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import StructuredTool, tool

from guardrails_plugin.errors import ConfigError, StoreError, ToolDenied
from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.langchain import (
    GuardCallbackHandler,
    GuardMiddleware,
    guard_tool,
    guard_tools,
    resume_decided,
)
from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel, tool_call
from guardrails_plugin.store import Event, Status
from guardrails_plugin.testing import ScriptedApprover, Vote

from ..helpers import KEY
from .conftest import Spy

REPO = Path(__file__).resolve().parents[2]


def make_tools(spy: Spy) -> list[Any]:
    @tool
    def lookup_customer(customer_id: int) -> dict:
        """Look up a customer by id."""
        spy.record("lookup_customer", {"customer_id": customer_id})
        return {"id": customer_id, "name": "Ana Lopez", "email": "ana.lopez@example.org"}

    @tool
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        spy.record("send_email", {"to": to, "body": body})
        return f"sent to {to}"

    @tool
    def post_webhook(body: str) -> str:
        """Post to a webhook."""
        spy.record("post_webhook", {"body": body})
        return "posted"

    @tool
    def s3_put_bucket_acl(bucket: str, acl: str) -> str:
        """Change a bucket ACL."""
        spy.record("s3_put_bucket_acl", {"bucket": bucket, "acl": acl})
        return "ok"

    @tool
    def export_table(database: str, table: str) -> str:
        """Export a table to S3."""
        spy.record("export_table", {"database": database, "table": table})
        return f"exported {table}"

    @tool
    def restart_service(name: str) -> str:
        """Restart a service."""
        spy.record("restart_service", {"name": name})
        return "restarted"

    return [
        lookup_customer,
        send_email,
        post_webhook,
        s3_put_bucket_acl,
        export_table,
        restart_service,
    ]


def agent_for(variant: str, guard: Guard, spy: Spy, script: list[AIMessage]) -> Any:
    model = ScriptedChatModel(responses=[*script, AIMessage("All done.")])
    tools = make_tools(spy)
    if variant == "wrapper":
        return create_agent(model, guard_tools(tools, guard))
    return create_agent(model, tools, middleware=[GuardMiddleware(guard)])


def tool_messages(result: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in result["messages"] if isinstance(m, ToolMessage)]


def run(agent: Any, *, asynchronous: bool = False) -> dict[str, Any]:
    payload = {"messages": [("user", "go")]}
    config = {"configurable": {"thread_id": "t-1"}}
    if asynchronous:
        return asyncio.run(agent.ainvoke(payload, config))
    return agent.invoke(payload, config)


VARIANTS = ["wrapper", "middleware"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
def test_allow_masks_the_output_and_deny_reaches_the_model(guard, spy, variant, asynchronous):
    agent = agent_for(
        variant,
        guard,
        spy,
        [
            AIMessage(
                "",
                tool_calls=[
                    tool_call("lookup_customer", {"customer_id": 7}),
                    tool_call("s3_put_bucket_acl", {"bucket": "exports", "acl": "public-read"}),
                ],
            )
        ],
    )
    result = run(agent, asynchronous=asynchronous)
    looked_up, denied = tool_messages(result)
    assert "ana.lopez@example.org" not in str(looked_up.content)
    assert "<EMAIL_1>" in str(looked_up.content) and "<PERSON_1>" in str(looked_up.content)
    assert denied.status == "error"
    assert (
        denied.content == "Denied by policy rule 'no-public-buckets': Public buckets are forbidden."
    )
    assert spy.names() == ["lookup_customer"]  # the denied tool's body never ran
    assert result["messages"][-1].content == "All done."


@pytest.mark.parametrize("variant", VARIANTS)
def test_placeholders_are_restored_only_for_tools_the_policy_names(guard, spy, variant):
    agent = agent_for(
        variant,
        guard,
        spy,
        [
            AIMessage("", tool_calls=[tool_call("lookup_customer", {"customer_id": 7})]),
            AIMessage(
                "",
                tool_calls=[
                    tool_call("send_email", {"to": "<EMAIL_1>", "body": "Hi <PERSON_1>"}),
                    tool_call("post_webhook", {"body": "customer <EMAIL_1>"}),
                ],
            ),
        ],
    )
    result = run(agent)
    sent = dict(spy.calls)["send_email"]
    assert sent == {"to": "ana.lopez@example.org", "body": "Hi Ana Lopez"}
    assert dict(spy.calls)["post_webhook"] == {"body": "customer <EMAIL_1>"}
    assert all("ana.lopez" not in str(m.content) for m in tool_messages(result))


@pytest.mark.parametrize("variant", VARIANTS)
def test_approval_by_another_person_lets_the_call_run_once(guard, spy, variant):
    agent = agent_for(
        variant,
        guard,
        spy,
        [
            AIMessage(
                "",
                tool_calls=[
                    tool_call(
                        "export_table", {"database": "prod-eu", "table": "customers"}, "call-a"
                    ),
                ],
            )
        ],
    )
    with ScriptedApprover(guard.broker, "cli:bob") as approver:
        result = run(agent)
    assert [m.status for m in tool_messages(result)] == ["success"]
    assert spy.names() == ["export_table"]
    assert approver.votes and approver.votes[0].request.status is Status.APPROVED
    events = [r.event for r in guard.store.audit_rows()]
    assert events.index(Event.APPROVED) < events.index(Event.TOOL_EXECUTING)
    assert guard.store.verify_audit().ok


@pytest.mark.parametrize("variant", VARIANTS)
def test_self_approval_does_not_count(guard, spy, variant):
    # alice is the human the agent acts for; her vote is refused, bob then denies.
    agent = agent_for(
        variant,
        guard,
        spy,
        [
            AIMessage(
                "",
                tool_calls=[
                    tool_call("export_table", {"database": "prod-eu", "table": "t"}, "call-b"),
                ],
            )
        ],
    )
    with (
        ScriptedApprover(guard.broker, "cli:alice") as alice,
        ScriptedApprover(
            guard.broker,
            "cli:bob",
            decide=lambda r: Vote("deny", "not without a ticket") if alice.refused else None,
        ),
    ):
        result = run(agent)
    assert alice.refused and "self-approval" in str(alice.refused[0])
    [message] = tool_messages(result)
    assert message.status == "error"
    assert "was denied by bob: not without a ticket" in message.content
    assert spy.names() == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_edit_before_approve_runs_the_edited_arguments(guard, spy, variant):
    agent = agent_for(
        variant,
        guard,
        spy,
        [
            AIMessage(
                "",
                tool_calls=[
                    tool_call(
                        "export_table", {"database": "prod-eu", "table": "customers"}, "call-c"
                    ),
                ],
            )
        ],
    )
    edit = Vote("approve", "only the sample", {"database": "prod-eu", "table": "customers_sample"})
    with ScriptedApprover(guard.broker, "cli:carol", decide=lambda r: edit):
        run(agent)
    assert spy.calls == [("export_table", {"database": "prod-eu", "table": "customers_sample"})]


@pytest.mark.parametrize("variant", VARIANTS)
def test_timeout_denies(guard, spy, variant):
    agent = agent_for(
        variant,
        guard,
        spy,
        [
            AIMessage(
                "",
                tool_calls=[
                    tool_call("restart_service", {"name": "billing"}, "call-d"),
                ],
            )
        ],
    )
    [message] = tool_messages(run(agent))
    assert message.status == "error" and "expired before anyone decided" in message.content
    assert spy.names() == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_parallel_tool_calls_each_get_an_answer(guard, spy, variant):
    agent = agent_for(
        variant,
        guard,
        spy,
        [
            AIMessage(
                "",
                tool_calls=[
                    tool_call("export_table", {"database": "prod-eu", "table": "a"}, "call-p1"),
                    tool_call("export_table", {"database": "prod-us", "table": "b"}, "call-p2"),
                    tool_call("lookup_customer", {"customer_id": 1}, "call-p3"),
                    tool_call(
                        "s3_put_bucket_acl", {"bucket": "x", "acl": "public-read"}, "call-p4"
                    ),
                ],
            )
        ],
    )
    decide = {"a": Vote("approve"), "b": Vote("deny", "not us data")}
    with ScriptedApprover(guard.broker, "cli:bob", decide=lambda r: decide[r.masked_args["table"]]):
        result = run(agent)
    by_id = {m.tool_call_id: m for m in tool_messages(result)}
    assert set(by_id) == {"call-p1", "call-p2", "call-p3", "call-p4"}
    assert by_id["call-p1"].status == "success" and by_id["call-p3"].status == "success"
    assert by_id["call-p2"].status == "error" and by_id["call-p4"].status == "error"
    assert sorted(spy.names()) == ["export_table", "lookup_customer"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_store_failure_denies_the_call(guard, spy, variant, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("disk I/O error")

    monkeypatch.setattr(guard.store, "record_event", broken)
    agent = agent_for(
        variant,
        guard,
        spy,
        [
            AIMessage(
                "",
                tool_calls=[
                    tool_call("lookup_customer", {"customer_id": 7}),
                ],
            )
        ],
    )
    [message] = tool_messages(run(agent))
    assert message.status == "error"
    assert message.content.startswith("Denied: the guard could not record the call (StoreError)")
    assert spy.names() == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_tool_error_fails_the_run_as_without_the_guard_but_masked(guard, variant):
    """Issue 12 #8: a tool's exception propagates as it does unguarded (LangGraph's ToolNode
    then fails the run), holding only the masked text; the audit log records it masked."""

    @tool
    def fetch(url: str) -> str:
        """Fetch a URL."""
        raise RuntimeError("401 for token sk_live_51Habc123DEF456ghi789JKL at ana@example.org")

    model = ScriptedChatModel(
        responses=[
            AIMessage("", tool_calls=[tool_call("fetch", {"url": "https://x"})]),
            AIMessage("ok"),
        ]
    )
    if variant == "wrapper":
        agent = create_agent(model, guard_tools([fetch], guard))
    else:
        agent = create_agent(model, [fetch], middleware=[GuardMiddleware(guard)])
    with pytest.raises(RuntimeError) as raised:
        run(agent)
    assert str(raised.value) == "401 for token <API_KEY_1> at <EMAIL_1>"
    assert raised.value.__cause__ is None and raised.value.__traceback__ is not None
    [failed] = [r for r in guard.store.audit_rows() if r.event == Event.TOOL_FAILED]
    assert "sk_live" not in str(failed.data) and "<EMAIL_1>" in failed.data["error"]


# --- the wrapper keeps the tool's contract ------------------------------------------------------


def test_wrapper_has_the_identical_tool_call_schema(guard, spy):
    for original in make_tools(spy):
        wrapped = guard_tool(original, guard)
        assert wrapped.name == original.name and wrapped.description == original.description
        assert (
            wrapped.tool_call_schema.model_json_schema()
            == original.tool_call_schema.model_json_schema()
        )


def test_wrapper_keeps_return_direct_and_content_and_artifact(guard):
    def search(query: str) -> tuple[str, dict]:
        return f"found ana@example.org for {query}", {"rows": [{"email": "ana@example.org"}]}

    inner = StructuredTool.from_function(
        search,
        name="search",
        description="Search.",
        response_format="content_and_artifact",
        return_direct=True,
    )
    wrapped = guard_tool(inner, guard)
    assert wrapped.return_direct is True and wrapped.response_format == "content_and_artifact"
    message = wrapped.invoke(tool_call("search", {"query": "q"}, "call-s"))
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call-s"
    assert message.content == "found <EMAIL_1> for q"
    assert message.artifact == {"rows": [{"email": "<EMAIL_1>"}]}
    assert asyncio.run(wrapped.ainvoke(tool_call("search", {"query": "q"}, "call-t"))).content


def test_middleware_rejects_an_unknown_mode(guard):
    with pytest.raises(ValueError, match="'blocking' or 'interrupt'"):
        GuardMiddleware(guard, mode="poll")


# --- the callback handler blocks on every path ------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
@pytest.mark.parametrize("which", ["sync-only tool", "async tool"])
def test_callback_handler_blocks_denied_tools_on_every_path(guard, spy, asynchronous, which):
    def set_acl(bucket: str, acl: str) -> str:
        spy.record("sync", {"bucket": bucket})
        return "ok"

    async def aset_acl(bucket: str, acl: str) -> str:
        spy.record("async", {"bucket": bucket})
        return "ok"

    target = StructuredTool.from_function(
        set_acl,
        coroutine=None if which == "sync-only tool" else aset_acl,
        name="s3_put_bucket_acl",
        description="Change a bucket ACL.",
    )
    config = {"callbacks": [GuardCallbackHandler(guard)]}
    call = {"bucket": "b", "acl": "public-read"}
    with pytest.raises(ToolDenied, match="no-public-buckets"):
        if asynchronous:
            asyncio.run(target.ainvoke(call, config))
        else:
            target.invoke(call, config)
    assert spy.calls == []


def test_callback_handler_allows_and_audits(guard, spy):
    handler = GuardCallbackHandler(guard)
    lookup = make_tools(spy)[0]
    lookup.invoke({"customer_id": 7}, {"callbacks": [handler]})
    events = [r.event for r in guard.store.audit_rows()]
    assert events == [Event.CALL_EVALUATED, Event.TOOL_EXECUTED]
    executed = list(guard.store.audit_rows())[-1]
    assert executed.data["output_classes"] == ["EMAIL", "PERSON"]
    assert executed.data["via"] == "callback"


def test_callback_handler_waits_for_approval(guard, spy):
    handler = GuardCallbackHandler(guard)
    export = make_tools(spy)[4]
    with ScriptedApprover(guard.broker, "cli:bob"):
        export.invoke({"database": "prod-eu", "table": "t"}, {"callbacks": [handler]})
    assert spy.names() == ["export_table"]


# --- interrupt mode across three processes -------------------------------------------------------


def test_interrupt_suspends_in_one_process_vote_in_another_resume_in_a_third(tmp_path):
    db, checkpoints, spy_file = tmp_path / "g.db", tmp_path / "ckpt.db", tmp_path / "spy.jsonl"
    env = {
        **os.environ,
        "GUARDRAILS_AUDIT_KEY": KEY.hex(),
        "PYTHONPATH": str(REPO),
    }

    def child(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.integrations.lc_procs",
                *args,
                str(db),
                str(checkpoints),
                str(spy_file),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    started = child("start")
    assert len(started["interrupted"]) == 2  # two exports, each with its own request
    assert all("ana" not in json.dumps(a) for a in started["args"])
    ran = [json.loads(line)["tool"] for line in spy_file.read_text().splitlines()]
    assert ran == ["lookup_customer"]  # the ungated call ran before the suspension

    assert child("resume") == {"resumed": False}  # nothing decided yet

    by_database = {
        a["database"]: r for r, a in zip(started["interrupted"], started["args"], strict=True)
    }
    first, second = by_database["prod-eu"], by_database["prod-us"]
    for request_id, verb, extra in (
        (first, "approve", ["--revision", "0"]),
        (second, "deny", ["--reason", "orders stay in the US"]),
    ):
        voted = subprocess.run(
            [sys.executable, "-m", "guardrails_plugin", verb, request_id, "--db", str(db), *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert voted.returncode == 0, voted.stdout + voted.stderr

    resumed = child("resume")
    assert resumed["resumed"] is True
    tool_results = [m for m in resumed["messages"] if m["type"] == "ToolMessage"]
    statuses = sorted(m["status"] for m in tool_results)
    assert statuses == ["error", "success", "success"]
    assert any("orders stay in the US" in m["content"] for m in tool_results)
    assert resumed["messages"][-1]["content"] == "exports done"
    ran = [json.loads(line) for line in spy_file.read_text().splitlines()]
    assert [r["tool"] for r in ran] == ["lookup_customer", "export_table"]
    assert ran[1]["database"] == "prod-eu"


# --- interrupt mode needs a checkpointer -------------------------------------------------------


def _export_script() -> list[AIMessage]:
    return [
        AIMessage(
            "", tool_calls=[tool_call("export_table", {"database": "prod-eu", "table": "t"}, "c1")]
        )
    ]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
def test_interrupt_mode_without_a_checkpointer_refuses_before_any_request(guard, spy, asynchronous):
    """Issue 14 #7: interrupt mode in an agent without a checkpointer is refused with a sentence
    naming the fix, before a request is created or anything is written to the store."""
    model = ScriptedChatModel(responses=[*_export_script(), AIMessage("All done.")])
    agent = create_agent(
        model, make_tools(spy), middleware=[GuardMiddleware(guard, mode="interrupt")]
    )
    with pytest.raises(ConfigError) as refused:
        run(agent, asynchronous=asynchronous)
    message = str(refused.value)
    assert "checkpointer" in message
    assert "create_agent(..., checkpointer=InMemorySaver())" in message
    assert 'mode="blocking"' in message
    assert spy.calls == []
    assert guard.store.list_requests() == []
    assert list(guard.store.audit_rows()) == []


def test_interrupt_mode_refuses_even_a_call_that_needs_no_approval(guard, spy):
    """Issue 14 #7: the refusal comes at the first guarded call, not at the first approval, so
    a development run with only allowed calls already shows the mistake."""
    script = [AIMessage("", tool_calls=[tool_call("lookup_customer", {"customer_id": 7}, "c1")])]
    model = ScriptedChatModel(responses=[*script, AIMessage("All done.")])
    agent = create_agent(
        model, make_tools(spy), middleware=[GuardMiddleware(guard, mode="interrupt")]
    )
    with pytest.raises(ConfigError, match="checkpointer"):
        run(agent)
    assert spy.calls == []


def test_interrupt_mode_with_a_checkpointer_suspends_and_resumes(guard, spy):
    """Issue 14 #7: the same agent with a checkpointer suspends, and resumes once decided."""
    from langgraph.checkpoint.memory import InMemorySaver

    model = ScriptedChatModel(responses=[*_export_script(), AIMessage("All done.")])
    agent = create_agent(
        model,
        make_tools(spy),
        middleware=[GuardMiddleware(guard, mode="interrupt")],
        checkpointer=InMemorySaver(),
    )
    result = run(agent)
    (suspended,) = result["__interrupt__"]
    request_id = suspended.value["request_id"]
    assert resume_decided(agent, "t-1", guard) is None  # still pending
    guard.broker.vote(request_id, "cli:bob", "approve", revision=0)
    resumed = resume_decided(agent, "t-1", guard)
    assert resumed["messages"][-1].content == "All done."
    assert spy.names() == ["export_table"]


def test_resume_decided_on_an_agent_without_a_checkpointer_names_the_fix(guard, spy):
    """Issue 14 #7: resume_decided says what is missing instead of LangGraph's 'No checkpointer
    set'."""
    agent = create_agent(ScriptedChatModel(responses=[AIMessage("hi")]), make_tools(spy))
    with pytest.raises(ConfigError, match=r"checkpointer=InMemorySaver\(\)"):
        resume_decided(agent, "t-1", guard)
