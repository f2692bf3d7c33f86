"""Issue 12 #4 (with issue 11 #4): values LangChain injects flowed into the guard.

Under `guard_tools`, a tool's injected arguments (``ToolRuntime``, ``InjectedState``,
``InjectedStore``, ``InjectedToolCallId``) reached masking, the policy and the audit log: the
``call.evaluated`` row held the agent's message state with a raw email address, and a
``data: {contains: [EMAIL]}`` deny rule denied a call whose model-supplied arguments were only
``{"x": 7}``. Only what the model supplied is the call; injected values go to the tool
untouched and are never audited.
Properties (shared/research/RELIABILITY.md): P11 (no plaintext personal data at rest: the
audit log), P2 (the policy judges exactly the model's call).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain.tools import ToolRuntime
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.prebuilt import InjectedState, InjectedStore
from langgraph.store.memory import InMemoryStore

from guardrails_plugin.store import Event

from .agents import VARIANTS, events, make_guard, run, tool_call

POLICY = """
version: 1
defaults: {effect: allow}
rules:
  - id: no-email-out
    match: {data: {contains: [EMAIL]}}
    effect: deny
    reason: Email addresses stay inside.
"""

EMAIL = "ana.lopez@example.org"


def make_tools(seen: list[Any]) -> list[Any]:
    @tool
    def count_messages(x: int, runtime: ToolRuntime) -> str:
        """Count the conversation's messages."""
        seen.append(("runtime", x, runtime))
        return f"{x}: {len(runtime.state['messages'])} messages"

    @tool
    def last_words(
        x: int,
        state: Annotated[dict, InjectedState],
        call_id: Annotated[str, InjectedToolCallId],
    ) -> str:
        """Quote the first message."""
        seen.append(("state", x, state, call_id))
        return "quoted"

    @tool
    def remember(x: int, store: Annotated[Any, InjectedStore()]) -> str:
        """Remember x."""
        seen.append(("store", x, store))
        return "remembered"

    @tool
    def send(to: str, runtime: ToolRuntime) -> str:
        """Send a note."""
        seen.append(("send", to))
        return "sent"

    return [count_messages, last_words, remember, send]


def agent(variant: str, guard: Any, seen: list[Any], *calls: Any) -> Any:
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage

    from guardrails_plugin.integrations.langchain import GuardMiddleware, guard_tools
    from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel

    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=list(calls)), AIMessage("ok")])
    tools = make_tools(seen)
    if variant == "wrapper":
        return create_agent(model, guard_tools(tools, guard), store=InMemoryStore())
    return create_agent(model, tools, middleware=[GuardMiddleware(guard)], store=InMemoryStore())


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
def test_injected_values_are_not_the_call(tmp_path: Path, variant, asynchronous):
    """Issue 12 #4: the audit row held the conversation (with a raw email) and the EMAIL
    deny rule fired on it, though the model supplied only ``{"x": 7}``."""
    guard = make_guard(tmp_path, POLICY)
    seen: list[Any] = []
    calls = [
        tool_call("count_messages", {"x": 7}, "c1"),
        tool_call("last_words", {"x": 8}, "c2"),
        tool_call("remember", {"x": 9}, "c3"),
    ]
    messages = run(
        agent(variant, guard, seen, *calls),
        asynchronous=asynchronous,
        message=f"please write to {EMAIL}",
    )
    assert [m.status for m in messages] == ["success"] * 3
    evaluated = {e["call_id"]: e["masked_args"] for e in events(guard, Event.CALL_EVALUATED)}
    assert evaluated == {"c1": {"x": 7}, "c2": {"x": 8}, "c3": {"x": 9}}
    audit = str([dict(row.data) for row in guard.store.audit_rows()])
    assert EMAIL not in audit and "HumanMessage" not in audit
    # ... and the tools got the injected values untouched (the raw conversation included).
    kinds = {entry[0]: entry for entry in seen}
    assert isinstance(kinds["runtime"][2], ToolRuntime)
    assert EMAIL in str(kinds["runtime"][2].state["messages"][0].content)
    assert EMAIL in str(kinds["state"][2]["messages"][0].content)
    assert kinds["state"][3] == "c2"
    assert isinstance(kinds["store"][2], InMemoryStore)


@pytest.mark.parametrize("variant", VARIANTS)
def test_what_the_model_supplies_is_still_checked(tmp_path: Path, variant):
    guard = make_guard(tmp_path, POLICY)
    seen: list[Any] = []
    [message] = run(agent(variant, guard, seen, tool_call("send", {"to": EMAIL})))
    assert message.status == "error" and "no-email-out" in message.content
    assert seen == []
    [evaluated] = events(guard, Event.CALL_EVALUATED)
    assert evaluated["masked_args"] == {"to": "<EMAIL_1>"}
