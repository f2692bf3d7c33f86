"""Issue 11 #13: LlamaIndex positional arguments were invisible to the guard.

``call_tool`` (behind ``llm.predict_and_call``) calls a one-parameter tool with one positional
value when the model's key is not the parameter's name; the guard checked only keywords, saw
``{}``, and a ``DROP`` ran. And ``GuardedFunctionTool.fn`` / ``.real_fn`` handed out the raw
function, so a denied tool ran through them.
Properties (shared/research/RELIABILITY.md): P2 (nothing runs but the exact call the guard
allowed), P1 (fail closed: a call that cannot be bound never runs).
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool, ToolMetadata, ToolOutput
from llama_index.core.tools.types import BaseTool
from pydantic import BaseModel

from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.integrations.llamaindex import guard_tool
from guardrails_plugin.store import Event

from .agents import events, make_guard

POLICY = r"""
version: 1
defaults: {effect: allow}
rules:
  - id: no-drop
    match: {args: {query: {regex: "(?i)\\bdrop\\b"}}}
    effect: deny
    reason: DDL is not allowed.
  - id: no-big-refunds
    match: {tool: refund, args: {order.amount: {gt: 1000}}}
    effect: deny
    reason: Refunds over 1000 need a human.
"""


def calling(*calls: tuple[str, dict[str, Any]]) -> MockFunctionCallingLLM:
    """A function-calling LLM that makes ``calls`` once, then answers "done"."""
    turns = iter([list(calls)])

    def respond(messages: Any, **kwargs: Any) -> ChatMessage:
        batch = next(turns, [])
        if not batch:
            return ChatMessage(role="assistant", content="done")
        selections = [
            ToolSelection(tool_id=f"t{i}", tool_name=name, tool_kwargs=args)
            for i, (name, args) in enumerate(batch)
        ]
        return ChatMessage(
            role="assistant", content="", additional_kwargs={"tool_calls": selections}
        )

    return MockFunctionCallingLLM(response_generator=respond)


@pytest.fixture
def guard(tmp_path: Path) -> Any:
    return make_guard(tmp_path, POLICY)


@pytest.fixture
def ran() -> list[Any]:
    return []


@pytest.fixture
def run_sql(guard: Any, ran: list[Any]) -> FunctionTool:
    def run_sql(query: str) -> str:
        """Run a SQL statement."""
        ran.append(query)
        return "ok"

    return guard_tool(FunctionTool.from_defaults(run_sql), guard)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["call", "acall"])
def test_a_positional_drop_through_call_tool_is_denied(guard, run_sql, ran, asynchronous):
    """Issue 11 #13: the model's key ``input`` is not the parameter's name, so ``call_tool``
    passes the statement positionally; the guard saw no arguments and the DROP ran."""
    llm = calling(("run_sql", {"input": "DROP TABLE users"}))
    if asynchronous:
        response = asyncio.run(llm.apredict_and_call([run_sql], "clean up"))
    else:
        response = llm.predict_and_call([run_sql], "clean up")
    [output] = response.sources
    assert ran == []
    assert output.is_error
    assert output.content == "Denied by policy rule 'no-drop': DDL is not allowed."
    [evaluated] = events(guard, Event.CALL_EVALUATED)
    assert evaluated["masked_args"] == {"query": "DROP TABLE users"}


def test_a_function_agent_run_is_unchanged_by_the_binding(guard, run_sql, ran):
    """Agents call by keyword; naming positional values must not change that path."""
    agent = FunctionAgent(
        tools=[run_sql],
        llm=calling(("run_sql", {"query": "SELECT 1"}), ("run_sql", {"query": "drop table t"})),
    )
    seen: dict[str, ToolOutput] = {}

    async def go() -> None:
        handler = agent.run("go")
        async for event in handler.stream_events():
            if type(event).__name__ == "ToolCallResult":
                seen[event.tool_kwargs["query"]] = event.tool_output
        await handler

    asyncio.run(go())
    assert ran == ["SELECT 1"]
    assert not seen["SELECT 1"].is_error and seen["drop table t"].is_error


def test_positional_values_are_named_and_the_tool_is_called_in_the_same_shape(guard, ran):
    def query_db(database: str, query: str, /, *, limit: int = 10) -> str:
        """Query a database."""
        ran.append((database, query, limit))
        return "rows"

    guarded = guard_tool(FunctionTool.from_defaults(query_db), guard)
    assert guarded("prod", "SELECT 1", limit=5).content == "rows"
    assert ran == [("prod", "SELECT 1", 5)]
    denied = guarded.call("prod", "DROP TABLE users")
    assert denied.is_error and "no-drop" in denied.content and len(ran) == 1
    with pytest.raises(TypeError, match="positional"):
        guarded.call("prod", "SELECT 1", "extra")  # as Python would: never reaches the tool
    assert len(ran) == 1


@pytest.mark.parametrize("attribute", ["fn", "real_fn", "_fn", "_real_fn"])
def test_the_raw_function_is_not_handed_out(guard, run_sql, ran, attribute):
    """Issue 11 #13: ``guarded.fn(...)`` / ``guarded.real_fn(...)`` ran a denied call."""
    function = getattr(run_sql, attribute)
    with pytest.raises(ToolDenied, match="no-drop"):
        function("DROP TABLE users")
    with pytest.raises(ToolDenied, match="no-drop"):
        function(query="DROP TABLE users")
    assert ran == []
    assert function("SELECT 1") == "ok" and ran == ["SELECT 1"]
    assert not hasattr(function, "__wrapped__")
    assert list(inspect.signature(function).parameters) == ["query"]  # call_tool inspects it


