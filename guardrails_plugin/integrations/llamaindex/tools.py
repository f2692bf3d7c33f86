"""Guarded LlamaIndex tools: same metadata (name, description, fn_schema, return_direct), so
the model sees an identical tool; every call goes through the `Guard`.

A `FunctionTool` stays a `FunctionTool` (`GuardedFunctionTool`): agents inject the workflow
``Context`` only into ``FunctionTool``s whose ``requires_context`` is set, so a tool that takes
``ctx`` keeps working. Other ``BaseTool``s become `GuardedTool` (an ``AsyncBaseTool``). With
``events=True`` a guarded tool streams `ApprovalRequiredEvent` / `ApprovalDecidedEvent` to the
workflow's event stream while it waits.

A denial is ``ToolOutput(is_error=True)`` with one sentence the model reads; outputs are masked
before the model sees them (`outputs`); async waits ``await`` the store's shared watcher.
Positional arguments are named before the guard sees them (`arguments`). Calls of one
conversation (one workflow `Context`) share a guard run, and the model's tool-call id keys the
approval request, so a checkpointed workflow resumes into the request it made (`conversation`).
LlamaIndex's control flow passes through the guard untouched: a tool that waits for a human
(``ctx.wait_for_event``) suspends the step as it would unguarded.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from llama_index.core.tools import AsyncBaseTool, BaseTool, FunctionTool, ToolMetadata, ToolOutput
from llama_index.core.tools.types import adapt_to_async_tool
from workflows import Context

from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.guard import Guard, Outcome, Prepare, RunContext
from guardrails_plugin.integrations.llamaindex.arguments import (
    Bound,
    CallShape,
    shape_of_function,
    shape_of_schema,
)
from guardrails_plugin.integrations.llamaindex.conversation import (
    call_id,
    conversation_run,
    step_context,
    workflow_run,
)
from guardrails_plugin.integrations.llamaindex.events import (
    ApprovalDecidedEvent,
    ApprovalRequiredEvent,
)
from guardrails_plugin.integrations.llamaindex.outputs import CarriedOutput
from guardrails_plugin.store.records import ApprovalRequest

__all__ = ["PASSTHROUGH", "GuardedFunctionTool", "GuardedTool", "guard_tool", "guard_tools"]


def _passthrough() -> tuple[type[BaseException], ...]:
    """LlamaIndex's control-flow exceptions: ``ctx.wait_for_event`` raises ``WaitingForEvent``
    to suspend the step until the event arrives (the agent re-raises it; the step replays)."""
    try:
        from workflows.runtime.types.results import WaitingForEvent
    except ImportError:  # workflows < 2.9 waited in place
        return ()
    return (WaitingForEvent,)


PASSTHROUGH = _passthrough()

SyncRun = Callable[[dict[str, Any]], ToolOutput]
AsyncRun = Callable[[dict[str, Any]], Awaitable[ToolOutput]]


class _GuardedCall:
    """One call of a guarded tool: drives the guard and turns its outcome into a `ToolOutput`."""

    def __init__(
        self, guard: Guard, name: str, named: dict[str, Any], prepare: Prepare | None = None
    ) -> None:
        self.guard, self.name, self.named = guard, name, named
        self.prepare = prepare  # a reviewer's edit as the function will get it
        self.carried = CarriedOutput()
        self.run: RunContext | None = None  # the run the call was judged in

    def call(self, run_inner: SyncRun) -> Outcome:
        def execute(allowed: dict[str, Any]) -> Any:
            return self._payload(lambda: run_inner(allowed))

        self.run = workflow_run(self.guard)
        return self.guard.call(
            self.name,
            self.named,
            execute,
            call_id=call_id(self.name),
            run=self.run,
            passthrough=PASSTHROUGH,
            suspends=PASSTHROUGH,
            prepare=self.prepare,
        )

    async def acall(self, run_inner: AsyncRun, *, events: bool) -> Outcome:
        async def execute(allowed: dict[str, Any]) -> Any:
            try:
                output = await run_inner(allowed)
            except Exception as exc:
                self.carried.error = exc
                raise
            return self.carried.payload(output)

        ctx = step_context()
        self.run = await conversation_run(self.guard, ctx)
        return await self.guard.acall(
            self.name,
            self.named,
            execute,
            call_id=call_id(self.name),
            run=self.run,
            passthrough=PASSTHROUGH,
            suspends=PASSTHROUGH,
            observe=_observer(ctx) if events and ctx is not None else None,
            prepare=self.prepare,
        )

    def _payload(self, produce: Callable[[], ToolOutput]) -> Any:
        try:
            output = produce()
        except Exception as exc:
            self.carried.error = exc
            raise
        return self.carried.payload(output)

    def tool_output(self, outcome: Outcome) -> ToolOutput:
        """What the agent gets: the masked output, or an error the model reads (as an agent
        reports a tool's exception: ``str(exc)`` as content and raw output, the arguments as
        raw input)."""
        if outcome.allowed:
            return self.carried.rebuild(self.name, outcome.output or {})
        message = self.carried.error_text(outcome.message)
        return ToolOutput(
            tool_name=self.name,
            content=message,
            raw_input=self._shown_args(),
            raw_output=message,
            is_error=True,
        )

    def _shown_args(self) -> Any:
        try:
            return self.guard.masker.mask(
                self.named, vault=self.run.vault if self.run else None
            ).value
        except Exception:  # noqa: BLE001 - what cannot be masked is not shown
            return {}

    def returned(self, outcome: Outcome) -> Any:
        """What a guarded ``fn(...)`` returns: the masked output; a denial raises `ToolDenied`."""
        if outcome.allowed:
            return self.carried.raw(outcome.output or {})
        if outcome.failed:
            raise RuntimeError(self.carried.error_text(outcome.message))
        raise ToolDenied(outcome.message, outcome.decision)


def _observer(ctx: Context) -> Callable[[ApprovalRequest], None]:
    """Approval progress, written to the workflow's event stream."""

    def observe(request: ApprovalRequest) -> None:
        if not request.terminal:
            ctx.write_event_to_stream(ApprovalRequiredEvent.of(request))
            return
        decided = ApprovalDecidedEvent(
            request_id=request.id,
            status=request.status.value,
            decided_by=request.decided_by,
            reason=request.decision_reason,
        )
        ctx.write_event_to_stream(decided)

    return observe


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
        self._events = events
        self._inner_ctx = inner.ctx_param_name if inner.requires_context else None
        skip = frozenset({self._inner_ctx} if self._inner_ctx else ())
        real_fn = inner.real_fn
        self._shape = shape_of_function(real_fn, skip)
        self._fn, self._async_fn = _guarded_functions(self, real_fn)
        self._real_fn = self._async_fn if inspect.iscoroutinefunction(real_fn) else self._fn

    def _split(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Bound, dict[str, Any]]:
        """(the arguments by name, what the inner tool gets besides them: its context)."""
        rest = dict(kwargs)
        extra = {self._inner_ctx: rest.pop(self._inner_ctx, None)} if self._inner_ctx else {}
        # The inner tool would merge its partial_params under the call's own keywords: merge
        # them here, so the guard judges every argument the function will get.
        partial = {k: v for k, v in (self._inner.partial_params or {}).items() if k not in extra}
        return self._shape.bind(args, {**partial, **rest}), extra

    def _guarded_call(self, bound: Bound) -> _GuardedCall:
        def prepare(edited: Mapping[str, Any]) -> dict[str, Any]:
            # An edit is judged with what the function will get: partial params and the
            # defaults of arguments it leaves out included.
            return self._shape.as_data(self._split((), dict(edited))[0])

        name = self.metadata.get_name()
        return _GuardedCall(self._guard, name, self._shape.as_data(bound), prepare)

    def _outcome(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Outcome, _GuardedCall]:
        bound, extra = self._split(args, kwargs)
        guarded = self._guarded_call(bound)

        def run_inner(allowed: dict[str, Any]) -> ToolOutput:
            positional, keywords = self._shape.call_args(allowed, bound)
            return self._inner.call(*positional, **keywords, **extra)

        return guarded.call(run_inner), guarded

    async def _aoutcome(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Outcome, _GuardedCall]:
        bound, extra = self._split(args, kwargs)
        guarded = self._guarded_call(bound)

        async def run_inner(allowed: dict[str, Any]) -> ToolOutput:
            positional, keywords = self._shape.call_args(allowed, bound)
            return await self._inner.acall(*positional, **keywords, **extra)

        return await guarded.acall(run_inner, events=self._events), guarded

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        outcome, guarded = self._outcome(args, kwargs)
        return guarded.tool_output(outcome)

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        outcome, guarded = await self._aoutcome(args, kwargs)
        return guarded.tool_output(outcome)


