"""Issue 12: a guarded LangChain tool behaves exactly like the original.

Each scenario runs the same tools and the same scripted model three ways (the original tool,
`guard_tools`, `GuardMiddleware`) with ``invoke`` and ``ainvoke``, in real ``create_agent`` agents
or a bare ``ToolNode``, and asserts that the guarded run shows the model, the app and tracers
what the original shows, with the canaries masked, except where the guard must differ (a
denial); and that no raw canary reaches the model, the messages, a tracer or the audit log.
The shapes that already worked are here too, so they stay working. Covers P1, P10, P11, P24.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain.tools import ToolRuntime
from langchain_core.documents import Document
from langchain_core.messages import ToolMessage
from langchain_core.tools import (
    InjectedToolArg,
    InjectedToolCallId,
    StructuredTool,
    Tool,
    ToolException,
    tool,
)
from langgraph.errors import is_invalid_resume
from langgraph.prebuilt import InjectedState, InjectedStore
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command, interrupt
from pydantic import BaseModel

from guardrails_plugin.integrations.langchain import guard_tool, resume_decided
from guardrails_plugin.store import Event
from guardrails_plugin.testing import ScriptedApprover

from .lc_harness import (
    EMAIL,
    GUARDED,
    MODES,
    SECRET,
    VARIANTS,
    InMemorySaver,
    Recorder,
    assert_guarded_equals_original,
    assert_no_canary,
    call,
    make_guard,
    masked,
    model_schema,
    run_agent,
    run_tool_node,
    turns,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def guard(tmp_path):
    g = make_guard(tmp_path)
    yield g
    g.store.close()


def lookup_tools() -> list[Any]:
    @tool
    def lookup_customer(customer_id: int) -> dict:
        """Look up a customer by id."""
        return {"id": customer_id, "email": EMAIL, "api_key": SECRET}

    @tool
    def run_sql(query: str) -> str:
        """Run a SQL statement."""
        return f"ran {query}"

    @tool
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        return f"sent to {to}: {body}"

    return [lookup_customer, run_sql, send_email]


def compare(variant: str, mode: str, guard, tools, script, **kwargs) -> tuple[Any, Any]:
    """(the original's run, this variant's run) of the same scenario."""
    original = run_agent("original", mode, tools, script, None, **kwargs)
    if variant == "original":
        return original, original
    return original, run_agent(variant, mode, tools, script, guard, **kwargs)


def assert_canaries_kept(original, guarded, *canaries: str) -> None:
    """No raw value reached anyone in the guarded run (the original is the reference)."""
    if guarded is not original:
        assert_no_canary(guarded, *canaries)


def expected(original, guarded, value: Any) -> Any:
    """``value`` of the original run as the guarded run must show it."""
    return value if guarded is original else masked(value)


def test_the_canary_check_catches_what_the_original_shows(guard):
    """The original run shows the raw values to the model and to tracers, so a leak in a
    guarded run would be caught by the same check."""
    script = turns(call("lookup_customer", {"customer_id": 7}, "c1"))
    original = run_agent("original", "invoke", lookup_tools(), script, None)
    with pytest.raises(AssertionError, match="reached model"):
        assert_no_canary(original)
    assert EMAIL in original.everything()["tracer"] and SECRET in original.everything()["model"]


# --- shapes that already worked ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_structured_tool_same_schema_same_answer_masked(guard, variant, mode):
    """A ``@tool``'s schema and result: the model sees the same tool and the masked answer."""
    tools = lookup_tools()
    script = turns(call("lookup_customer", {"customer_id": 7}, "c1"))
    original, guarded = compare(variant, mode, guard, tools, script)
    assert original.error is None and guarded.error is None
    assert_guarded_equals_original(original, guarded)
    assert_canaries_kept(original, guarded)
    if variant == "wrapper":
        for t in tools:
            assert model_schema(guard_tool(t, guard)) == model_schema(t)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parallel_calls_each_answered_and_a_denial_reaches_the_model(guard, variant, mode):
    tools = lookup_tools()
    script = turns(
        [
            call("lookup_customer", {"customer_id": 7}, "c1"),
            call("run_sql", {"query": "DROP TABLE users"}, "c-drop"),
            call("run_sql", {"query": "select 1"}, "c3"),
        ]
    )
    original, guarded = compare(variant, mode, guard, tools, script)
    assert_guarded_equals_original(
        original, guarded, differs=lambda m: m.get("tool_call_id") == "c-drop"
    )
    [denied] = [m for m in guarded.tool_messages if m.tool_call_id == "c-drop"]
    if variant != "original":
        assert denied.status == "error"
        assert denied.content == (
            "Denied by policy rule 'no-drop': Dropping tables is not allowed."
        )
    assert_canaries_kept(original, guarded)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_placeholders_restored_for_the_tool_only(guard, variant, mode):
    """The tool gets the real address behind ``<EMAIL_1>``; the model, tracers and the audit
    log never do (P11)."""
    received: list[str] = []

    @tool
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        received.append(to)
        return f"sent to {to}"

    tools = [lookup_tools()[0], send_email]
    script = turns(
        call("lookup_customer", {"customer_id": 7}, "c1"),
        call("send_email", {"to": "<EMAIL_1>", "body": "hi"}, "c2"),
    )
    original, guarded = compare(variant, mode, guard, tools, script)
    assert_guarded_equals_original(original, guarded)
    if variant != "original":
        assert received[-1] == EMAIL  # restored for the tool
    assert_canaries_kept(original, guarded)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_injected_arguments_reach_the_tool_and_nothing_else(guard, variant, mode):
    """InjectedToolCallId, ToolRuntime, InjectedState and InjectedStore are filled in as for
    the original; the agent's state never reaches the audit log or the tool's trace inputs."""

    @tool
    def whoami(
        x: int,
        call_id: Annotated[str, InjectedToolCallId],
        runtime: ToolRuntime,
        state: Annotated[dict, InjectedState],
        store: Annotated[Any, InjectedStore()],
    ) -> str:
        """Report what was injected."""
        assert runtime.tool_call_id == call_id
        return f"x={x} id={call_id} messages={len(state['messages'])} store={store is not None}"

    script = turns(call("whoami", {"x": 7}, "c-who"))
    marker = "state-marker-7c1e"
    payload = {"messages": [("user", f"go {marker}")]}
    original, guarded = compare(
        variant, mode, guard, [whoami], script, payload=payload, store=InMemoryStore()
    )
    assert original.error is None and guarded.error is None, guarded.error
    assert original.tool_messages[0].content == "x=7 id=c-who messages=2 store=True"
    assert_guarded_equals_original(original, guarded)
    if variant != "original":
        assert marker not in guarded.audit_text()
        starts = [e for e in guarded.recorder.tools if e["event"] == "start"]
        assert starts[0]["inputs"] == {"x": 7}  # no injected values in the trace either


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_content_and_artifact_and_return_direct(guard, variant, mode):
    def search(query: str) -> tuple[str, dict]:
        return f"found {EMAIL} for {query}", {"rows": [{"email": EMAIL}]}

    search_tool = StructuredTool.from_function(
        search,
        name="search",
        description="Search.",
        response_format="content_and_artifact",
        return_direct=True,
    )
    script = turns(call("search", {"query": "ana"}, "c1"))
    original, guarded = compare(variant, mode, guard, [search_tool], script)
    assert_guarded_equals_original(original, guarded)
    last = guarded.messages[-1]
    assert isinstance(last, ToolMessage)  # return_direct: the agent stops at the tool
    assert len(guarded.model.seen) == 1
    assert last.artifact == expected(original, guarded, original.messages[-1].artifact)
    assert_canaries_kept(original, guarded)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_stream_updates_are_the_originals_masked(guard, variant, mode):
    tools = lookup_tools()
    script = turns(call("lookup_customer", {"customer_id": 7}, "c1"))
    original, guarded = compare(
        variant, mode, guard, tools, script, stream="updates", checkpointer=InMemorySaver
    )

    def nodes(run) -> list[tuple[str, list[Any]]]:
        return [
            (node, [m.content for m in (update or {}).get("messages", [])])
            for chunk in run.chunks
            for node, update in chunk.items()
        ]

    assert nodes(guarded) == [(n, expected(original, guarded, c)) for n, c in nodes(original)]
    assert_guarded_equals_original(original, guarded)
    assert_canaries_kept(original, guarded)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_tool_node_without_an_agent(guard, variant, mode):
    tools = lookup_tools()
    calls = [
        call("lookup_customer", {"customer_id": 7}, "c1"),
        call("run_sql", {"query": "drop table t"}, "c-drop"),
    ]
    original = run_tool_node("original", mode, tools, calls, None)
    guarded = run_tool_node(variant, mode, tools, calls, guard)
    assert_guarded_equals_original(
        original, guarded, differs=lambda m: m.get("tool_call_id") == "c-drop"
    )
    assert_canaries_kept(original, guarded)


