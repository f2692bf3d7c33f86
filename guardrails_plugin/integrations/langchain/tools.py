"""Guarded LangChain tools: the same tool to the model and to LangChain, every call through the
`Guard`.

`guard_tool` copies every ``BaseTool`` field of the tool it wraps (name, description, schema,
``return_direct``, ``response_format``, ``handle_tool_error``, ``handle_validation_error``,
``callbacks``, ``verbose``, ``tags``, ``metadata``, ``extras``), takes its input schema from it
(for tools whose schema comes from their ``_run``), reports its injected arguments, and exposes
its ``func`` / ``coroutine`` as guarded callables with the same parameters, which is how
LangGraph's ``ToolNode`` decides what to inject (a ``ToolRuntime``, the ``runtime`` of a
langchain-mcp-adapters tool). A classic single-input ``Tool`` is wrapped in a ``Tool``, so the
model still sees ``{"__arg1": string}``; its input is judged as ``{"__arg1": value}``, whatever
key the model used, so a policy can name it.

A denial reaches the model as an error ``ToolMessage`` (or, called without a tool-call id, as the
refusal text), whatever the tool's ``handle_tool_error``; the tool's own failures behave as they
do without the guard, masked (see `failures`). Tracers hear the wrapper's run only (`tracing`).

No ``from __future__ import annotations`` here: LangChain inspects ``_run``'s annotations on
every call, and string annotations would be re-evaluated (compiled) each time.
"""

import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, Tool, ToolException
from langchain_core.utils.pydantic import TypeBaseModel
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.guard import Guard, Outcome
from guardrails_plugin.integrations.langchain import outputs  # noqa: F401 - registers Send
from guardrails_plugin.integrations.langchain.arguments import SINGLE_INPUT, ToolArguments
from guardrails_plugin.integrations.langchain.context import run_for
from guardrails_plugin.integrations.langchain.control import (
    ahanded_off,
    handed_off,
    is_control_flow,
    is_suspension,
    resume,
)
from guardrails_plugin.integrations.langchain.failures import (
    Raised,
    ToolErrorAnswer,
    error_text,
    handled_content,
    masked_copy,
    without_prefix,
)
from guardrails_plugin.integrations.langchain.tracing import untraced_runtime, untraced_scope

__all__ = ["GuardedSingleInputTool", "GuardedTool", "guard_tool", "guard_tools"]

_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("guard_call_id", default=None)


@dataclass(frozen=True)
class _Call:
    data: dict[str, Any]  # what the guard judges
    typed: dict[str, Any]  # the same values as LangChain validated them
    injected: dict[str, Any] | None  # None: a single positional input, judged under `key`
    key: str = SINGLE_INPUT


