"""Issue 12 (LlamaIndex): a guarded tool behaves exactly like the original.

Each scenario runs twice, over the original tools and over ``guard_tools(...)``, in real
`FunctionAgent` / `ReActAgent` / `AgentWorkflow` runs driven by a scripted function-calling LLM,
and compares what is observable: the model-facing schema, every `ToolCallResult` (content, block
types and bytes, raw output, raw input, ``is_error``, ``return_direct``), the streamed event
types, the final answer and what the tools received. The only allowed difference is the guard's
own: the raw canary becomes its placeholder. Every guarded run also checks that the raw canary
reaches neither the model, nor the streamed events, nor the audit log.

Properties (shared/research/RELIABILITY.md): P2 (nothing runs but the call the guard allowed),
P7 and P24 (a resumed workflow runs an approved call once, from its one request), P11 (no raw
value in the model's messages, events or audit log), P1 (fail closed: a placeholder of another
conversation is refused).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.base.llms.types import TextBlock
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import (
    Context,
    HumanResponseEvent,
    InputRequiredEvent,
    JsonPickleSerializer,
)

from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.llamaindex import ApprovalRequiredEvent, guard_tools
from guardrails_plugin.payload import as_data
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event, Status
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.testing import ScriptedApprover

from ..helpers import KEY
from .li_tools import CANARY, PLACEHOLDER, Ran, make_tools

POLICY = """
version: 1
defaults: {effect: allow}
people:
  bob: [cli:bob]
groups:
  ops: [bob]
rules:
  - id: email-out
    match: {tool: send_email}
    effect: allow
    masking: {restore_placeholders: true}
  - id: prod-export
    match: {tool: export_table, args: {database: {regex: "^prod"}}}
    effect: require_approval
    approval: {approvers: [ops], timeout: 15m}