# --- issue 12 #1: a classic single-input Tool --------------------------------------------------


def classic() -> Tool:
    return Tool(name="echo", func=lambda s: f"echo {s} for {EMAIL}", description="Echo it.")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_classic_tool_keeps_its_one_string_schema_and_input(guard, variant, mode):
    """Issue 12 #1: a classic Tool lost its schema (``args/config/kwargs`` instead of
    ``__arg1``) and failed on ``{"__arg1": "hi"}`` under `guard_tools`."""
    script = turns(call("echo", {"__arg1": "hi"}, "c1"), call("echo", {"text": "there"}, "c2"))
    original, guarded = compare(variant, mode, guard, [classic()], script)
    assert original.error is None and guarded.error is None, guarded.error
    assert original.tool_messages[0].content == f"echo hi for {EMAIL}"
    assert_guarded_equals_original(original, guarded)
    assert_canaries_kept(original, guarded)
    wrapped = guard_tool(classic(), guard)
    assert model_schema(wrapped) == model_schema(classic())
    assert model_schema(wrapped)["function"]["parameters"]["properties"] == {
        "__arg1": {"title": "__arg1", "type": "string"}
    }
    assert wrapped.args == classic().args and wrapped.is_single_input


@pytest.mark.parametrize("variant", GUARDED)
def test_classic_tool_input_is_judged_as_arg1_whatever_the_key(guard, variant):
    """Issue 12 #1: the guard judges a classic Tool's input as ``{"__arg1": value}``, so a rule
    on ``__arg1`` holds whichever key the model wrote."""
    script = turns(
        [call("echo", {"__arg1": "forbidden"}, "c1"), call("echo", {"q": "forbidden"}, "c2")]
    )
    run = run_agent(variant, "invoke", [classic()], script, guard)
    assert [m.status for m in run.tool_messages] == ["error", "error"]
    assert all("no-forbidden-echo" in m.content for m in run.tool_messages)
    evaluated = [r.data for r in guard.store.audit_rows() if r.event == Event.CALL_EVALUATED]
    assert [e["masked_args"] for e in evaluated] == [{"__arg1": "forbidden"}] * 2


