"""LangChain's own standard tool tests (``langchain-tests``) on guarded tools of every kind,
next to the originals: ``ToolsUnitTests`` and ``ToolsIntegrationTests`` (all offline: the tools
here call nothing outside the process). Issue 12: "LangChain's standard tests run in CI against
guarded tools of each kind".

A tool kind is one way LangChain users build tools: ``@tool`` (a ``StructuredTool``), a
``StructuredTool`` with a coroutine and content-and-artifact output, a classic single-input
``Tool``, and ``BaseTool`` subclasses with an ``args_schema`` or with their schema taken from
``_run``. Each kind runs twice, as itself and wrapped by `guard_tool`.
"""

from __future__ import annotations

import atexit
import functools
import tempfile
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import BaseTool, StructuredTool, Tool, tool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests
from pydantic import BaseModel

from guardrails_plugin.integrations.langchain import guard_tool

from .lc_harness import EMAIL, make_guard


@functools.cache
def _guard() -> Any:
    """One guard for the module (the standard tests take no fixtures for the tool)."""
    where = tempfile.TemporaryDirectory(prefix="lc-standard-")
    atexit.register(where.cleanup)
    return make_guard(Path(where.name))


# --- the kinds ---------------------------------------------------------------------------------


@tool
def lookup(customer_id: int, verbose: bool = False) -> dict:
    """Look up a customer by id."""
    return {"id": customer_id, "email": EMAIL, "verbose": verbose}


async def _asearch(query: str) -> tuple[str, dict]:
    return f"found {EMAIL} for {query}", {"rows": [EMAIL]}


search = StructuredTool.from_function(
    lambda query: (f"found {EMAIL} for {query}", {"rows": [EMAIL]}),
    coroutine=_asearch,
    name="search",
    description="Search the directory.",
    response_format="content_and_artifact",
)

echo = Tool(name="echo", func=lambda text: f"echo {text} for {EMAIL}", description="Echo it.")


class RenameInput(BaseModel):
    path: str
    new_name: str


class Rename(BaseTool):
    name: str = "rename"
    description: str = "Rename a file."
    args_schema: type[BaseModel] = RenameInput

    def _run(self, path: str, new_name: str, run_manager: Any = None) -> str:
        return f"renamed {path} to {new_name}, owner {EMAIL}"


class Count(BaseTool):
    """A BaseTool subclass without args_schema: LangChain reads its schema from ``_run``."""

    name: str = "count"
    description: str = "Count the words of a text."

    def _run(self, text: str, run_manager: Any = None) -> int:
        return len(text.split())


class _Kind:
    """One tool kind, as itself or guarded."""

    original: BaseTool
    example: dict[str, Any]
    guarded = False

    @property
    def tool_constructor(self) -> BaseTool:
        return guard_tool(self.original, _guard()) if self.guarded else self.original

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return self.example


class _Lookup(_Kind):
    original, example = lookup, {"customer_id": 7}


class _Search(_Kind):
    original, example = search, {"query": "ana"}


class _Echo(_Kind):
    original, example = echo, {"__arg1": "hello"}


class _Rename(_Kind):
    original, example = Rename(), {"path": "a.txt", "new_name": "b.txt"}


class _Count(_Kind):
    original, example = Count(), {"text": "one two three"}


KINDS = [_Lookup, _Search, _Echo, _Rename, _Count]

# The integration tests' async tests need pytest-asyncio's mark; on the class it also lands on
# their sync tests, which pytest-asyncio then warns about.
_ASYNC = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings("ignore:.*is marked with '@pytest.mark.asyncio'"),
]


# --- unit tests: schema and construction ------------------------------------------------------


class TestLookupUnit(_Lookup, ToolsUnitTests):
    pass


class TestGuardedLookupUnit(_Lookup, ToolsUnitTests):
    guarded = True


class TestSearchUnit(_Search, ToolsUnitTests):
    pass


class TestGuardedSearchUnit(_Search, ToolsUnitTests):
    guarded = True


class _EchoUnit(_Echo, ToolsUnitTests):
    @pytest.mark.xfail(
        reason="LangChain's classic Tool fails this itself: its input schema comes from "
        "Tool._run (args, config, kwargs; config required), not from the one string it takes; "
        "the guarded Tool has the very same schema",
        strict=True,
    )
    def test_input_schema_matches_invoke_params(self, tool: BaseTool) -> None:
        super().test_input_schema_matches_invoke_params(tool)


class TestEchoUnit(_EchoUnit):
    pass


class TestGuardedEchoUnit(_EchoUnit):
    guarded = True


class TestRenameUnit(_Rename, ToolsUnitTests):
    pass


class TestGuardedRenameUnit(_Rename, ToolsUnitTests):
    guarded = True


class TestCountUnit(_Count, ToolsUnitTests):
    pass


class TestGuardedCountUnit(_Count, ToolsUnitTests):
    guarded = True


# --- integration tests: invoke and ainvoke, with and without a tool call ---------------------


class _Integration(ToolsIntegrationTests):
    pytestmark = _ASYNC


class TestLookupIntegration(_Lookup, _Integration):
    pass


class TestGuardedLookupIntegration(_Lookup, _Integration):
    guarded = True


class TestSearchIntegration(_Search, _Integration):
    pass


class TestGuardedSearchIntegration(_Search, _Integration):
    guarded = True


class TestEchoIntegration(_Echo, _Integration):
    pass


class TestGuardedEchoIntegration(_Echo, _Integration):
    guarded = True


class TestRenameIntegration(_Rename, _Integration):
    pass


class TestGuardedRenameIntegration(_Rename, _Integration):
    guarded = True


class TestCountIntegration(_Count, _Integration):
    pass


class TestGuardedCountIntegration(_Count, _Integration):
    guarded = True


# --- the guarded kinds answer as the originals do -----------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.original.name)
def test_guarded_kinds_have_the_originals_schemas_and_answers(kind):
    from .lc_harness import masked, model_schema

    original, guarded = kind.original, guard_tool(kind.original, _guard())
    assert model_schema(guarded) == model_schema(original)
    assert guarded.get_input_schema().model_json_schema() == (
        original.get_input_schema().model_json_schema()
    )
    call = {"name": original.name, "args": kind.example, "id": "c-std", "type": "tool_call"}
    want, got = original.invoke(call), guarded.invoke(call)
    assert (got.content, got.artifact, got.status) == (
        masked(want.content),
        masked(want.artifact),
        want.status,
    )
