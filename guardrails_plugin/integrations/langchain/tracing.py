"""What LangChain tracers and callbacks see of a guarded tool call: the masked view.

Tracers (LangSmith, Langfuse, ``astream_events``) hear a tool run through the callbacks in the
run's config and on the tool (``on_tool_start`` with the arguments, ``on_tool_end`` with the
result). Under the guard, the run they hear is the guarded one:

- `guard_tools`: the wrapper's own run, as LangChain reports any tool: the model's arguments in,
  the masked result (or the refusal) out. The inner tool runs without callbacks.
- `GuardMiddleware`: the real tool runs inside ``wrap_tool_call`` with the arguments restored and
  returns the raw result, so it runs without callbacks (`untraced`), and the middleware reports
  the run itself (`ToolTrace`): the model's arguments in, the masked message out, and for a
  denied call a run that ends with the refusal (without the guard there is no call to deny).

Either way, the real tool runs in an `untraced_scope`: no callback of the run or the tool, and no
LangSmith tracing (``LANGSMITH_TRACING``, ``tracing_v2_enabled()``, ``@traceable``), hears it or
the runs it starts itself (a chat model, a retriever, a graph it invokes), which see the real
values the tool works with. LangChain offers no way to mask what a callback receives, so the
guard keeps those values from tracers by not tracing them. (``set_debug(True)`` still prints
everything to the console: a developer's switch, not a tracer.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForToolRun,
    CallbackManager,
    CallbackManagerForToolRun,
)
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tools import BaseTool
from langchain_core.tracers.context import tracing_v2_callback_var
from langgraph.prebuilt.tool_node import ToolRuntime
from langsmith import tracing_context

__all__ = ["ToolTrace", "untraced", "untraced_config", "untraced_runtime", "untraced_scope"]


def untraced_config(config: RunnableConfig | None) -> RunnableConfig:
    """``config`` without callbacks: an empty list, because a None is overridden by the
    callbacks LangChain keeps in its context for nested runs."""
    quiet = ensure_config(config)
    quiet["callbacks"] = []
    quiet.pop("run_name", None)
    quiet.pop("run_id", None)
    return quiet


def untraced_runtime(value: Any) -> Any:
    """A `ToolRuntime` whose ``config`` has no callbacks (a tool passes ``runtime.config`` to
    the runs it starts: they must not be traced either); any other value as it is."""
    if isinstance(value, ToolRuntime):
        return dataclasses.replace(value, config=untraced_config(value.config))
    return value


@contextlib.contextmanager
def untraced_scope(config: RunnableConfig | None) -> Iterator[RunnableConfig]:
    """Within: runs started without a config see ``config`` without callbacks, and LangSmith
    traces nothing. Yields the config to pass explicitly."""
    quiet = untraced_config(config)
    config_token = var_child_runnable_config.set(quiet)
    tracer_token = tracing_v2_callback_var.set(None)
    try:
        with tracing_context(enabled=False, parent=False):
            yield quiet
    finally:
        tracing_v2_callback_var.reset(tracer_token)
        var_child_runnable_config.reset(config_token)


def untraced(tool: BaseTool) -> BaseTool:
    """A copy of ``tool`` (same class, fields and schema, for middleware further in) whose runs
    no callback hears: neither the config's nor its own."""
    copy = tool.model_copy(update={"callbacks": None, "verbose": False})
    object.__setattr__(copy, "__class__", _untraced_class(type(tool)))
    return copy


@functools.lru_cache(maxsize=256)
def _untraced_class(kind: type[BaseTool]) -> type[BaseTool]:
    def invoke(self: BaseTool, input: Any, config: RunnableConfig | None = None, **kw: Any) -> Any:
        with untraced_scope(config) as quiet:
            return kind.invoke(self, input, quiet, **kw)

    async def ainvoke(
        self: BaseTool, input: Any, config: RunnableConfig | None = None, **kw: Any
    ) -> Any:
        with untraced_scope(config) as quiet:
            return await kind.ainvoke(self, input, quiet, **kw)

    namespace = {"invoke": invoke, "ainvoke": ainvoke, "__module__": __name__}
    return type(f"Untraced{kind.__name__}", (kind,), namespace)


class ToolTrace:
    """The tool run callbacks hear for one call under `GuardMiddleware`, reported as
    ``BaseTool.run`` reports it (same name, tags, metadata, handlers and ids), started only
    when the tool runs or the call is answered without it: an approval wait is not a run."""

    def __init__(
        self, tool: BaseTool | None, call: Mapping[str, Any], config: RunnableConfig | None
    ) -> None:
        self.tool = tool
        self.call_id = call.get("id")
        self.config = ensure_config(config)
        args = dict(call.get("args") or {})
        # The model's arguments as the tool's own run would report them (injected ones out).
        self.inputs = tool._filter_injected_args(args) if tool is not None else args
        self._sync: CallbackManagerForToolRun | None = None
        self._async: AsyncCallbackManagerForToolRun | None = None

    @property
    def started(self) -> bool:
        return self._sync is not None or self._async is not None

    def _start_kwargs(self) -> dict[str, Any]:
        assert self.tool is not None
        return {
            "serialized": {"name": self.tool.name, "description": self.tool.description},
            "input_str": str(self.inputs),
            "color": "green",
            "name": self.config.get("run_name"),
            "run_id": self.config.get("run_id"),
            "inputs": self.inputs,
            "tool_call_id": self.call_id,
        }

    def _configure_args(self) -> tuple[Any, ...]:
        assert self.tool is not None
        tool, config = self.tool, self.config
        return (
            config.get("callbacks"),
            tool.callbacks,
            tool.verbose,
            config.get("tags"),
            tool.tags,
            config.get("metadata"),
            tool.metadata,
        )

    # --- sync ------------------------------------------------------------------------------

    def start(self) -> None:
        if self.tool is None or self.started:
            return
        manager = CallbackManager.configure(*self._configure_args())
        self._sync = manager.on_tool_start(**self._start_kwargs())

    def end(self, output: Any) -> None:
        self.start()
        if self._sync is not None and self.tool is not None:
            self._sync.on_tool_end(output, color="green", name=self.tool.name)

    def error(self, exc: BaseException) -> None:
        """Ends a started run with ``exc`` (an exception before the run started, such as the
        guard's own interrupt, is no tool run)."""
        if self._sync is not None:
            self._sync.on_tool_error(exc, tool_call_id=self.call_id)

    # --- async -----------------------------------------------------------------------------

    async def astart(self) -> None:
        if self.tool is None or self.started:
            return
        manager = AsyncCallbackManager.configure(*self._configure_args())
        self._async = await manager.on_tool_start(**self._start_kwargs())

    async def aend(self, output: Any) -> None:
        await self.astart()
        if self._async is not None and self.tool is not None:
            await self._async.on_tool_end(output, color="green", name=self.tool.name)

    async def aerror(self, exc: BaseException) -> None:
        if self._async is not None:
            await self._async.on_tool_error(exc, tool_call_id=self.call_id)