def test_classic_tool_invoked_directly(guard):
    """Issue 12 #1: ``invoke("hi")`` failed with ``'input'``."""
    original, wrapped = classic(), guard_tool(classic(), guard)
    assert wrapped.invoke("hi") == masked(original.invoke("hi")) == "echo hi for <EMAIL_1>"
    assert wrapped.invoke({"__arg1": "hi"}) == masked(original.invoke({"__arg1": "hi"}))
    assert asyncio.run(wrapped.ainvoke("hi")) == "echo hi for <EMAIL_1>"
    message = wrapped.invoke(call("echo", {"__arg1": "hi"}, "c9"))
    assert isinstance(message, ToolMessage) and message.content == "echo hi for <EMAIL_1>"
    assert wrapped.func is not None and wrapped.func("hi") == "echo hi for <EMAIL_1>"
    assert wrapped.invoke("forbidden").startswith("Denied by policy rule 'no-forbidden-echo'")


# --- issue 12 #8: attributes -------------------------------------------------------------------


def failing(flag: Any, error: type[Exception] = ToolException) -> StructuredTool:
    def fetch(url: str) -> str:
        raise error(f"cannot reach {url} as {EMAIL}")

    return StructuredTool.from_function(
        fetch, name="fetch", description="Fetch a URL.", handle_tool_error=flag
    )


