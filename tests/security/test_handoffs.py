"""Red team on issue 12 (F1): a hand-off to the parent graph gave an approval's claim back.

A tool that runs a subgraph ending in `Command(graph=Command.PARENT, ...)` raises LangGraph's
`ParentCommand` through the guard. The guard took every control-flow exception for a
suspension and released the claim, though the call had completed: a model repeating the
tool-call id ran the approved transfer twice on one vote, and the Command's update (the tool's
raw output) reached the model unmasked. Now only a suspension (an interrupt) gives the claim
back, and a hand-off is the tool's result: masked, audited, raised again for the parent graph.
Covers P2, P7, P24 and P11.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import pytest
from langchain.tools import ToolRuntime
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.graph import START, StateGraph
from langgraph.types import Command

from guardrails_plugin.store import Event
from guardrails_plugin.testing import ScriptedApprover

from .agents import VARIANTS, agent_for, make_guard, tool_call

EMAIL = "ana.lopez@example.org"
POLICY = """
version: 1
defaults: {effect: allow}
people: {bob: [cli:bob]}
groups: {ops: [bob]}
rules:
  - id: transfers-need-ops
    match: {tool: transfer}
    effect: require_approval
    approval: {approvers: [ops], timeout: 10m}
"""


class _State(TypedDict):
    x: int


def _payments(call_id: str) -> Any:
    def hand_off(state: _State) -> Command[Any]:
        done = ToolMessage(f"transfer done for {EMAIL}", tool_call_id=call_id)
        return Command(graph=Command.PARENT, update={"messages": [done]})

    graph = StateGraph(_State)
    graph.add_node("hand_off", hand_off)
    graph.add_edge(START, "hand_off")
    return graph.compile()


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_hand_off_is_the_one_execution_and_is_masked(tmp_path, variant):
    guard = make_guard(tmp_path, POLICY)
    runs: list[int] = []

    @tool
    def transfer(amount: int, tool_call_id: Annotated[str, InjectedToolCallId]) -> Any:
        """Transfer money (a payments subgraph hands the result back)."""
        runs.append(amount)
        return _payments(tool_call_id).invoke({"x": 1})

    call = tool_call("transfer", {"amount": 500}, "call_1")
    agent = agent_for(variant, guard, [transfer], [call], [dict(call)])  # the same id, again
    with ScriptedApprover(guard.broker, "cli:bob") as bob:
        result = agent.invoke({"messages": [("user", "pay")]}, {"configurable": {"thread_id": "t"}})
    assert runs == [500] and len(bob.votes) == 1
    read = [m.content for m in result["messages"] if isinstance(m, ToolMessage)]
    assert EMAIL not in str(read) and "<EMAIL_1>" in str(read)
    assert "already ran once" in str(read)
    events = [r.event for r in guard.store.audit_rows()]
    assert Event.TOOL_SUSPENDED not in events and Event.TOOL_EXECUTED in events


@pytest.mark.parametrize("variant", VARIANTS)
def test_runs_a_tool_starts_with_its_runtime_config_are_not_traced(tmp_path, variant):
    """Red team on issue 12 (F3): the real tool runs untraced, but `ToolRuntime.config` (which
    ToolNode injects) kept the run's callbacks; a tool passing it on, as LangChain documents,
    had its child runs, with the raw values, heard by tracers."""
    heard: list[str] = []

    class Tracer(BaseCallbackHandler):
        def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
            heard.append(str(inputs))

        def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
            heard.append(str(outputs))

    summarize = RunnableLambda(lambda text: f"summary: {text}").with_config(run_name="summarize")

    @tool
    def customer_record(customer_id: int, runtime: ToolRuntime) -> str:
        """Fetch a customer's record and summarise it."""
        return summarize.invoke(f"Ana Lopez <{EMAIL}>", config=runtime.config)

    guard = make_guard(tmp_path, "version: 1\ndefaults: {effect: allow}\nrules: []\n")
    agent = agent_for(
        variant, guard, [customer_record], tool_call("customer_record", {"customer_id": 7})
    )
    config = {"configurable": {"thread_id": "t"}, "callbacks": [Tracer()]}
    result = agent.invoke({"messages": [("user", "hi")]}, config)
    assert "<EMAIL_1>" in str(result["messages"][2].content)
    assert heard and not [h for h in heard if EMAIL in h]


def test_a_string_input_is_judged_under_the_tools_own_parameter(tmp_path):
    """Red team on issue 12 (F4): a `BaseTool` subclass with `_run(self, query)` and no
    `args_schema` had a string input judged as `__arg1`, so a deny rule on `query` let
    `tool.invoke("DROP TABLE users")` run."""
    from langchain_core.tools import BaseTool

    from guardrails_plugin.integrations.langchain import guard_tool

    ran: list[str] = []

    class RunSQL(BaseTool):
        name: str = "run_sql"
        description: str = "Run SQL."

        def _run(self, query: str) -> str:
            ran.append(query)
            return "ok"

    policy = """
version: 1
defaults: {effect: allow}
rules:
  - id: no-drop
    match: {tool: run_sql, args: {query: {regex: "(?i)drop"}}}
    effect: deny
"""
    guarded = guard_tool(RunSQL(), make_guard(tmp_path, policy))
    answer = guarded.invoke("DROP TABLE users")
    assert ran == [] and "no-drop" in str(answer)
    assert guarded.invoke("SELECT 1") == "ok" and ran == ["SELECT 1"]


def test_the_raised_copy_keeps_no_path_to_the_original(tmp_path):
    """Red team on issue 12 (F5): the masked copy's traceback frames still held the original
    exception (and its raw message) through a local of the guard's."""
    import traceback

    from guardrails_plugin.integrations.langchain import guard_tool

    @tool
    def lookup(customer: str) -> str:
        """Look a customer up."""
        raise ValueError(f"no account for {EMAIL}")

    guarded = guard_tool(
        lookup, make_guard(tmp_path, "version: 1\ndefaults: {effect: allow}\nrules: []\n")
    )
    with pytest.raises(ValueError) as info:
        guarded.invoke({"customer": "x"})
    assert EMAIL not in str(info.value)
    seen: list[str] = []
    tb = info.value.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            seen.append(repr(value))
            seen.append(repr(getattr(value, "error", None)))
        tb = tb.tb_next
    assert not [s for s in seen if EMAIL in s], traceback.format_exception(info.value)
