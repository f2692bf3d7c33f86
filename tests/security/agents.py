"""Real agents for the adapter attacks: LangChain ``create_agent`` with a scripted model, the
guard put in front either by `guard_tools` (the wrapper) or by `GuardMiddleware`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage

from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.langchain import GuardMiddleware, guard_tools
from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel, tool_call
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY

VARIANTS = ["wrapper", "middleware"]


def make_guard(tmp_path: Path, policy: str, **kwargs: Any) -> Guard:
    kwargs.setdefault("principal", "agent:support-bot")
    return Guard(Policy.from_string(policy), SQLiteStore(tmp_path / "guard.db", key=KEY), **kwargs)


def agent_for(variant: str, guard: Guard | None, tools: Sequence[Any], *calls: Any) -> Any:
    """An agent whose model makes ``calls`` in one turn (or, given lists, one list per turn),
    then says "ok". Variant "plain" is the unguarded agent, for comparison."""
    turns = [list(c) for c in calls] if calls and isinstance(calls[0], list) else [list(calls)]
    model = ScriptedChatModel(
        responses=[*(AIMessage("", tool_calls=turn) for turn in turns), AIMessage("ok")]
    )
    if variant == "plain" or guard is None:
        return create_agent(model, list(tools))
    if variant == "wrapper":
        return create_agent(model, guard_tools(tools, guard))
    return create_agent(model, list(tools), middleware=[GuardMiddleware(guard)])


def run(
    agent: Any,
    *,
    asynchronous: bool = False,
    configurable: dict[str, Any] | None = None,
    message: str = "go",
) -> list[ToolMessage]:
    """Run the agent once; the tool messages the model read."""
    payload = {"messages": [("user", message)]}
    config = {"configurable": {"thread_id": "t-1", **(configurable or {})}}
    if asynchronous:
        result = asyncio.run(agent.ainvoke(payload, config))
    else:
        result = agent.invoke(payload, config)
    return [m for m in result["messages"] if isinstance(m, ToolMessage)]


def events(guard: Guard, name: str) -> list[dict[str, Any]]:
    return [dict(row.data) for row in guard.store.audit_rows() if row.event == name]


__all__ = ["VARIANTS", "agent_for", "events", "make_guard", "run", "tool_call"]