def _handler(exc: ToolException) -> str:
    return f"handled: {exc}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "flag", [True, "the fetch failed", _handler], ids=["true", "string", "callable"]
)
def test_handle_tool_error_answers_as_on_the_original(guard, variant, mode, flag):
    """Issue 12 #8: ``guard_tool`` forced ``handle_tool_error=True``: a string or callable
    handler was ignored."""
    script = turns(call("fetch", {"url": "https://x"}, "c1"))
    original, guarded = compare(variant, mode, guard, [failing(flag)], script)
    assert original.error is None and guarded.error is None, guarded.error
    assert original.tool_messages[0].status == "error"
    assert_guarded_equals_original(original, guarded)
    assert_canaries_kept(original, guarded)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("error", [ToolException, ValueError])
def test_an_unhandled_tool_error_fails_the_run_as_on_the_original(guard, variant, mode, error):
    """Issue 12 #8: ``handle_tool_error=False`` must raise as on the original (LangGraph's
    ToolNode then fails the run): the guarded run raises the same type, masked."""
    script = turns(call("fetch", {"url": "https://x"}, "c1"))
    original, guarded = compare(variant, mode, guard, [failing(False, error)], script)
    assert type(original.error) is error and type(guarded.error) is error
    assert str(guarded.error) == expected(original, guarded, str(original.error))
    assert_canaries_kept(original, guarded)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", GUARDED)
def test_tool_node_handle_tool_errors_sees_the_masked_error(guard, variant, mode):
    """ToolNode(handle_tool_errors=True) turns any tool error into a message, with its repr."""
    calls = [call("fetch", {"url": "https://x"}, "c1")]
    tools = [failing(False, ValueError)]
    original = run_tool_node("original", mode, tools, calls, None, handle_tool_errors=True)
    guarded = run_tool_node(variant, mode, tools, calls, guard, handle_tool_errors=True)
    assert_guarded_equals_original(original, guarded)
    assert_no_canary(guarded)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_handle_validation_error_answers_as_on_the_original(guard, variant, mode):
    def _square(n: int) -> int:
        return n * n

    square = StructuredTool.from_function(
        _square, name="square", description="Square.", handle_validation_error="give me a number"
    )

    @tool
    def cube(n: int) -> int:
        """Cube a number."""
        return n**3

    script = turns([call("square", {"n": "many"}, "c1"), call("cube", {"n": "lots"}, "c2")])
    original, guarded = compare(variant, mode, guard, [square, cube], script)
    assert [m.status for m in original.tool_messages] == ["error", "error"]
    assert_guarded_equals_original(original, guarded)