"""

KINDS = ("original", "guarded")


def make_guard(path: Path, **kwargs: Any) -> Guard:
    kwargs.setdefault("principal", "agent:support-bot")
    kwargs.setdefault("on_behalf_of", "slack:UALICE")
    return Guard(Policy.from_string(POLICY), SQLiteStore(path, key=KEY), **kwargs)


@pytest.fixture
def guard(tmp_path: Path, shared_masker: Any) -> Any:
    g = make_guard(tmp_path / "guard.db", masker=shared_masker)
    yield g
    g.store.close()


@pytest.fixture(scope="session")
def shared_masker() -> Any:
    from guardrails_plugin.masking import Masker

    return Masker()


# --- the scripted LLM ----------------------------------------------------------------------------

Turn = list[tuple[str, dict[str, Any]]] | Callable[[list[ChatMessage]], list[Any]] | None


class Script:
    """A function-calling LLM that makes one list of tool calls per turn (``None``: answer
    "done", ending the run) and keeps every message list it was given: what the model saw."""

    def __init__(self, *turns: Turn) -> None:
        self.turns = list(turns)
        self.seen: list[list[ChatMessage]] = []
        self.calls = 0

    def llm(self) -> MockFunctionCallingLLM:
        return MockFunctionCallingLLM(response_generator=self.respond)

    def respond(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.seen.append(list(messages))
        turn = self.turns.pop(0) if self.turns else None
        if callable(turn):
            turn = turn(list(messages))
        if not turn:
            return ChatMessage(role="assistant", content="done")
        self.calls += 1
        calls = [
            ToolSelection(tool_id=f"call-{self.calls}-{i}", tool_name=name, tool_kwargs=args)
            for i, (name, args) in enumerate(turn)
        ]
        return ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": calls})

    def text_seen(self) -> str:
        return "\n".join(
            str(block.model_dump())
            for messages in self.seen
            for message in messages
            for block in message.blocks
        )


def last_tool_text(messages: list[ChatMessage]) -> str:
    """The text of the newest tool message: what the model copies from."""
    tool_messages = [m for m in messages if m.role == "tool"]
    return "".join(b.text for b in tool_messages[-1].blocks if isinstance(b, TextBlock))


# --- running and observing -----------------------------------------------------------------------


@dataclass
class Observed:
    results: list[ToolCallResult] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    final: str = ""


async def drive(
    agent: Any,
    message: str = "go",
    *,
    ctx: Context | None = None,
    memory: Any = None,
    human: str | None = None,
    on_event: Callable[[Any, Any], Any] | None = None,
) -> Observed:
    """Run ``agent`` once, streaming: answers `InputRequiredEvent` with ``human``, and lets
    ``on_event(handler, event)`` act on events (return "stop" to end the stream there)."""
    observed = Observed()
    handler = agent.run(message, ctx=ctx, memory=memory)
    async for event in handler.stream_events():
        observed.events.append(event)
        if isinstance(event, ToolCallResult):
            observed.results.append(event)
        if isinstance(event, InputRequiredEvent) and human is not None:
            handler.ctx.send_event(HumanResponseEvent(response=human))
        if on_event is not None and await on_event(handler, event) == "stop":
            return observed
    observed.final = str(await handler)
    return observed


def view(observed: Observed) -> dict[str, Any]:
    """Everything a user can observe of a run, as comparable data."""
    return {
        # Parallel calls finish in any order: the same events, the same results per call.
        "events": sorted(type(e).__name__ for e in observed.events),
        "final": observed.final,
        "results": [
            {
                "tool": r.tool_name,
                "kwargs": r.tool_kwargs,
                "return_direct": r.return_direct,
                "is_error": r.tool_output.is_error,
                "content": r.tool_output.content,
                "blocks": [(type(b).__name__, b.model_dump()) for b in r.tool_output.blocks],
                "raw_output": as_data(r.tool_output.raw_output),
                "raw_input": as_data(r.tool_output.raw_input),
            }
            for r in sorted(observed.results, key=lambda r: r.tool_id or "")
        ],
    }


def masked(value: Any) -> Any:
    """The original run's observation as the guard lets the model see it."""
    if isinstance(value, str):
        return value.replace(CANARY, PLACEHOLDER)
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        return {masked(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(masked(v) for v in value)
    return value


def assert_no_canary(guard: Guard, observed: Observed, script: Script) -> None:
    """P11: the raw value reached neither the model, the streamed events nor the audit log."""
    assert CANARY not in script.text_seen()
    for event in observed.events:
        assert CANARY not in repr(event), type(event).__name__
    rows = [json.dumps(dict(r.data), default=str) for r in guard.store.audit_rows()]
    assert rows and not any(CANARY in row for row in rows)


def tools_of(kind: str, guard: Guard, ran: Ran, *names: str, **kwargs: Any) -> list[Any]:
    tools = make_tools(ran)
    chosen = [tools[name] for name in names]
    return chosen if kind == "original" else guard_tools(chosen, guard, **kwargs)


def both(
    guard: Guard, names: Sequence[str], *turns: Turn, agent: Callable[..., Any] | None = None
) -> dict[str, tuple[Observed, Ran, Script]]:
    """The scenario over the original tools and the guarded ones, with the same script."""
    out = {}
    for kind in KINDS:
        ran, script = Ran(), Script(*turns)
        tools = tools_of(kind, guard, ran, *names)
        built = (agent or default_agent)(tools, script)
        out[kind] = (asyncio.run(drive(built)), ran, script)
    return out


def default_agent(tools: list[Any], script: Script) -> FunctionAgent:
    return FunctionAgent(tools=tools, llm=script.llm())


def with_defaults(seen: dict[str, Any]) -> dict[str, Any]:
    """The original's raw inputs with the parameters' defaults the guard passes explicitly (it
    judges them: a rule on ``limit`` sees the default), the one difference in ``raw_input``."""
    tools = make_tools(Ran())
    for result in seen["results"]:
        tool = tools.get(result["tool"])
        kwargs = result["raw_input"].get("kwargs") if isinstance(tool, FunctionTool) else None
        if kwargs is None:
            continue
        for name, param in inspect.signature(tool.real_fn).parameters.items():
            if param.default is not param.empty:
                kwargs.setdefault(name, param.default)
    return seen


def assert_same(runs: dict[str, tuple[Observed, Ran, Script]], guard: Guard) -> None:
    original, guarded = runs["original"], runs["guarded"]
    assert view(guarded[0]) == with_defaults(masked(view(original[0])))
    # The tools received the same values (parallel calls run in any order).
    assert sorted(map(repr, guarded[1].calls)) == sorted(map(repr, original[1].calls))
    assert_no_canary(guard, guarded[0], guarded[2])


# --- the shapes that already worked --------------------------------------------------------------


def test_every_tool_keeps_its_schema_and_kind(guard):
    """Issue 12 (LlamaIndex): the model-facing schema, return_direct and context injection of
    every tool shape are the original's."""
    originals = make_tools(Ran())
    for name, original in originals.items():
        [wrapped] = guard_tools([original], guard)
        assert wrapped.metadata.to_openai_tool() == original.metadata.to_openai_tool(), name
        assert wrapped.metadata.return_direct == original.metadata.return_direct, name
        assert isinstance(wrapped, FunctionTool) == isinstance(original, FunctionTool), name
        if isinstance(original, FunctionTool):
            assert wrapped.requires_context == original.requires_context, name
            assert wrapped.ctx_param_name == original.ctx_param_name, name
            assert wrapped.partial_params == original.partial_params, name


def test_sync_async_and_partial_tools_in_a_function_agent(guard):
    """Issue 12: sync, async and partial-params tools in one turn give the original's results,
    masked; the partial parameter and the schema default reach the tool as on the original."""
    runs = both(
        guard,
        ["lookup_customer", "export_table", "search"],
        [
            ("lookup_customer", {"customer_id": 7}),
            ("export_table", {"database": "staging", "table": "orders"}),
            ("search", {"query": "refund"}),
        ],
    )
    assert_same(runs, guard)
    assert runs["guarded"][1].args("search") == [{"query": "refund", "region": "us", "limit": 3}]
    [looked_up] = [r for r in runs["guarded"][0].results if r.tool_name == "lookup_customer"]
    assert looked_up.tool_output.raw_output["email"] == PLACEHOLDER


def test_a_context_taking_tool(guard):
    """Issue 12: a tool that takes ``ctx: Context`` gets the workflow context under the guard."""
    runs = both(guard, ["remember"], [("remember", {"note": "call back"})])
    assert_same(runs, guard)
    assert runs["guarded"][0].results[0].tool_output.content == "remembered call back"


def test_return_direct(guard):
    """Issue 12: a return_direct tool's output is the run's answer, as on the original."""
    runs = both(guard, ["answer"], [("answer", {"question": "what"})])
    assert_same(runs, guard)
    assert runs["guarded"][0].final == "The answer to 'what' is 42."


def test_react_agent(guard):
    """Issue 12: a ReActAgent (text actions, no function calling) sees the same results."""

    def react(tools: list[Any], script: Script) -> ReActAgent:
        state = {"turn": 0}

        def respond(messages: Any, **kwargs: Any) -> ChatMessage:
            state["turn"] += 1
            script.seen.append(list(messages))
            if state["turn"] == 1:
                text = (
                    "Thought: I need the customer.\nAction: lookup_customer\n"
                    'Action Input: {"customer_id": 9}'
                )
            else:
                text = "Thought: I can answer without using any more tools.\nAnswer: found"
            return ChatMessage(role="assistant", content=text)

        return ReActAgent(tools=tools, llm=MockFunctionCallingLLM(response_generator=respond))

    runs = both(guard, ["lookup_customer"], agent=react)
    assert_same(runs, guard)
    assert "found" in runs["guarded"][0].final


def test_agent_workflow_with_a_handoff(guard):
    """Issue 12: an AgentWorkflow that hands off to an agent with guarded tools."""

    def workflow(tools: list[Any], script: Script) -> AgentWorkflow:
        router = FunctionAgent(
            name="router",
            description="Routes requests.",
            tools=[],
            llm=Script([("handoff", {"to_agent": "support", "reason": "customer data"})]).llm(),
            can_handoff_to=["support"],
        )
        support = FunctionAgent(
            name="support", description="Looks customers up.", tools=tools, llm=script.llm()
        )
        return AgentWorkflow(agents=[router, support], root_agent="router")

    runs = both(
        guard,
        ["lookup_customer"],
        [("lookup_customer", {"customer_id": 5})],
        agent=workflow,
    )
    assert_same(runs, guard)


def test_a_tool_error_reads_as_on_the_original(guard):
    """Issue 12: a tool that raises gives the model ``str(exc)`` as content and raw output, as
    LlamaIndex reports it for the original (masked; was: prefixed with the exception's type)."""
    runs = both(guard, ["close_account"], [("close_account", {"customer_id": 7})])
    assert_same(runs, guard)
    [result] = runs["guarded"][0].results
    assert result.tool_output.is_error
    assert result.tool_output.content == f"account of {PLACEHOLDER} is locked"


def test_direct_calls_give_the_originals_tool_output(guard):
    """Issue 12: ``tool.call`` / ``await tool.acall`` / ``tool(...)`` outside an agent return
    the original's `ToolOutput` (content, block types, raw input), masked."""
    for name, args in (("lookup_customer", {"customer_id": 7}), ("search", {"query": "q"})):
        outputs = {}
        for kind in KINDS:
            [tool] = tools_of(kind, guard, Ran(), name)
            outputs[kind] = [
                tool.call(**args),
                asyncio.run(tool.acall(**args)),
                tool(**args),
            ]
        for original, guarded in zip(outputs["original"], outputs["guarded"], strict=True):
            assert type(guarded) is type(original)
            assert guarded.content == masked(original.content)
            assert [type(b) for b in guarded.blocks] == [type(b) for b in original.blocks]
            assert as_data(guarded.raw_input) == with_defaults_of(name, masked(original.raw_input))


def with_defaults_of(name: str, raw_input: dict[str, Any]) -> dict[str, Any]:
    seen = {"results": [{"tool": name, "raw_input": as_data(raw_input)}]}
    return with_defaults(seen)["results"][0]["raw_input"]


# --- #3: human in the loop -----------------------------------------------------------------------


def test_a_tool_that_waits_for_a_human(guard):
    """Issue 12 #3: ``ctx.wait_for_event`` inside a guarded tool suspends the step as on the
    original: `InputRequiredEvent` is streamed, the human's answer reaches the tool, and the
    tool's result is not an error (was: ``WaitingForEvent`` returned as ``is_error=True``)."""
    runs = {}
    for kind in KINDS:
        ran, script = Ran(), Script([("confirm", {"action": "deploy"})])
        agent = FunctionAgent(tools=tools_of(kind, guard, ran, "confirm"), llm=script.llm())
        runs[kind] = (asyncio.run(drive(agent, human="yes")), ran, script)
    assert_same(runs, guard)
    observed = runs["guarded"][0]
    assert any(isinstance(e, InputRequiredEvent) for e in observed.events)
    [result] = observed.results
    assert not result.tool_output.is_error
    assert result.tool_output.content == "user said yes to deploy"


def test_a_tool_that_waits_for_a_human_resumes_from_a_checkpoint(guard):
    """Issue 12 #3: the documented HITL pattern — checkpoint the context when input is required,
    stop, and resume later from ``Context.from_dict`` — works over the guarded tool as over the
    original (JsonPickleSerializer: LlamaIndex's JSON serializer drops the memory)."""
    answers = {}
    for kind in KINDS:
        ran = Ran()
        saved: dict[str, Any] = {}

        async def checkpoint(handler: Any, event: Any, saved: dict[str, Any] = saved) -> Any:
            if isinstance(event, InputRequiredEvent):
                saved["ctx"] = handler.ctx.to_dict(serializer=JsonPickleSerializer())
                await handler.cancel_run()
                return "stop"
            return None

        first = FunctionAgent(
            tools=tools_of(kind, guard, ran, "confirm"),
            llm=Script([("confirm", {"action": "deploy"})]).llm(),
        )
        asyncio.run(drive(first, on_event=checkpoint))
        second = FunctionAgent(tools=tools_of(kind, guard, ran, "confirm"), llm=Script().llm())

        async def resume(second: Any = second, saved: dict[str, Any] = saved) -> Observed:
            ctx = Context.from_dict(second, saved["ctx"], serializer=JsonPickleSerializer())
            observed = Observed()
            handler = second.run(ctx=ctx)
            handler.ctx.send_event(HumanResponseEvent(response="yes"))
            async for event in handler.stream_events():
                observed.events.append(event)
                if isinstance(event, ToolCallResult):
                    observed.results.append(event)
            observed.final = str(await handler)
            return observed

        observed = asyncio.run(resume())
        answers[kind] = ([r.tool_output.content for r in observed.results], ran.calls)
    assert answers["guarded"] == answers["original"]
    assert answers["guarded"][0] == ["user said yes to deploy"]


def test_an_approved_tool_that_waits_for_a_human(tmp_path, shared_masker):
    """Issue 12 #3: a tool under an approval rule that also asks the user: approved once, it
    waits for the human, and its replayed step (LlamaIndex re-runs the step when the answer
    comes) finds the same request by the tool-call id and completes."""
    policy = (
        POLICY
        + """
  - id: confirm-needs-ops
    match: {tool: confirm}
    effect: require_approval
    approval: {approvers: [ops], timeout: 15m}
"""
    )
    guard = Guard(
        Policy.from_string(policy),
        SQLiteStore(tmp_path / "guard.db", key=KEY),
        principal="agent:support-bot",
        on_behalf_of="slack:UALICE",
        masker=shared_masker,
    )
    ran = Ran()
    agent = FunctionAgent(
        tools=tools_of("guarded", guard, ran, "confirm"),
        llm=Script([("confirm", {"action": "deploy"})]).llm(),
    )
    with ScriptedApprover(guard.broker, "cli:bob"):
        observed = asyncio.run(drive(agent, human="yes"))
    [result] = observed.results
    assert len(guard.store.list_requests()) == 1
    assert result.tool_output.content == "user said yes to deploy", result.tool_output.content


# --- #5: outputs that are objects, and media blocks ----------------------------------------------


def test_query_engine_tool_response(guard):
    """Issue 12 #5: a QueryEngineTool's `Response` (answer, source nodes, metadata) is masked
    everywhere the model and the events see it: content, blocks and ``raw_output``."""
    runs = both(guard, ["docs"], [("docs", {"input": "who owns it"})])
    assert_same(runs, guard)
    raw = runs["guarded"][0].results[0].tool_output.raw_output
    assert CANARY not in repr(raw) and PLACEHOLDER in repr(raw)


def test_image_blocks_are_kept(guard):
    """Issue 12 #5: ``[TextBlock, ImageBlock]`` stays ``[TextBlock(masked), ImageBlock]``, the
    image's bytes untouched (was: the image block was dropped)."""
    runs = both(guard, ["picture"], [("picture", {"customer_id": 7})])
    assert_same(runs, guard)
    [result] = runs["guarded"][0].results
    kinds = [type(b).__name__ for b in result.tool_output.blocks]
    assert kinds == ["TextBlock", "ImageBlock"]
    assert result.tool_output.blocks[0].text == f"Photo of {PLACEHOLDER}"
    [original] = runs["original"][0].results
    assert result.tool_output.blocks[1].image == original.tool_output.blocks[1].image
    assert [type(b).__name__ for b in result.tool_output.raw_output] == kinds


def test_an_mcp_call_tool_result(guard):
    """Issue 12 #5: an MCP tool's ``CallToolResult`` (as llama-index-tools-mcp returns it) is
    masked in the content and the raw output the events carry."""
    types = pytest.importorskip("mcp.types")

    def mcp_tools(ran: Ran) -> list[Any]:
        async def crm_lookup(customer_id: int) -> Any:
            """Look a customer up in the CRM."""
            ran.calls.append(("crm_lookup", {"customer_id": customer_id}))
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"owner: {CANARY}")],
                structuredContent={"owner": CANARY},
            )

        return [FunctionTool.from_defaults(async_fn=crm_lookup)]

    runs = {}
    for kind in KINDS:
        ran, script = Ran(), Script([("crm_lookup", {"customer_id": 3})])
        tools = mcp_tools(ran) if kind == "original" else guard_tools(mcp_tools(ran), guard)
        runs[kind] = (asyncio.run(drive(default_agent(tools, script))), ran, script)
    assert_same(runs, guard)


