"""Run one scripted LangChain scenario three ways and record everything observable.

The same tools and the same scripted model run as the original (no guard), behind
`guard_tools` (the wrapper) and behind `GuardMiddleware`, with ``invoke`` or ``ainvoke``. A run
records what the model was shown, the final messages, every callback event a tracer hears (a
recording handler in the run's config), and the guard's audit rows, so a test can assert that
the guarded run equals the original except for masking and denials, and that no raw canary
value reached the model, a tracer or the audit log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import ToolNode
from pydantic import Field

from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.langchain import GuardMiddleware, guard_tools
from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel, tool_call
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY

VARIANTS = ["original", "wrapper", "middleware"]
GUARDED = ["wrapper", "middleware"]
MODES = ["invoke", "ainvoke"]

# Raw values that only tools know. The guard shows them to nobody but the tool.
EMAIL = "ana.lopez@example.org"
SECRET = "sk_live_51Habc123DEF456ghi789JKL"
CANARIES = (EMAIL, SECRET)
# ... and the placeholders the model reads instead (one conversation, first seen first).
PLACEHOLDER = {EMAIL: "<EMAIL_1>", SECRET: "<API_KEY_1>"}

POLICY = """
version: 1
defaults: {effect: allow}
people:
  bob: [cli:bob]
groups:
  ops: [bob]
rules:
  - id: no-drop
    match: {tool: run_sql, args: {query: {regex: "(?i)drop"}}}
    effect: deny
    reason: Dropping tables is not allowed.
  - id: no-forbidden-echo
    match: {tool: echo, args: {__arg1: {regex: forbidden}}}
    effect: deny
  - id: ask-needs-ops
    match: {tool: ask_user}
    effect: require_approval
    approval: {approvers: [ops], timeout: 15m}
  - id: email-out
    match: {tool: send_email}
    effect: allow
    masking: {restore_placeholders: true}
"""

_MASKER = Masker(ner=False)  # patterns only: deterministic placeholders, no spaCy model to load


def make_guard(tmp_path: Path, policy: str = POLICY) -> Guard:
    store = SQLiteStore(tmp_path / "guard.db", key=KEY)
    return Guard(Policy.from_string(policy), store, principal="agent:support-bot", masker=_MASKER)


class RecordingModel(ScriptedChatModel):
    """A scripted model that keeps every list of messages it was shown."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


