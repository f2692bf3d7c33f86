"""Guarded LlamaIndex tools: same metadata (name, description, fn_schema, return_direct), so
the model sees an identical tool; every call goes through the `Guard`.

A `FunctionTool` stays a `FunctionTool` (`GuardedFunctionTool`): agents inject the workflow
``Context`` only into ``FunctionTool``s whose ``requires_context`` is set, so a tool that takes
``ctx`` keeps working. With ``events=True`` every guarded tool asks for the context (the model
never sees it) to stream `ApprovalRequiredEvent` / `ApprovalDecidedEvent` while it waits.
Other ``BaseTool``s become `GuardedTool` (an ``AsyncBaseTool``).

A denial is ``ToolOutput(is_error=True)`` with one sentence the model reads; outputs are masked
before the model sees them; async waits ``await`` the store's shared watcher. Positional
arguments are named before the guard sees them (see `arguments`).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from llama_index.core.tools import AsyncBaseTool, BaseTool, FunctionTool, ToolMetadata, ToolOutput
from llama_index.core.tools.types import adapt_to_async_tool
from workflows.plugins.basic import get_current_run_id

from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.guard import Guard, Outcome, RunContext
from guardrails_plugin.integrations.llamaindex.arguments import (
    Bound,
    shape_of_function,
    shape_of_schema,
)
from guardrails_plugin.integrations.llamaindex.events import (
    ApprovalDecidedEvent,
    ApprovalRequiredEvent,
)
from guardrails_plugin.store.records import ApprovalRequest

__all__ = ["GuardedFunctionTool", "GuardedTool", "guard_tool", "guard_tools"]

_CTX = "guard_ctx"  # the context parameter a guarded tool adds for events


class _ToolError(Exception):
    """The wrapped tool answered with ``is_error=True``."""


def _run(guard: Guard) -> RunContext:
    """All calls of one workflow run share a guard run (and so placeholders, one Slack thread);
    a call outside a workflow is a run of its own (nothing shared between callers)."""
    run_id = get_current_run_id()
    return guard.run(f"llamaindex:{run_id}" if run_id else None)


def _payload(output: ToolOutput) -> dict[str, Any]:
    if output.is_error:
        raise _ToolError(str(output.content))
    return {"content": str(output.content), "raw_output": output.raw_output}


def _tool_output(
    guard: Guard, name: str, args: dict[str, Any], run: RunContext, outcome: Outcome
) -> ToolOutput:
    shown = guard.masker.mask(args, vault=run.vault).value
    raw_input = {"args": (), "kwargs": shown}
    if not outcome.allowed:
        message = outcome.message.removeprefix("_ToolError: ")
        return ToolOutput(tool_name=name, content=message, raw_input=raw_input, is_error=True)
    output = outcome.output or {}
    return ToolOutput(
        tool_name=name,
        content=str(output.get("content", "")),
        raw_input=raw_input,
        raw_output=output.get("raw_output"),
    )


async def _drive_async(
    guard: Guard,
    name: str,
    args: dict[str, Any],
    run: RunContext,
    execute: Callable[[dict[str, Any]], Awaitable[ToolOutput]],
    ctx: Any | None,
) -> Outcome:
    """`Guard.acall`, with approval progress written to the workflow's event stream."""

    async def run_tool(tool_args: dict[str, Any]) -> Any:
        return _payload(await execute(tool_args))

    def observe(request: ApprovalRequest) -> None:
        if not request.terminal:
            _emit(ctx, ApprovalRequiredEvent.of(request))
            return
        decided = ApprovalDecidedEvent(
            request_id=request.id,
            status=request.status.value,
            decided_by=request.decided_by,
            reason=request.decision_reason,
        )
        _emit(ctx, decided)

    return await guard.acall(
        name, args, run_tool, run=run, observe=observe if ctx is not None else None
    )


def _emit(ctx: Any | None, event: Any) -> None:
    if ctx is not None:
        ctx.write_event_to_stream(event)


