"""Guarded LangChain tools: same name, description and argument schema as the tool they wrap,
so the model sees an identical tool; every call goes through the `Guard`.

No ``from __future__ import annotations`` here: LangChain inspects ``_run``'s annotations on
every call, and string annotations would be re-evaluated (compiled) each time.
"""

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from langgraph.errors import GraphBubbleUp
from pydantic import ConfigDict, SkipValidation

from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.guard import Guard, Outcome, RunContext
from guardrails_plugin.integrations.langchain import outputs  # noqa: F401 - registers Send
from guardrails_plugin.integrations.langchain.arguments import ToolArguments
from guardrails_plugin.integrations.langchain.context import run_for

__all__ = ["GuardedTool", "guard_tool", "guard_tools"]

_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("guard_call_id", default=None)


@dataclass(frozen=True)
class _Call:
    data: dict[str, Any]  # what the guard judges
    typed: dict[str, Any]  # the same values as LangChain validated them
    injected: dict[str, Any] | None  # None: a single positional input


class GuardedTool(BaseTool):
    """A tool whose calls the guard checks, gates, masks and audits."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: SkipValidation[BaseTool]
    guard: SkipValidation[Guard]
    handle_tool_error: bool = True

    # LangChain does not pass the tool-call id to _run; remember it on the way in.
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        token = _call_id.set(_tool_call_id(input))
        try:
            return super().invoke(input, config, **kwargs)
        finally:
            _call_id.reset(token)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        token = _call_id.set(_tool_call_id(input))
        try:
            return await super().ainvoke(input, config, **kwargs)
        finally:
            _call_id.reset(token)

    @functools.cached_property
    def _checked(self) -> ToolArguments:
        return ToolArguments(self.inner)

    def _model_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call:
        """The model's arguments as JSON data for the guard, as LangChain validated them, and
        the injected ones, untouched (None for a single positional input). LangChain has
        validated ``kwargs`` with the inner tool's schema already."""
        if args:
            return _Call(_arguments(args, kwargs), {}, None)
        model, injected = self._checked.split(kwargs)
        try:
            return _Call(self._checked.as_data(model), model, injected)
        except ToolDenied as exc:
            raise ToolException(str(exc)) from None

    def _inner_call(
        self,
        func: Callable[..., Any],
        allowed: dict[str, Any],
        call: _Call,
        config: RunnableConfig,
        run_manager: Any,
    ) -> dict[str, Any]:
        if call.injected is None:
            return _inner_kwargs(func, allowed, config, run_manager)
        # The guard allowed the very data LangChain's values convert to: run with those values.
        # Anything else (a reviewer's edit, restored placeholders) is validated by the inner
        # tool's own schema again, typed as LangChain would.
        values = call.typed if allowed == call.data else self._checked.typed(allowed)
        return _inner_kwargs(func, {**values, **call.injected}, config, run_manager)

    def _run(
        self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        call_id = _call_id.get()
        run = _run_for(self.guard, config)
        call = self._model_args(args, kwargs)
        outcome = self.guard.call(
            self.name,
            call.data,
            lambda a: self.inner._run(
                **self._inner_call(self.inner._run, a, call, config, run_manager)
            ),
            call_id=call_id,
            run=run,
            passthrough=(GraphBubbleUp,),
            prepare=self._prepare if call.injected is not None else None,
        )
        return _result(outcome, self.response_format == "content_and_artifact")

    def _prepare(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A reviewer's edit as the inner tool will receive it, as data (the guard judges it)."""
        return self._checked.as_data(self._checked.typed(data))

    async def _arun(
        self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        call_id = _call_id.get()
        run = _run_for(self.guard, config)
        call = self._model_args(args, kwargs)

        async def run_inner(a: dict[str, Any]) -> Any:
            inner_kwargs = self._inner_call(self.inner._arun, a, call, config, run_manager)
            return await self.inner._arun(**inner_kwargs)

        outcome = await self.guard.acall(
            self.name,
            call.data,
            run_inner,
            call_id=call_id,
            run=run,
            passthrough=(GraphBubbleUp,),
            prepare=self._prepare if call.injected is not None else None,
        )
        return _result(outcome, self.response_format == "content_and_artifact")


def guard_tool(tool: BaseTool, guard: Guard) -> GuardedTool:
    """Wrap one tool. The wrapper's tool-call schema is identical to the tool's."""
    return GuardedTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        return_direct=tool.return_direct,
        response_format=tool.response_format,
        tags=tool.tags,
        metadata=tool.metadata,
        handle_validation_error=tool.handle_validation_error,
        inner=tool,
        guard=guard,
    )


def guard_tools(tools: Iterable[BaseTool], guard: Guard) -> list[GuardedTool]:
    return [guard_tool(t, guard) for t in tools]


def _tool_call_id(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("type") == "tool_call":
        return value.get("id")
    return None


def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if args and not kwargs and len(args) == 1:
        return {"input": args[0]}
    return dict(kwargs)


@functools.lru_cache(maxsize=1024)
def _accepts(func: Callable[..., Any]) -> tuple[bool, str | None]:
    """Whether ``func`` takes ``run_manager``, and the name of its RunnableConfig parameter."""
    params = inspect.signature(func).parameters
    config_param = next(
        (n for n, p in params.items() if p.annotation in (RunnableConfig, "RunnableConfig")), None
    )
    return "run_manager" in params, config_param


def _inner_kwargs(
    func: Callable[..., Any], args: dict[str, Any], config: RunnableConfig, run_manager: Any
) -> dict[str, Any]:
    """Call the inner tool's own ``_run`` with the arguments the wrapper already validated
    against the same schema: a second ``invoke`` would repeat LangChain's whole tool run."""
    takes_manager, config_param = _accepts(func)
    kwargs = dict(args)
    if takes_manager:
        kwargs["run_manager"] = run_manager
    if config_param:
        kwargs[config_param] = config
    return kwargs


def _run_for(guard: Guard, config: RunnableConfig) -> RunContext:
    try:
        return run_for(guard, config)
    except ToolDenied as exc:  # the model reads the refusal as a tool error
        raise ToolException(str(exc)) from None


def _result(outcome: Outcome, pair: bool) -> Any:
    if not outcome.allowed:
        raise ToolException(outcome.message)
    if pair and not isinstance(outcome.output, tuple):
        return (outcome.output, None)
    return outcome.output