class Recorder(BaseCallbackHandler):
    """A tracer stand-in: every callback it hears, as text, and the tool events by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[str] = []
        self.tools: list[dict[str, Any]] = []

    def _keep(self, event: str, *args: Any, **kwargs: Any) -> None:
        self.heard.append(f"{event} {args!r} {kwargs!r}")

    def on_tool_start(self, serialized: Any, input_str: str, **kwargs: Any) -> None:
        self._keep("tool_start", serialized, input_str, **kwargs)
        self.tools.append(
            {
                "event": "start",
                "name": (serialized or {}).get("name"),
                "inputs": kwargs.get("inputs"),
                "tool_call_id": kwargs.get("tool_call_id"),
                "run_id": kwargs.get("run_id"),
            }
        )

    def on_tool_end(self, output: Any, **kwargs: Any) -> None:
        self._keep("tool_end", output, **kwargs)
        self.tools.append({"event": "end", "output": output, "run_id": kwargs.get("run_id")})

    def on_tool_error(self, error: BaseException, **kwargs: Any) -> None:
        self._keep("tool_error", error, **kwargs)
        self.tools.append({"event": "error", "error": error, "run_id": kwargs.get("run_id")})

    def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
        self._keep("chain_start", *args, **kwargs)

    def on_chain_end(self, *args: Any, **kwargs: Any) -> None:
        self._keep("chain_end", *args, **kwargs)

    def on_chain_error(self, *args: Any, **kwargs: Any) -> None:
        self._keep("chain_error", *args, **kwargs)

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self._keep("chat_model_start", *args, **kwargs)

    def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
        self._keep("llm_start", *args, **kwargs)

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        self._keep("llm_end", *args, **kwargs)

    def on_retriever_start(self, *args: Any, **kwargs: Any) -> None:
        self._keep("retriever_start", *args, **kwargs)

    def on_retriever_end(self, *args: Any, **kwargs: Any) -> None:
        self._keep("retriever_end", *args, **kwargs)

    def on_text(self, *args: Any, **kwargs: Any) -> None:
        self._keep("text", *args, **kwargs)

    def on_custom_event(self, *args: Any, **kwargs: Any) -> None:
        self._keep("custom_event", *args, **kwargs)

    def tool_events(self) -> list[tuple[str, str | None]]:
        """(event, tool name) in order; ends named after their start."""
        names: dict[UUID | None, str | None] = {}
        out = []
        for e in self.tools:
            if e["event"] == "start":
                names[e["run_id"]] = e["name"]
            out.append((e["event"], names.get(e["run_id"], e.get("name"))))
        return out


@dataclass
class Run:
    """What one scenario run showed the world."""

    variant: str
    result: dict[str, Any] | None
    model: RecordingModel
    recorder: Recorder
    guard: Guard | None
    error: BaseException | None = None
    chunks: list[Any] = field(default_factory=list)

    @property
    def messages(self) -> list[BaseMessage]:
        return list((self.result or {}).get("messages", []))

    @property
    def tool_messages(self) -> list[ToolMessage]:
        return [m for m in self.messages if isinstance(m, ToolMessage)]

    def audit_text(self) -> str:
        if self.guard is None:
            return ""
        rows = self.guard.store.audit_rows()
        return json.dumps([r.data for r in rows], default=str)

    def everything(self) -> dict[str, str]:
        """Every place a raw value must not reach, as text."""
        return {
            "model": repr(self.model.seen),
            "messages": repr(self.messages),
            "tracer": "\n".join(self.recorder.heard),
            "audit": self.audit_text(),
            "error": repr(self.error),
            "stream": repr(self.chunks),
        }


def turns(*calls: Any) -> list[list[dict[str, Any]]]:
    """One model turn per argument: a tool call, or a list of parallel tool calls."""
    return [list(c) if isinstance(c, list) else [c] for c in calls]


def build(
    variant: str,
    tools: Sequence[BaseTool],
    script: list[list[dict[str, Any]]],
    guard: Guard | None,
    *,
    middleware: Sequence[Any] = (),
    checkpointer: Any = None,
    store: Any = None,
    final: str = "ok",
    guard_mode: str = "blocking",
) -> tuple[Any, RecordingModel]:
    """A ``create_agent`` agent for ``variant`` whose model makes the scripted calls."""
    model = RecordingModel(
        responses=[*(AIMessage("", tool_calls=calls) for calls in script), AIMessage(final)]
    )
    extra = list(middleware)
    if variant == "original" or guard is None:
        agent = create_agent(
            model, list(tools), middleware=extra, checkpointer=checkpointer, store=store
        )
    elif variant == "wrapper":
        agent = create_agent(
            model,
            guard_tools(tools, guard),
            middleware=extra,
            checkpointer=checkpointer,
            store=store,
        )
    else:
        agent = create_agent(
            model,
            list(tools),
            middleware=[GuardMiddleware(guard, mode=guard_mode), *extra],  # type: ignore[arg-type]
            checkpointer=checkpointer,
            store=store,
        )
    return agent, model


def run_agent(
    variant: str,
    mode: str,
    tools: Sequence[BaseTool],
    script: list[list[dict[str, Any]]],
    guard: Guard | None,
    *,
    payload: Any = None,
    thread: str = "t-1",
    context: Any = None,
    stream: str | None = None,
    **kwargs: Any,
) -> Run:
    """Run the agent once (``stream``: a LangGraph stream mode, or "events" for
    ``astream_events``); an exception the run raises is kept, not raised."""
    if isinstance(kwargs.get("checkpointer"), type):  # a fresh one per run
        kwargs["checkpointer"] = kwargs["checkpointer"]()
    agent, model = build(variant, tools, script, guard if variant != "original" else None, **kwargs)
    recorder = Recorder()
    config = {"configurable": {"thread_id": thread}, "callbacks": [recorder]}
    payload = payload if payload is not None else {"messages": [("user", "go")]}
    run = Run(variant, None, model, recorder, guard if variant != "original" else None)
    try:
        if stream is not None:
            run.chunks = _stream(agent, mode, payload, config, stream, context)
            run.result = agent.get_state(config).values if kwargs.get("checkpointer") else None
        elif mode == "ainvoke":
            run.result = asyncio.run(agent.ainvoke(payload, config, context=context))
        else:
            run.result = agent.invoke(payload, config, context=context)
    except Exception as exc:  # noqa: BLE001 - a scenario may expect the run to fail
        run.error = exc
    return run


def _stream(agent: Any, mode: str, payload: Any, config: Any, how: str, context: Any) -> list:
    if how == "events":

        async def events() -> list[Any]:
            return [e async for e in agent.astream_events(payload, config, context=context)]

        return asyncio.run(events())
    if mode == "ainvoke":

        async def chunks() -> list[Any]:
            return [c async for c in agent.astream(payload, config, stream_mode=how)]

        return asyncio.run(chunks())
    return list(agent.stream(payload, config, stream_mode=how, context=context))


def run_tool_node(
    variant: str,
    mode: str,
    tools: Sequence[BaseTool],
    calls: list[dict[str, Any]],
    guard: Guard | None,
    **node_kwargs: Any,
) -> Run:
    """A bare ``ToolNode`` (no agent) answering one AI message's tool calls."""
    if variant == "wrapper" and guard is not None:
        node = ToolNode(guard_tools(tools, guard), **node_kwargs)
    elif variant == "middleware" and guard is not None:
        middleware = GuardMiddleware(guard)
        node = ToolNode(
            list(tools),
            wrap_tool_call=middleware.wrap_tool_call,
            awrap_tool_call=middleware.awrap_tool_call,
            **node_kwargs,
        )
    else:
        node = ToolNode(list(tools), **node_kwargs)
    recorder = Recorder()
    payload = {"messages": [AIMessage("", tool_calls=calls)]}
    config = {"configurable": {"thread_id": "t-node"}, "callbacks": [recorder]}
    run = Run(variant, None, RecordingModel(responses=[]), recorder, guard)
    try:
        if mode == "ainvoke":
            out = asyncio.run(node.ainvoke(payload, config))
        else:
            out = node.invoke(payload, config)
        run.result = {"messages": [*payload["messages"], *out["messages"]]}
    except Exception as exc:  # noqa: BLE001
        run.error = exc
    return run