class GuardedFunctionTool(FunctionTool):
    """A `FunctionTool` whose calls the guard checks, gates, masks and audits.

    ``fn``, ``async_fn`` and ``real_fn`` (and the private fields behind them) are guarded too:
    called directly they return the masked output, or raise `ToolDenied`; the raw function is
    reachable only through the wrapped tool given to `guard_tool`."""

    def __init__(self, inner: FunctionTool, guard: Guard, *, events: bool = False) -> None:
        super().__init__(
            fn=inner._real_fn, metadata=inner.metadata, partial_params=inner.partial_params
        )
        self._callback, self._async_callback = inner._callback, inner._async_callback
        self._inner = inner
        self._guard = guard
        self._inner_ctx = inner.ctx_param_name if inner.requires_context else None
        skip = frozenset({self._inner_ctx} if self._inner_ctx else ())
        real_fn = inner.real_fn
        self._shape = shape_of_function(real_fn, skip)
        self._fn, self._async_fn = _guarded_functions(self, real_fn)
        self._real_fn = self._async_fn if inspect.iscoroutinefunction(real_fn) else self._fn
        if events and not inner.requires_context:
            # Ask the agent for the workflow context too; the model's schema is unchanged.
            self.requires_context, self.ctx_param_name = True, _CTX

    def _split(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any | None, Bound, dict[str, Any]]:
        """(the context, the arguments by name, what the inner tool gets besides them)."""
        rest = dict(kwargs)
        ctx = rest.pop(self.ctx_param_name, None) if self.ctx_param_name else None
        extra = {self._inner_ctx: ctx} if self._inner_ctx else {}
        # The inner tool would merge its partial_params under the call's own keywords: merge
        # them here, so the guard judges every argument the function will get.
        partial = {k: v for k, v in (self._inner.partial_params or {}).items() if k not in extra}
        return ctx, self._shape.bind(args, {**partial, **rest}), extra

    def _outcome(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Outcome, Named]:
        _, bound, extra = self._split(args, kwargs)
        named, run = self._shape.as_data(bound), _run(self._guard)

        def execute(allowed: dict[str, Any]) -> Any:
            positional, keywords = self._shape.call_args(allowed, bound)
            return _payload(self._inner.call(*positional, **keywords, **extra))

        outcome = self._guard.call(self.metadata.get_name(), named, execute, run=run)
        return outcome, (named, run)

    async def _aoutcome(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Outcome, Named]:
        ctx, bound, extra = self._split(args, kwargs)
        named, run = self._shape.as_data(bound), _run(self._guard)

        async def execute(allowed: dict[str, Any]) -> ToolOutput:
            positional, keywords = self._shape.call_args(allowed, bound)
            return await self._inner.acall(*positional, **keywords, **extra)

        name = self.metadata.get_name()
        outcome = await _drive_async(self._guard, name, named, run, execute, ctx)
        return outcome, (named, run)

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        outcome, (named, run) = self._outcome(args, kwargs)
        return _tool_output(self._guard, self.metadata.get_name(), named, run, outcome)

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        outcome, (named, run) = await self._aoutcome(args, kwargs)
        return _tool_output(self._guard, self.metadata.get_name(), named, run, outcome)


Named = tuple[dict[str, Any], RunContext]


def _guarded_functions(
    tool: GuardedFunctionTool, real_fn: Callable[..., Any]
) -> tuple[Callable[..., Any], Callable[..., Awaitable[Any]]]:
    """``fn`` and ``async_fn`` for a guarded tool: the inner function's name and signature
    (LlamaIndex's ``call_tool`` inspects ``real_fn``), no ``__wrapped__`` pointing to it."""

    def fn(*args: Any, **kwargs: Any) -> Any:
        return _returned(tool._outcome(args, kwargs)[0])

    async def async_fn(*args: Any, **kwargs: Any) -> Any:
        return _returned((await tool._aoutcome(args, kwargs))[0])

    for guarded in (fn, async_fn):
        for attribute in ("__name__", "__qualname__", "__doc__"):
            setattr(guarded, attribute, getattr(real_fn, attribute, None))
        with contextlib.suppress(TypeError, ValueError):
            setattr(guarded, "__signature__", inspect.signature(real_fn))  # noqa: B010
    return fn, async_fn


def _returned(outcome: Outcome) -> Any:
    """What a guarded ``fn(...)`` returns: the masked output; a denial raises `ToolDenied`."""
    if outcome.allowed:
        return (outcome.output or {}).get("raw_output")
    if outcome.failed:
        raise RuntimeError(outcome.message.removeprefix("_ToolError: "))
    raise ToolDenied(outcome.message, outcome.decision)


class GuardedTool(AsyncBaseTool):
    """Any other `BaseTool` behind the guard."""

    def __init__(self, inner: BaseTool, guard: Guard) -> None:
        self._inner = adapt_to_async_tool(inner)
        self._guard = guard
        schema = inner.metadata.fn_schema
        fields = getattr(schema, "model_fields", None) or {}
        annotations = {name: f.annotation for name, f in fields.items()}
        self._shape = shape_of_schema(inner.metadata.get_parameters_dict(), annotations)

    @property
    def metadata(self) -> ToolMetadata:
        return self._inner.metadata

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        bound = self._shape.bind(args, kwargs)
        named, run = self._shape.as_data(bound), _run(self._guard)

        def execute(allowed: dict[str, Any]) -> Any:
            positional, keywords = self._shape.call_args(allowed, bound)
            return _payload(self._inner.call(*positional, **keywords))

        outcome = self._guard.call(self.metadata.get_name(), named, execute, run=run)
        return _tool_output(self._guard, self.metadata.get_name(), named, run, outcome)

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        bound = self._shape.bind(args, kwargs)
        named, run = self._shape.as_data(bound), _run(self._guard)

        async def execute(allowed: dict[str, Any]) -> ToolOutput:
            positional, keywords = self._shape.call_args(allowed, bound)
            return await self._inner.acall(*positional, **keywords)

        outcome = await _drive_async(
            self._guard, self.metadata.get_name(), named, run, execute, None
        )
        return _tool_output(self._guard, self.metadata.get_name(), named, run, outcome)


def guard_tool(tool: BaseTool, guard: Guard, *, events: bool = False) -> BaseTool:
    """Wrap one tool; a `FunctionTool` stays a `FunctionTool` (context injection keeps working)."""
    if isinstance(tool, FunctionTool):
        return GuardedFunctionTool(tool, guard, events=events)
    return GuardedTool(tool, guard)


def guard_tools(tools: Iterable[BaseTool], guard: Guard, *, events: bool = False) -> list[BaseTool]:
    return [guard_tool(t, guard, events=events) for t in tools]