def test_a_typed_result_is_masked(guard):
    """Issue 12 #5: a tool returning a pydantic model gives the original's content and fields,
    masked."""
    runs = both(guard, ["profile"], [("profile", {"customer_id": 7})])
    assert_same(runs, guard)


@pytest.mark.parametrize(
    ("tool", "args"), [("docs", {"input": "who"}), ("profile", {"customer_id": 1})]
)
def test_raw_output_keeps_its_type(guard, tool, args):
    """Issue 12 #5: the masked ``raw_output`` has the original's type (a `Response` stays a
    `Response`, a pydantic model that model). The adapter hands the masker the object
    (`Masker.mask`); today the masker gives it back as plain data."""
    runs = both(guard, [tool], [(tool, args)])
    guarded = runs["guarded"][0].results[0].tool_output.raw_output
    original = runs["original"][0].results[0].tool_output.raw_output
    assert type(guarded) is type(original)


# --- #6: multi-turn conversations ----------------------------------------------------------------


def copy_the_address(messages: list[ChatMessage]) -> list[Any]:
    """The model writes to the address it read in the last tool message, as it read it."""
    text = last_tool_text(messages)
    address = CANARY if CANARY in text else PLACEHOLDER
    assert address in text
    return [("send_email", {"to": address, "body": "hello"})]