class GuardedTool(BaseTool):
    """A tool whose calls the guard checks, gates, masks and audits."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: SkipValidation[BaseTool]
    guard: SkipValidation[Guard]
    # The inner tool's function and coroutine, guarded (set after construction): ToolNode reads
    # their parameters to decide what to inject; calling them runs the guarded tool.
    func: SkipValidation[Callable[..., Any] | None] = Field(default=None, exclude=True)
    coroutine: SkipValidation[Callable[..., Awaitable[Any]] | None] = Field(
        default=None, exclude=True
    )

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if (func := getattr(self.inner, "func", None)) is not None:
            self.func = _guarded_callable(self, func, asynchronous=False)
        if (coroutine := getattr(self.inner, "coroutine", None)) is not None:
            self.coroutine = _guarded_callable(self, coroutine, asynchronous=True)

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

    # --- the inner tool's contract -----------------------------------------------------------

    def get_input_schema(self, config: RunnableConfig | None = None) -> TypeBaseModel:
        if self.args_schema is None:  # derived from the inner tool's _run, not this one's
            return self.inner.get_input_schema(config)
        return super().get_input_schema(config)

    @functools.cached_property
    def _injected_args_keys(self) -> frozenset[str]:
        # What LangChain leaves out of callback inputs and ToolNode injects: the inner's.
        return self.inner._injected_args_keys

    @functools.cached_property
    def _checked(self) -> ToolArguments:
        return ToolArguments(self.inner)

    @functools.cached_property
    def _single_key(self) -> str:
        """The name a single string input is judged under: `SINGLE_INPUT` for a classic
        ``Tool`` (its one input), else the first parameter the tool takes, from its schema or,
        without one, its ``_run`` (a rule on ``query`` must see ``tool.invoke("DROP ...")``)."""
        if isinstance(self.inner, Tool):
            return SINGLE_INPUT
        schema = self.inner.args_schema or self.inner.get_input_schema()
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            skip = {*self.inner._injected_args_keys, "run_manager", "config", "callbacks"}
            names = [name for name in schema.model_fields if name not in skip]
            if names:
                return names[0]
        return SINGLE_INPUT

    # --- one call ------------------------------------------------------------------------------

    def _model_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call:
        """The model's arguments as JSON data for the guard, as LangChain validated them, and
        the injected ones, untouched. LangChain has validated ``kwargs`` with the inner tool's
        schema already; a string input (or a classic Tool's one input) comes positionally."""
        if args:
            if len(args) != 1 or kwargs:
                raise ToolDenied(
                    f"Denied: {self.name!r} got {len(args)} positional and {len(kwargs)} keyword "
                    "arguments; the guard checks one input or keyword arguments, so the call "
                    "was not made."
                )
            return _Call({self._single_key: args[0]}, {}, None, self._single_key)
        model, injected = self._checked.split(kwargs)
        return _Call(self._checked.as_data(model), model, injected)

    def _inner_args(
        self, allowed: dict[str, Any], call: _Call
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if call.injected is None:
            return (allowed[call.key],), {}
        # The guard allowed the very data LangChain's values convert to: run with those values.
        # Anything else (a reviewer's edit, restored placeholders) is validated by the inner
        # tool's own schema again, typed as LangChain would.
        values = call.typed if allowed == call.data else self._checked.typed(allowed)
        return (), {**values, **call.injected}

    def _prepare(self, call: _Call) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        """A reviewer's edit as the inner tool will receive it, as data (the guard judges it)."""

        def single(data: Mapping[str, Any]) -> dict[str, Any]:
            if set(data) != {call.key}:
                raise ValueError(f"{self.name!r} takes one input, {call.key!r}")
            return dict(data)

        def typed(data: Mapping[str, Any]) -> dict[str, Any]:
            return self._checked.as_data(self._checked.typed(data))

        return single if call.injected is None else typed

    def _answer_errors(self, run: Callable[[], Any]) -> Any:
        """The inner tool's run, its ToolException answered by its own handle_tool_error."""
        try:
            return run()
        except ToolException as exc:
            flag = self.inner.handle_tool_error
            if not flag:
                raise
            return ToolErrorAnswer(error_text(handled_content(exc, flag)))

    async def _aanswer_errors(self, run: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await run()
        except ToolException as exc:
            flag = self.inner.handle_tool_error
            if not flag:
                raise
            return ToolErrorAnswer(error_text(handled_content(exc, flag)))

    def _run(
        self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        call_id = _call_id.get()
        try:
            run = run_for(self.guard, config)
            call = self._model_args(args, kwargs)
        except ToolDenied as exc:
            return self._denied(str(exc), call_id)
        raised = Raised()
        manager = CallbackManagerForToolRun.get_noop_manager() if run_manager else None

        def run_inner(allowed: dict[str, Any]) -> Any:
            a, kw = self._inner_args(allowed, call)
            with untraced_scope(config) as quiet:
                kw = {k: untraced_runtime(v) for k, v in kw.items()}
                kw = _inner_kwargs(self.inner._run, kw, quiet, manager)
                return raised.run(
                    lambda: self._answer_errors(
                        lambda: handed_off(lambda: self.inner._run(*a, **kw))
                    )
                )

        outcome = self.guard.call(
            self.name,
            call.data,
            run_inner,
            call_id=call_id,
            run=run,
            passthrough=is_control_flow,
            suspends=is_suspension,
            prepare=self._prepare(call),
        )
        return self._result(outcome, raised, call_id)

    async def _arun(
        self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        call_id = _call_id.get()
        try:
            run = run_for(self.guard, config)
            call = self._model_args(args, kwargs)
        except ToolDenied as exc:
            return self._denied(str(exc), call_id)
        raised = Raised()
        manager = AsyncCallbackManagerForToolRun.get_noop_manager() if run_manager else None

        async def run_inner(allowed: dict[str, Any]) -> Any:
            a, kw = self._inner_args(allowed, call)
            with untraced_scope(config) as quiet:
                kw = {k: untraced_runtime(v) for k, v in kw.items()}
                kw = _inner_kwargs(self.inner._arun, kw, quiet, manager)
                return await raised.arun(
                    lambda: self._aanswer_errors(
                        lambda: ahanded_off(lambda: self.inner._arun(*a, **kw))
                    )
                )

        outcome = await self.guard.acall(
            self.name,
            call.data,
            run_inner,
            call_id=call_id,
            run=run,
            passthrough=is_control_flow,
            suspends=is_suspension,
            prepare=self._prepare(call),
        )
        return self._result(outcome, raised, call_id)

    # --- what LangChain gets back --------------------------------------------------------------

    def _result(self, outcome: Outcome, raised: Raised, call_id: str | None) -> Any:
        if outcome.allowed:
            output = resume(outcome.output)  # a hand-off to the parent graph, raised again
            if self._pair and not isinstance(output, tuple):
                return (output, None)
            return output
        if outcome.failed and raised.error is not None:
            # The tool raised: so does the guarded tool, as the original would, masked (and
            # the original, with its raw values, is let go: no frame of ours keeps it).
            raise masked_copy(raised.take(), outcome.message) from None
        return self._denied(without_prefix(outcome.message, ToolErrorAnswer), call_id)

    def _denied(self, text: str, call_id: str | None) -> Any:
        """A refusal or the tool's error answer, as the model reads it: an error ToolMessage,
        or the text when the call has no tool-call id (as a handled ToolException is)."""
        if call_id is None:
            answer: Any = text
        else:
            answer = ToolMessage(text, status="error", name=self.name, tool_call_id=call_id)
        return (answer, None) if self._pair else answer

    @property
    def _pair(self) -> bool:
        return self.response_format == "content_and_artifact"


class GuardedSingleInputTool(GuardedTool, Tool):
    """A guarded classic ``Tool``: still a ``Tool``, so LangChain shows the model the same
    one-string schema and passes the one input as the original gets it."""


def guard_tool(tool: BaseTool, guard: Guard) -> GuardedTool:
    """Wrap one tool. The wrapper's fields, schemas and injected arguments are the tool's."""
    fields = {name: getattr(tool, name) for name in BaseTool.model_fields}
    kind = GuardedSingleInputTool if isinstance(tool, Tool) else GuardedTool
    return kind(inner=tool, guard=guard, func=None, **fields)


def guard_tools(tools: Iterable[BaseTool], guard: Guard) -> list[GuardedTool]:
    return [guard_tool(t, guard) for t in tools]


def _guarded_callable(
    tool: GuardedTool, original: Callable[..., Any], *, asynchronous: bool
) -> Callable[..., Any]:
    """A function with ``original``'s parameters (and annotations, for ToolNode) that runs the
    guarded tool, as ``invoke`` does: the guard cannot be bypassed through ``tool.func``."""
    try:
        signature: inspect.Signature | None = inspect.signature(original)
    except (TypeError, ValueError):
        signature = None

    def tool_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if signature is None:
            return args[0] if len(args) == 1 and not kwargs else dict(kwargs)
        bound = signature.bind(*args, **kwargs).arguments
        values: dict[str, Any] = {}
        for name, value in bound.items():
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                values.update(value)
            else:
                values[name] = value
        if isinstance(tool, Tool) and len(values) == 1:
            return next(iter(values.values()))
        return values

    if asynchronous:

        @functools.wraps(original)
        async def acall(*args: Any, **kwargs: Any) -> Any:
            return await tool.ainvoke(tool_input(args, kwargs))

        return acall

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        return tool.invoke(tool_input(args, kwargs))

    return call


def _tool_call_id(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("type") == "tool_call":
        return value.get("id")
    return None


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