def _guarded_functions(
    tool: GuardedFunctionTool, real_fn: Callable[..., Any]
) -> tuple[Callable[..., Any], Callable[..., Awaitable[Any]]]:
    """``fn`` and ``async_fn`` for a guarded tool: the inner function's name and signature
    (LlamaIndex's ``call_tool`` inspects ``real_fn``), no ``__wrapped__`` pointing to it."""

    def fn(*args: Any, **kwargs: Any) -> Any:
        outcome, guarded = tool._outcome(args, kwargs)
        return guarded.returned(outcome)

    async def async_fn(*args: Any, **kwargs: Any) -> Any:
        outcome, guarded = await tool._aoutcome(args, kwargs)
        return guarded.returned(outcome)

    for guarded_fn in (fn, async_fn):
        for attribute in ("__name__", "__qualname__", "__doc__"):
            setattr(guarded_fn, attribute, getattr(real_fn, attribute, None))
        with contextlib.suppress(TypeError, ValueError):
            setattr(guarded_fn, "__signature__", inspect.signature(real_fn))  # noqa: B010
    return fn, async_fn


class GuardedTool(AsyncBaseTool):
    """Any other `BaseTool` behind the guard."""

    def __init__(self, inner: BaseTool, guard: Guard, *, events: bool = False) -> None:
        self._inner = adapt_to_async_tool(inner)
        self._guard = guard
        self._events = events
        schema = inner.metadata.fn_schema
        fields = getattr(schema, "model_fields", None) or {}
        annotations = {name: f.annotation for name, f in fields.items()}
        self._shape: CallShape = shape_of_schema(inner.metadata.get_parameters_dict(), annotations)

    @property
    def metadata(self) -> ToolMetadata:
        return self._inner.metadata

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        bound = self._shape.bind(args, kwargs)
        guarded = _GuardedCall(self._guard, self.metadata.get_name(), self._shape.as_data(bound))

        def run_inner(allowed: dict[str, Any]) -> ToolOutput:
            positional, keywords = self._shape.call_args(allowed, bound)
            return self._inner.call(*positional, **keywords)

        return guarded.tool_output(guarded.call(run_inner))

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        bound = self._shape.bind(args, kwargs)
        guarded = _GuardedCall(self._guard, self.metadata.get_name(), self._shape.as_data(bound))

        async def run_inner(allowed: dict[str, Any]) -> ToolOutput:
            positional, keywords = self._shape.call_args(allowed, bound)
            return await self._inner.acall(*positional, **keywords)

        return guarded.tool_output(await guarded.acall(run_inner, events=self._events))


def guard_tool(tool: BaseTool, guard: Guard, *, events: bool = False) -> BaseTool:
    """Wrap one tool; a `FunctionTool` stays a `FunctionTool` (context injection keeps working)."""
    if isinstance(tool, FunctionTool):
        return GuardedFunctionTool(tool, guard, events=events)
    return GuardedTool(tool, guard, events=events)


def guard_tools(tools: Iterable[BaseTool], guard: Guard, *, events: bool = False) -> list[BaseTool]:
    return [guard_tool(t, guard, events=events) for t in tools]