async def same_memory(agent: Any) -> Observed:
    """Two runs with one memory (``agent.run(msg, memory=memory)``), each in a new context."""
    memory = ChatMemoryBuffer.from_defaults()
    await drive(agent, "who is customer 7?", memory=memory)
    return await drive(agent, "email them", memory=memory)


async def checkpointed_context(agent: Any) -> Observed:
    """Turn 1, the context saved (``ctx.to_dict``) and rebuilt (``Context.from_dict``), turn 2:
    the conversation as a server that keeps it between requests continues it."""
    ctx = Context(agent)
    await drive(agent, "who is customer 7?", ctx=ctx)
    saved = ctx.to_dict(serializer=JsonPickleSerializer())
    rebuilt = Context.from_dict(agent, saved, serializer=JsonPickleSerializer())
    return await drive(agent, "email them", ctx=rebuilt)


@pytest.mark.parametrize("conversation", [same_memory, checkpointed_context])
def test_a_placeholder_from_turn_one_is_restored_in_turn_two(guard, conversation):
    """Issue 12 #6: two ``agent.run()`` turns of one conversation (one memory, or one context
    checkpointed between the turns): the model writes to ``<EMAIL_1>`` it saw in turn 1, and the
    tool gets the real address in turn 2, as the original tool gets the address the model saw
    (was: refused, every ``agent.run()`` a new guard run)."""
    outcome = {}
    for kind in KINDS:
        ran = Ran()
        script = Script([("lookup_customer", {"customer_id": 7})], None, copy_the_address)
        agent = FunctionAgent(
            tools=tools_of(kind, guard, ran, "lookup_customer", "send_email"), llm=script.llm()
        )
        second = asyncio.run(conversation(agent))
        outcome[kind] = ([r.tool_output.is_error for r in second.results], ran.calls)
        if kind == "guarded":
            assert_no_canary(guard, second, script)
    assert outcome["guarded"] == outcome["original"]
    assert outcome["guarded"][1][-1] == ("send_email", {"to": CANARY, "body": "hello"})
    rows = [r for r in guard.store.audit_rows() if r.event == "call.evaluated"]
    assert len({r.data.get("run_id") for r in rows}) == 1