def test_guard_tool_keeps_every_field_of_the_tool(guard):
    """Issue 12 #8: callbacks, verbose and extras (e.g. ``cache_control``) were dropped."""
    local = Recorder()

    async def acompute(x: int) -> int:
        return x + 1

    original = StructuredTool.from_function(
        lambda x: x + 1,
        coroutine=acompute,
        name="compute",
        description="Compute.",
        callbacks=[local],
        verbose=True,
        tags=["t"],
        metadata={"m": 1},
        extras={"cache_control": {"type": "ephemeral"}},
        handle_tool_error="nope",
        handle_validation_error=True,
    )
    wrapped = guard_tool(original, guard)
    for name in type(original).model_fields:
        if name in ("func", "coroutine"):
            continue
        assert getattr(wrapped, name) == getattr(original, name), name
    assert wrapped.coroutine is not None and wrapped.func is not None
    assert wrapped.coroutine is not original.coroutine  # guarded, not the raw function
    assert asyncio.run(wrapped.coroutine(x=1)) == 2
    assert wrapped.invoke({"x": 1}) == 2
    assert [e for e, _ in local.tool_events()] == ["start", "end", "start", "end"]
    sync_only = guard_tool(
        StructuredTool.from_function(lambda x: x, name="f", description="d"), guard
    )
    assert sync_only.coroutine is None


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_mcp_shaped_tool_keeps_runtime_and_its_error_handler(guard, variant):
    """Issue 12 #8: a langchain-mcp-adapters tool (JSON-schema args, coroutine only,
    ``runtime: Annotated[..., InjectedToolArg()]``, content and artifact, a callable error
    handler) got ``runtime=None`` under `guard_tools`: interceptors lost the runtime."""
    seen: list[Any] = []

    async def call_tool(
        runtime: Annotated[object | None, InjectedToolArg()] = None, **arguments: Any
    ) -> tuple[Any, Any]:
        seen.append(runtime)
        if arguments.get("city") == "nowhere":
            raise ToolException(f"no such city (ask {EMAIL})")
        text = f"sunny in {arguments['city']}, ask {EMAIL}"
        return [{"type": "text", "text": text}], {"structured_content": {"contact": EMAIL}}

    weather = StructuredTool(
        name="weather",
        description="Get the weather.",
        args_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        coroutine=call_tool,
        response_format="content_and_artifact",
        handle_tool_error=lambda e: f"MCP error: {e}",
    )
    script = turns(
        [call("weather", {"city": "Lyon"}, "c1"), call("weather", {"city": "nowhere"}, "c2")]
    )
    original, guarded = compare(variant, "ainvoke", guard, [weather], script)
    assert original.error is None and guarded.error is None, guarded.error
    assert len(seen) == 4 if variant != "original" else len(seen) == 2
    assert all(isinstance(r, ToolRuntime) for r in seen)
    assert_guarded_equals_original(original, guarded)
    assert_canaries_kept(original, guarded)
    if variant == "wrapper":
        assert model_schema(guard_tool(weather, guard)) == model_schema(weather)


# --- issue 12 #9: what tracers see ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_tracers_hear_one_masked_tool_run_per_call_and_one_for_a_denial(guard, variant, mode):
    """Issue 12 #9: under the middleware, tracers heard the restored arguments and the raw
    output, and nothing at all for a denied call."""
    tools = lookup_tools()
    script = turns(
        call("lookup_customer", {"customer_id": 7}, "c1"),
        [
            call("send_email", {"to": "<EMAIL_1>", "body": "hi"}, "c2"),
            call("run_sql", {"query": "DROP TABLE x"}, "c-drop"),
        ],
    )
    original, guarded = compare(variant, mode, guard, tools, script)
    events = sorted(guarded.recorder.tool_events())
    assert events == sorted(original.recorder.tool_events())
    assert events.count(("start", "run_sql")) == 1 and ("end", "run_sql") in events
    starts = {
        e["tool_call_id"]: e["inputs"] for e in guarded.recorder.tools if e["event"] == "start"
    }
    assert starts == {
        "c1": {"customer_id": 7},
        "c2": {"to": "<EMAIL_1>", "body": "hi"},  # what the model wrote, not the real address
        "c-drop": {"query": "DROP TABLE x"},
    }
    ends = [e["output"] for e in guarded.recorder.tools if e["event"] == "end"]
    assert sorted(m.tool_call_id for m in ends) == ["c-drop", "c1", "c2"]
    if variant != "original":
        [denied] = [m for m in ends if m.tool_call_id == "c-drop"]
        assert denied.status == "error" and "no-drop" in denied.content
    assert_canaries_kept(original, guarded)