def test_async_fn_is_guarded(guard, run_sql, ran):
    with pytest.raises(ToolDenied):
        asyncio.run(run_sql.async_fn("DROP TABLE users"))
    assert ran == []


def test_an_async_tools_real_fn_is_guarded(guard, ran):
    async def run_sql(query: str) -> str:
        """Run SQL."""
        ran.append(query)
        return "ok"

    guarded = guard_tool(FunctionTool.from_defaults(async_fn=run_sql), guard)
    with pytest.raises(ToolDenied):
        asyncio.run(guarded.real_fn("DROP TABLE users"))
    assert asyncio.run(guarded.real_fn("SELECT 1")) == "ok" and ran == ["SELECT 1"]


class SqlTool(BaseTool):
    """A tool that is not a FunctionTool: LlamaIndex calls it with one positional input."""

    def __init__(self, ran: list[Any]) -> None:
        self.ran = ran

    @property
    def metadata(self) -> ToolMetadata:
        class Args(BaseModel):
            query: str

        return ToolMetadata(name="run_sql", description="Run SQL.", fn_schema=Args)

    def __call__(self, input: Any) -> ToolOutput:
        self.ran.append(input)
        return ToolOutput(tool_name="run_sql", content="ok", raw_input={}, raw_output="ok")


def test_a_plain_tools_positional_input_is_named_by_its_schema(guard, ran):
    guarded = guard_tool(SqlTool(ran), guard)
    response = calling(("run_sql", {"statement": "DROP TABLE users"})).predict_and_call(
        [guarded], "go"
    )
    assert response.sources[0].is_error and ran == []
    assert guarded("SELECT 1").content == "ok" and ran == ["SELECT 1"]


class Order(BaseModel):
    order_id: str
    amount: int
    placed: date


def test_python_objects_are_checked_as_data_and_reach_the_tool_typed(guard, ran):
    def refund(order: Order, reason: str) -> str:
        """Refund an order."""
        ran.append(order)
        return "refunded"

    guarded = guard_tool(FunctionTool.from_defaults(refund), guard)
    small = Order(order_id="o-1", amount=20, placed=date(2024, 5, 1))
    assert guarded.call(small, "damaged").content == "refunded"
    assert ran == [small] and isinstance(ran[0], Order)
    big = Order(order_id="o-2", amount=5000, placed=date(2024, 5, 1))
    denied = guarded.call(big, reason="damaged")
    assert denied.is_error and "no-big-refunds" in denied.content and len(ran) == 1


DEFAULTS = r"""
version: 1
defaults: {effect: allow}
rules:
  - id: no-prod-export
    match: {tool: export_table, args: {database: {regex: "prod"}}}
    effect: deny
  - id: big-export
    match: {tool: export_rows, args: {limit: {gt: 10000}}}
    effect: deny
"""