def conversation_then(guard: Guard, second_ctx: Callable[[Any, Context], Any]) -> Ran:
    """Turn 1 in one context, turn 2 (writing to ``<EMAIL_1>``) in ``second_ctx(agent, ctx)``."""
    ran = Ran()
    script = Script(
        [("lookup_customer", {"customer_id": 7})],
        None,
        [("send_email", {"to": PLACEHOLDER, "body": "hello"})],
    )
    tools = guard_tools([make_tools(ran)[n] for n in ("lookup_customer", "send_email")], guard)
    agent = FunctionAgent(tools=tools, llm=script.llm())

    async def turns() -> Observed:
        ctx = Context(agent)
        await drive(agent, "who is customer 7?", ctx=ctx)
        return await drive(agent, "email them", ctx=second_ctx(agent, ctx))

    second = asyncio.run(turns())
    [result] = second.results
    assert result.tool_output.is_error
    assert "<EMAIL_1>" in result.tool_output.content
    return ran


def test_another_conversation_cannot_use_the_placeholder(guard):
    """Issue 12 #6: another `Context` is another conversation — another user's, as far as the
    guard knows — so ``<EMAIL_1>`` of the first is refused there and the tool never runs."""
    ran = conversation_then(guard, lambda agent, ctx: Context(agent))
    assert ran.names() == ["lookup_customer"]