@pytest.mark.parametrize("variant", VARIANTS)
def test_astream_events_show_the_masked_tool_run(guard, variant):
    tools = lookup_tools()
    script = turns(call("lookup_customer", {"customer_id": 7}, "c1"))
    original, guarded = compare(variant, "ainvoke", guard, tools, script, stream="events")

    def tool_events(run) -> list[tuple[str, str, Any]]:
        return [
            (e["event"], e["name"], e["data"].get("input"))
            for e in run.chunks
            if e["event"].startswith("on_tool_")
        ]

    assert tool_events(guarded) == tool_events(original)
    [end] = [e for e in guarded.chunks if e["event"] == "on_tool_end"]
    [raw] = [e for e in original.chunks if e["event"] == "on_tool_end"]
    assert end["data"]["output"].content == expected(
        original, guarded, raw["data"]["output"].content
    )
    assert_canaries_kept(original, guarded)


def test_runs_a_tool_starts_itself_are_not_traced(guard):
    """What a tool does inside (a nested runnable) sees the real values: not traced under the
    guard (documented in docs/integrations and `tracing`)."""
    from langchain_core.runnables import RunnableLambda

    echo = RunnableLambda(lambda text: f"inner saw {text}")

    @tool
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        return echo.invoke(to)

    tools = [lookup_tools()[0], send_email]
    script = turns(
        call("lookup_customer", {"customer_id": 7}, "c1"),
        call("send_email", {"to": "<EMAIL_1>", "body": "hi"}, "c2"),
    )
    for variant in GUARDED:
        run = run_agent(variant, "invoke", tools, script, guard, thread=f"t-{variant}")
        assert run.error is None
        assert_no_canary(run)
        assert run.tool_messages[-1].content == "inner saw <EMAIL_1>"


def test_the_real_tool_runs_with_langsmith_tracing_off():
    """Tracing switched on by the environment or ``tracing_v2_enabled()`` adds LangSmith's
    tracer to every run, and ``@traceable`` functions trace themselves: neither may hear the
    real tool's run (its restored arguments and raw output)."""
    from langchain_core.tracers.context import tracing_v2_callback_var
    from langsmith import tracing_context
    from langsmith.utils import tracing_is_enabled

    from guardrails_plugin.integrations.langchain.tracing import untraced_scope

    with tracing_context(enabled=True):
        marker = tracing_v2_callback_var.set(object())  # as tracing_v2_enabled() does
        try:
            with untraced_scope({"callbacks": [Recorder()]}) as quiet:
                assert not tracing_is_enabled() and tracing_v2_callback_var.get() is None
                assert quiet["callbacks"] == []
            assert tracing_is_enabled() and tracing_v2_callback_var.get() is not None
        finally:
            tracing_v2_callback_var.reset(marker)


# --- issue 12 #2: interrupts -------------------------------------------------------------------


@tool
def ask_user(question: str) -> str:
    """Ask the user a question."""
    answer = interrupt({"question": question})
    return f"user answered: {answer}"


def resume(agent: Any, value: Any, mode: str, thread: str = "t-1") -> Any:
    config = {"configurable": {"thread_id": thread}}
    state = agent.get_state(config)
    [pending] = [i for task in state.tasks for i in task.interrupts]
    command = Command(resume={pending.id: value})
    if mode == "ainvoke":
        return asyncio.run(agent.ainvoke(command, config))
    return agent.invoke(command, config)


def start(agent: Any, mode: str, thread: str = "t-1") -> Any:
    payload = {"messages": [("user", "ask")]}
    config = {"configurable": {"thread_id": thread}}
    if mode == "ainvoke":
        return asyncio.run(agent.ainvoke(payload, config))
    return agent.invoke(payload, config)


def original_answer(mode: str) -> list[dict[str, Any]]:
    from .lc_harness import build

    agent, _ = build(
        "original",
        [ask_user],
        turns(call("ask_user", {"question": "color?"}, "c1")),
        None,
        checkpointer=InMemorySaver(),
    )
    first = start(agent, mode)
    assert [i.value for i in first["__interrupt__"]] == [{"question": "color?"}]
    done = resume(agent, "blue", mode)
    return [m for m in transcript_of(done)]