def test_partial_params_and_defaults_are_judged_too(tmp_path: Path):
    """Second red team M3: `partial_params` and parameter defaults (`= Field(default=...)`)
    were merged by the inner tool after the guard judged the call: `database='prod-main'`
    and `limit=5_000_000` ran past rules on exactly those arguments."""
    from pydantic import Field

    guard = make_guard(tmp_path, DEFAULTS)
    ran: list[Any] = []

    def export_table(table: str, database: str) -> str:
        """Export a table."""
        ran.append((table, database))
        return "exported"

    def export_rows(table: str, limit: int = Field(default=5_000_000, description="rows")) -> str:
        """Export rows."""
        ran.append((table, limit))
        return "exported"

    tools = [
        guard_tool(
            FunctionTool.from_defaults(export_table, partial_params={"database": "prod-main"}),
            guard,
        ),
        guard_tool(FunctionTool.from_defaults(export_rows), guard),
    ]
    llm = calling(("export_table", {"table": "users"}), ("export_rows", {"table": "users"}))

    async def main() -> None:
        await FunctionAgent(tools=tools, llm=llm).run("go")

    asyncio.run(main())
    assert ran == []
    evaluated = {d["tool"]: d["rule_id"] for d in events(guard, Event.CALL_EVALUATED)}
    assert evaluated == {"export_table": "no-prod-export", "export_rows": "big-export"}
    assert tools[1].call(table="users", limit=10).is_error is False
    assert ran == [("users", 10)]


def test_an_edit_that_drops_an_argument_is_judged_with_its_default(tmp_path: Path):
    """Third red team F3 (LlamaIndex): an edit leaving out `limit` was judged without it and
    moved to a laxer rule, while the function ran with its default 5,000,000."""
    from guardrails_plugin.testing import ScriptedApprover, Vote

    policy = """
version: 1
defaults: {effect: deny}
people: {dan: [cli:dan], dora: [cli:dora]}
groups: {dba: [dan, dora]}
rules:
  - id: big-export
    match: {tool: export_table, args: {limit: {gt: 1000}}}
    effect: require_approval
    approval: {approvers: [dba], quorum: 2, timeout: 10m, allow_edit: true}
  - id: export
    match: {tool: export_table}
    effect: require_approval
    approval: {approvers: [dba], quorum: 1, timeout: 10m, allow_edit: true}
"""
    guard = make_guard(tmp_path, policy)
    guard.wait_timeout = 5
    ran: list[int] = []

    def export_table(table: str, limit: int = 5_000_000) -> str:
        """Export rows of a table."""
        ran.append(limit)
        return "exported"

    guarded = guard_tool(FunctionTool.from_defaults(export_table), guard)
    edit = Vote("approve", "ok", edited_args={"table": "customers"})
    with ScriptedApprover(guard.broker, "cli:dan", decide=lambda r: None if r.revision else edit):
        output = guarded.call(table="customers")
    assert ran == [] and output.is_error and "big-export" in str(output.content)


def test_text_carried_by_media_blocks_is_masked_and_unreadable_documents_withheld(tmp_path: Path):
    """Red team on issue 12 (F2): media blocks passed untouched, and with them a text/plain
    document's content, its title and an image URL's query string (a key)."""
    from llama_index.core.base.llms.types import DocumentBlock, ImageBlock, TextBlock

    email, key = "ana.lopez@example.org", "sk_live_51Habc123DEF456ghi789JKL"

    def record() -> list[Any]:
        """A customer's record, with attachments."""
        return [
            TextBlock(text=f"Record of {email} attached"),
            DocumentBlock(
                data=f"email: {email}".encode(),
                document_mimetype="text/plain",
                title=f"record-{email}",
            ),
            ImageBlock(url=f"https://files.example/photo.png?key={key}"),
            DocumentBlock(data=b"%PDF-1.4 \xff\xfe binary", document_mimetype="application/pdf"),
        ]

    guard = make_guard(tmp_path, "version: 1\ndefaults: {effect: allow}\nrules: []\n")
    output = guard_tool(FunctionTool.from_defaults(record), guard).call()
    shown = repr(output.blocks) + repr(output.raw_output)
    assert email not in shown and key not in shown
    text_doc = output.blocks[1]
    assert isinstance(text_doc, DocumentBlock) and b"<EMAIL_" in text_doc.resolve_document().read()
    assert isinstance(output.blocks[2], ImageBlock)
    assert isinstance(output.blocks[3], TextBlock) and "withheld" in output.blocks[3].text