def test_an_edited_conversation_id_starts_a_new_conversation(guard):
    """Issue 12 #6: the conversation id in a serialized context is bound to the guard's
    principal and store key: an edited one (pointing at another conversation) does not verify,
    and the placeholder of the conversation it names is refused."""

    def edited(agent: Any, ctx: Context) -> Context:
        saved = ctx.to_dict(serializer=JsonPickleSerializer())
        text = json.dumps(saved)
        [token] = set(re.findall(r"[0-9a-f]{32}\.hmac-sha256:[0-9a-f]{64}", text))
        forged = token[:-64] + "0" * 64
        return Context.from_dict(
            agent, json.loads(text.replace(token, forged)), serializer=JsonPickleSerializer()
        )

    ran = conversation_then(guard, edited)
    assert ran.names() == ["lookup_customer"]
    refused = [r for r in guard.store.audit_rows() if r.event == Event.RUN_CONFIG_REFUSED]
    assert [r.data["key"] for r in refused] == ["context.guardrails_conversation"]


def test_another_users_guard_does_not_continue_the_conversation(tmp_path, shared_masker):
    """Issue 12 #6: a context carried to a guard acting for another human (``on_behalf_of``)
    is not that human's conversation: the first user's placeholder is refused."""
    store_path = tmp_path / "guard.db"
    alice = make_guard(store_path, masker=shared_masker)
    mallory = make_guard(store_path, masker=shared_masker, on_behalf_of="slack:UMAL")
    ran = Ran()
    tools = make_tools(ran)
    script = Script(
        [("lookup_customer", {"customer_id": 7})],
        None,
        [("send_email", {"to": PLACEHOLDER, "body": "hello"})],
    )
    as_alice = FunctionAgent(tools=guard_tools([tools["lookup_customer"]], alice), llm=script.llm())
    as_mallory = FunctionAgent(tools=guard_tools([tools["send_email"]], mallory), llm=script.llm())

    async def turns() -> Observed:
        ctx = Context(as_alice)
        await drive(as_alice, "who is customer 7?", ctx=ctx)
        saved = ctx.to_dict(serializer=JsonPickleSerializer())
        carried = Context.from_dict(as_mallory, saved, serializer=JsonPickleSerializer())
        return await drive(as_mallory, "email them", ctx=carried)

    second = asyncio.run(turns())
    assert second.results[0].tool_output.is_error
    assert ran.names() == ["lookup_customer"]