def transcript_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    from .lc_harness import shape

    return [shape(m) for m in result["messages"]]


@pytest.mark.parametrize("mode", MODES)
def test_a_tool_asking_the_user_itself_gets_its_own_answer_after_the_guards(guard, mode):
    """Issue 12 #2: after the guard's interrupt was resumed, the tool's own ``interrupt()``
    got the guard's resume value (``user answered: {'request_id': ...}``) and the human was
    never asked."""
    from .lc_harness import build

    agent, _ = build(
        "middleware",
        [ask_user],
        turns(call("ask_user", {"question": "color?"}, "c1")),
        guard,
        checkpointer=InMemorySaver(),
        guard_mode="interrupt",
    )
    first = start(agent, mode)
    [suspended] = first["__interrupt__"]
    assert suspended.value["type"] == "guardrails_approval"
    guard.broker.vote(suspended.value["request_id"], "cli:bob", "approve", revision=0)
    asked = resume_decided(agent, "t-1", guard)
    assert [i.value for i in asked["__interrupt__"]] == [{"question": "color?"}]
    done = resume(agent, "blue", mode)
    assert transcript_of(done) == original_answer(mode)
    events = [r.event for r in guard.store.audit_rows()]
    assert events.count(Event.TOOL_EXECUTING) == 2 and Event.TOOL_SUSPENDED in events
    assert events.count(Event.TOOL_EXECUTED) == 1
    assert guard.store.verify_audit().ok


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", GUARDED)
def test_a_tool_asking_the_user_under_a_blocking_approval(guard, variant, mode):
    """Issue 12 #2: the approved call's claim is given back when its tool suspends the run,
    so the resumed run can finish it (it was refused as "already ran once")."""
    from .lc_harness import build

    agent, _ = build(
        variant,
        [ask_user],
        turns(call("ask_user", {"question": "color?"}, "c1")),
        guard,
        checkpointer=InMemorySaver(),
    )
    with ScriptedApprover(guard.broker, "cli:bob"):
        first = start(agent, mode)
        assert [i.value for i in first["__interrupt__"]] == [{"question": "color?"}]
        done = resume(agent, "blue", mode)
    assert transcript_of(done) == original_answer(mode)


@pytest.mark.parametrize("mode", MODES)
def test_human_in_the_loop_after_the_guard_gets_its_own_decision(guard, mode):
    """Issue 12 #2: ``HumanInTheLoopMiddleware(per_call)`` placed after `GuardMiddleware` got
    the guard's resume value, failed validation, and the tool never ran; an invalid answer to
    it was turned into a tool error instead of failing the run."""
    from .lc_harness import build

    @tool
    def deploy(service: str) -> str:
        """Deploy a service."""
        return f"deployed {service}"

    policy_guard = guard
    agent, _ = build(
        "middleware",
        [deploy],
        turns(call("deploy", {"service": "api"}, "c1")),
        policy_guard,
        checkpointer=InMemorySaver(),
        guard_mode="interrupt",
        middleware=[HumanInTheLoopMiddleware({"deploy": True}, interrupt_mode="per_call")],
    )
    first = start(agent, mode)
    # `deploy` is allowed by the policy: only HITL asks, and gets the first interrupt.
    [asked] = first["__interrupt__"]
    assert asked.value["type"] == "tool_approval"
    with pytest.raises(Exception) as bad:
        resume(agent, {"type": "yes please"}, mode)
    assert is_invalid_resume(bad.value)  # the run failed, as LangGraph means it to
    done = resume(agent, {"type": "approve"}, mode)
    assert [m.content for m in done["messages"] if isinstance(m, ToolMessage)] == ["deployed api"]