def masked(value: Any) -> Any:
    """What the guard should show instead of ``value``: its canaries as placeholders."""
    if isinstance(value, str):
        for raw, placeholder in PLACEHOLDER.items():
            value = value.replace(raw, placeholder)
        return value
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, tuple):
        return tuple(masked(v) for v in value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    return value


def shape(message: BaseMessage) -> dict[str, Any]:
    """What a message shows the model and the app, comparable across variants."""
    out: dict[str, Any] = {"type": type(message).__name__, "content": message.content}
    if isinstance(message, ToolMessage):
        out.update(
            name=message.name,
            status=message.status,
            tool_call_id=message.tool_call_id,
            artifact=message.artifact,
        )
    if isinstance(message, AIMessage):
        out["tool_calls"] = [(c["name"], c["args"], c["id"]) for c in message.tool_calls]
    return out


def transcript(run: Run) -> list[dict[str, Any]]:
    """The run's messages as `shape`s, without the ids LangChain generates per run."""
    return [shape(m) for m in run.messages]


def model_schema(tool: BaseTool) -> dict[str, Any]:
    """What a chat model is told about the tool (the OpenAI function format other providers'
    converters start from too)."""
    return convert_to_openai_tool(tool)


def assert_guarded_equals_original(
    original: Run, guarded: Run, *, differs: Callable[[dict[str, Any]], bool] | None = None
) -> None:
    """The guarded run's transcript is the original's with its canaries masked (messages for
    which ``differs`` is true are left out: the guard must differ there)."""
    if guarded is original:
        return
    want = [masked(m) for m in transcript(original)]
    got = transcript(guarded)
    if differs is not None:
        want = [m for m in want if not differs(m)]
        got = [m for m in got if not differs(m)]
    assert got == want, f"\n got: {got}\nwant: {want}"


def assert_no_canary(run: Run, *canaries: str) -> None:
    """No raw canary reached the model, the messages, a tracer, the audit log or an error."""
    for where, text in run.everything().items():
        for canary in canaries or CANARIES:
            assert canary not in text, f"{canary!r} reached {where} in the {run.variant} run"


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return tool_call(name, args, call_id)


__all__ = [
    "CANARIES",
    "EMAIL",
    "GUARDED",
    "MODES",
    "PLACEHOLDER",
    "POLICY",
    "SECRET",
    "VARIANTS",
    "InMemorySaver",
    "Recorder",
    "RecordingModel",
    "Run",
    "assert_guarded_equals_original",
    "assert_no_canary",
    "build",
    "call",
    "make_guard",
    "masked",
    "model_schema",
    "run_agent",
    "run_tool_node",
    "shape",
    "transcript",
    "turns",
]