def test_parallel_calls_of_a_first_turn_share_one_conversation(guard):
    """Issue 12 #6: tool calls of one turn run in parallel steps; they share one conversation
    (one placeholder for one address), not one each."""
    runs = both(
        guard,
        ["lookup_customer", "picture"],
        [("lookup_customer", {"customer_id": 7}), ("picture", {"customer_id": 7})],
    )
    assert_same(runs, guard)
    rows = [r for r in guard.store.audit_rows() if r.event == "call.evaluated"]
    assert len({r.data.get("run_id") for r in rows}) == 1


# --- #7: checkpoint and resume while an approval is pending --------------------------------------


def test_a_resumed_workflow_finds_its_approved_request(tmp_path, shared_masker):
    """Issue 12 #7: the app checkpoints the context when the guard asks for approval and stops;
    the reviewer approves; a new process (another Guard on the same store) resumes from the
    checkpoint: the replayed call finds its approved request and runs once (was: the approval
    was ignored and new requests were made). A step running at the checkpoint is replayed more
    than once on resume (the original tool runs each time): the guard runs it once."""
    store_path = tmp_path / "guard.db"
    first_guard = make_guard(store_path, masker=shared_masker)
    ran = Ran()
    call = ("export_table", {"database": "prod-eu", "table": "orders"})
    saved: dict[str, Any] = {}

    async def checkpoint(handler: Any, event: Any) -> Any:
        if isinstance(event, ApprovalRequiredEvent):
            saved["ctx"] = handler.ctx.to_dict(serializer=JsonPickleSerializer())
            await handler.cancel_run()
            return "stop"
        return None

    first = FunctionAgent(
        tools=guard_tools([make_tools(ran)["export_table"]], first_guard, events=True),
        llm=Script([call]).llm(),
    )
    asyncio.run(drive(first, on_event=checkpoint))
    [request] = first_guard.store.list_requests()
    assert request.status is Status.PENDING and ran.calls == []
    ScriptedApprover(first_guard.broker, "cli:bob").vote_pending()
    first_guard.store.close()

    second_guard = make_guard(store_path, masker=shared_masker)
    second = FunctionAgent(
        tools=guard_tools([make_tools(ran)["export_table"]], second_guard, events=True),
        llm=Script().llm(),
    )

    async def resume() -> Observed:
        ctx = Context.from_dict(second, saved["ctx"], serializer=JsonPickleSerializer())
        observed = Observed()
        handler = second.run(ctx=ctx)
        async for event in handler.stream_events():
            if isinstance(event, ToolCallResult):
                observed.results.append(event)
        observed.final = str(await handler)
        return observed

    observed = asyncio.run(resume())
    outputs = [r.tool_output for r in observed.results]
    assert {r.tool_id for r in observed.results} == {"call-1-0"}
    [ok] = [o for o in outputs if not o.is_error]
    assert ok.content == "exported prod-eu.orders"
    # LlamaIndex replays a step that was running at the checkpoint more than once (the original
    # tool runs again each time); the approval allows one execution, the replays are refused.
    assert all("already ran once" in o.content for o in outputs if o.is_error)
    assert ran.calls == [call]
    [again] = second_guard.store.list_requests()
    assert again.id == request.id and again.executed_at is not None
    created = [r for r in second_guard.store.audit_rows() if r.event == Event.REQUEST_CREATED]
    assert len(created) == 1
    second_guard.store.close()


def test_the_model_tool_call_id_keys_the_request(guard):
    """Issue 12 #7: the request's idempotency key is the model's tool-call id: the audit row of
    the evaluated call names it, so a replayed step maps to its request."""
    ran = Ran()
    call = ("export_table", {"database": "prod-eu", "table": "orders"})
    agent = FunctionAgent(
        tools=guard_tools([make_tools(ran)["export_table"]], guard), llm=Script([call]).llm()
    )
    with ScriptedApprover(guard.broker, "cli:bob"):
        asyncio.run(drive(agent))
    rows = [r for r in guard.store.audit_rows() if r.event == "call.evaluated"]
    assert [r.data.get("call_id") for r in rows] == ["call-1-0"]
    assert ran.calls == [call]