@pytest.mark.parametrize("mode", MODES)
def test_human_in_the_loop_after_a_guard_approval(guard, mode):
    """Issue 12 #2: guard approval first, then HITL's own question, each with its answer."""
    from .lc_harness import build

    agent, _ = build(
        "middleware",
        [ask_user],
        turns(call("ask_user", {"question": "color?"}, "c1")),
        guard,
        checkpointer=InMemorySaver(),
        guard_mode="interrupt",
        middleware=[HumanInTheLoopMiddleware({"ask_user": True}, interrupt_mode="per_call")],
    )
    first = start(agent, mode)
    [suspended] = first["__interrupt__"]
    guard.broker.vote(suspended.value["request_id"], "cli:bob", "approve", revision=0)
    hitl = resume_decided(agent, "t-1", guard)
    assert [i.value["type"] for i in hitl["__interrupt__"]] == ["tool_approval"]
    asked = resume(agent, {"type": "approve"}, mode)
    assert [i.value for i in asked["__interrupt__"]] == [{"question": "color?"}]
    done = resume(agent, "green", mode)
    assert [m.content for m in done["messages"] if isinstance(m, ToolMessage)] == [
        "user answered: green"
    ]


@pytest.mark.parametrize("mode", MODES)
def test_resuming_before_the_decision_fails_the_run_and_can_be_resumed_again(guard, mode):
    """Issue 12 #2: a resume while the request is pending is refused as LangGraph refuses an
    invalid resume value (nothing saved), and the same interrupt is answered once decided."""
    from .lc_harness import build

    agent, _ = build(
        "middleware",
        [ask_user],
        turns(call("ask_user", {"question": "color?"}, "c1")),
        guard,
        checkpointer=InMemorySaver(),
        guard_mode="interrupt",
    )
    [suspended] = start(agent, mode)["__interrupt__"]
    with pytest.raises(Exception, match="still pending") as early:
        resume(agent, "go on", mode)
    assert is_invalid_resume(early.value)
    guard.broker.vote(suspended.value["request_id"], "cli:bob", "approve", revision=0)
    asked = resume(agent, "now", mode)
    assert [i.value for i in asked["__interrupt__"]] == [{"question": "color?"}]
    done = resume(agent, "blue", mode)
    assert transcript_of(done) == original_answer(mode)


# --- outputs that are objects (issue 12 #5, another engineer's work) -------------------------


class Customer(BaseModel):
    id: int
    email: str


@dataclass
class Ticket:
    id: int
    reporter: str


def object_tools() -> list[Any]:
    @tool
    def get_model(x: int) -> Customer:
        """A pydantic model."""
        return Customer(id=x, email=EMAIL)

    @tool
    def get_dataclass(x: int) -> Ticket:
        """A dataclass."""
        return Ticket(id=x, reporter=EMAIL)

    @tool
    def get_documents(x: int) -> list[Document]:
        """Documents."""
        return [Document(page_content=f"mail {EMAIL}", metadata={"owner": EMAIL})]

    @tool
    def get_message(x: int, call_id: Annotated[str, InjectedToolCallId]) -> ToolMessage:
        """A ToolMessage of its own."""
        return ToolMessage(f"reach {EMAIL}", tool_call_id=call_id, name="get_message")

    @tool
    def get_command(x: int, call_id: Annotated[str, InjectedToolCallId]) -> Command:
        """A Command that updates the messages."""
        message = ToolMessage(f"reach {EMAIL}", tool_call_id=call_id, name="get_command")
        return Command(update={"messages": [message]})

    return [get_model, get_dataclass, get_documents, get_message, get_command]


@pytest.mark.parametrize("variant", ["wrapper", "middleware"])
@pytest.mark.parametrize(
    "name", ["get_model", "get_dataclass", "get_documents", "get_message", "get_command"]
)
def test_object_outputs_keep_their_type_masked(guard, name, variant):
    """Issue 12 #5: object outputs reach the model as the original's would, masked (the masker
    rebuilds pydantic models, dataclasses, Documents, messages and Commands as their own types)."""
    tools = object_tools()
    script = turns(call(name, {"x": 7}, "c1"))
    original, guarded = compare(variant, "invoke", guard, tools, script)
    assert original.error is None and guarded.error is None, guarded.error
    assert_guarded_equals_original(original, guarded)
    assert_no_canary(guarded)
