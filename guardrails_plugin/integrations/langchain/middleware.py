"""``create_agent`` middleware: the guard around every tool call of the agent.

``mode="blocking"`` waits for approvals in place (sync wait, or ``await`` that shares one
watcher). ``mode="interrupt"`` suspends the LangGraph run with ``interrupt()`` instead, for
approvals that may take hours: the run needs a checkpointer (without one, every guarded call
is refused with a `ConfigError` before the store is written), the request is created once per
tool-call id (LangGraph re-runs this wrapper from the top on resume), the guard calls
``interrupt()`` exactly once per approval so later interrupts in the same task keep their own
resume values, and after resuming the decision is read from the store, never from the resume
value, which carries no approver identity.

The guard checks the arguments as the tool will receive them: validated by the tool's own
schema first (see `arguments`); the tool then gets exactly the values the guard allowed. The
tool's failures behave as without the guard, masked (`failures`); LangGraph's control flow
passes through untouched (`control`); tracers hear the masked run, not the real one
(`tracing`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langgraph.config import get_config
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.prebuilt.tool_node import ToolInvocationError
from langgraph.types import Command, interrupt
from pydantic import AfterValidator, ValidationError

from guardrails_plugin.errors import ConfigError, ToolDenied
from guardrails_plugin.guard import Guard, Outcome, RunContext, Wait
from guardrails_plugin.integrations.langchain import outputs  # noqa: F401 - registers Send
from guardrails_plugin.integrations.langchain.arguments import ToolArguments, validation_errors
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
    masked_copy,
    without_prefix,
)
from guardrails_plugin.integrations.langchain.tracing import (
    ToolTrace,
    untraced,
    untraced_runtime,
)
from guardrails_plugin.store.records import ApprovalRequest, Status

__all__ = ["INTERRUPT_TYPE", "GuardMiddleware", "resume_decided"]

INTERRUPT_TYPE = "guardrails_approval"

NO_CHECKPOINTER = (
    'GuardMiddleware(mode="interrupt") needs an agent with a checkpointer: the run is suspended '
    "until the request is decided and can only be resumed from a checkpoint. Build the agent "
    "with one, e.g. create_agent(..., checkpointer=InMemorySaver()) (from "
    "langgraph.checkpoint.memory; SqliteSaver or PostgresSaver to resume in another process), "
    'or use mode="blocking" to wait in place.'
)

Handler = Callable[[Any], ToolMessage | Command[Any]]
AsyncHandler = Callable[[Any], Awaitable[ToolMessage | Command[Any]]]


class GuardMiddleware(AgentMiddleware):
    """Mask, check, gate and audit every tool call of a ``create_agent`` agent."""

    def __init__(
        self, guard: Guard, *, mode: Literal["blocking", "interrupt"] = "blocking"
    ) -> None:
        super().__init__()
        if mode not in ("blocking", "interrupt"):
            raise ValueError(f"mode must be 'blocking' or 'interrupt', got {mode!r}")
        self.guard = guard
        self.mode = mode

    def wrap_tool_call(self, request: Any, handler: Handler) -> ToolMessage | Command[Any]:
        self._require_checkpointer()
        call, trace = request.tool_call, _trace(request)
        checked = self._check(request)
        if not isinstance(checked, tuple):
            return _refused(trace, checked)
        args, run, arguments = checked
        raised = Raised()
        quiet = _untraced(request)

        def run_tool(allowed: dict[str, Any]) -> Any:
            trace.start()  # the tool's run, as tracers see it, begins now (not at the wait)
            request = _override(quiet, call, allowed)
            return _content(raised.run(lambda: handed_off(lambda: handler(request))))

        try:
            outcome = self.guard.call(
                call["name"],
                args,
                run_tool,
                call_id=call.get("id"),
                run=run,
                passthrough=is_control_flow,
                suspends=is_suspension,
                wait=self._suspend if self.mode == "interrupt" else None,
                prepare=arguments.validate,
            )
            answer = _answer(call, outcome, raised)
        except Exception as exc:
            trace.error(exc)
            raise
        trace.end(answer)
        return answer

    async def awrap_tool_call(
        self, request: Any, handler: AsyncHandler
    ) -> ToolMessage | Command[Any]:
        self._require_checkpointer()
        call, trace = request.tool_call, _trace(request)
        checked = self._check(request)
        if not isinstance(checked, tuple):
            return await _arefused(trace, checked)
        args, run, arguments = checked
        raised = Raised()
        quiet = _untraced(request)

        async def run_tool(allowed: dict[str, Any]) -> Any:
            await trace.astart()
            request = _override(quiet, call, allowed)
            return _content(await raised.arun(lambda: ahanded_off(lambda: handler(request))))

        async def suspend(step: Wait) -> ApprovalRequest:
            return self._suspend(step)

        try:
            outcome = await self.guard.acall(
                call["name"],
                args,
                run_tool,
                call_id=call.get("id"),
                run=run,
                passthrough=is_control_flow,
                suspends=is_suspension,
                wait=suspend if self.mode == "interrupt" else None,
                prepare=arguments.validate,
            )
            answer = _answer(call, outcome, raised)
        except Exception as exc:
            await trace.aerror(exc)
            raise
        await trace.aend(answer)
        return answer

    def _require_checkpointer(self) -> None:
        """Refuse interrupt mode in a run without a checkpointer, before anything is written.

        Without one, ``interrupt()`` still ends the run with ``__interrupt__`` and the request
        would wait in the store, but nothing could resume the run (LangGraph: "No checkpointer
        set"). The refusal comes at every guarded call, not only at one that needs approval,
        so a development run with only allowed calls already shows the mistake. LangGraph hands
        each task the run's checkpointer (its own, or the one a parent graph lends it) under
        ``CONFIG_KEY_CHECKPOINTER``; outside a run there is none, and the call is refused too.
        """
        if self.mode != "interrupt":
            return
        config = _config() or {}
        if config.get("configurable", {}).get(CONFIG_KEY_CHECKPOINTER) is None:
            raise ConfigError(NO_CHECKPOINTER)

    def _check(self, request: Any) -> tuple[dict[str, Any], RunContext, ToolArguments] | _Refusal:
        """(the arguments as the tool will receive them, the run, the tool's validation), or
        why the call ends before the guard: the tool's own validation error, or a refusal."""
        call = request.tool_call
        try:
            run = run_for(self.guard, _config())
            arguments = ToolArguments(request.tool)
            return arguments.validate(call.get("args") or {}), run, arguments
        except ValidationError as exc:
            return _Refusal(_invalid(call, request.tool, exc), exc)
        except ToolDenied as exc:
            refusal = ToolMessage(
                content=str(exc),
                status="error",
                name=call.get("name"),
                tool_call_id=call.get("id") or "",
            )
            return _Refusal(refusal, None)

    def _suspend(self, step: Wait) -> ApprovalRequest:
        """Suspend the run until ``step``'s request is decided, with exactly one ``interrupt()``
        per approval. LangGraph answers a task's interrupts by their order and runs the task
        again from the top on resume, so the count must be the same on every run of it: were
        the guard to skip its interrupt once the request is decided, the next ``interrupt()``
        in the task (the tool's own, a ``HumanInTheLoopMiddleware`` further in) would get the
        guard's resume value and its human would never be asked.

        The decision is read from the store, never from the resume value, which carries no
        approver identity. A resume while the request is still pending is refused the way
        LangGraph refuses an invalid resume value: the run fails, nothing is saved, and the
        interrupt can be answered again once the request is decided (`resume_decided` waits
        for that)."""
        broker = self.guard.broker
        request = broker.get(step.request.id)
        if request.terminal and request.status is not Status.APPROVED:
            return request  # refused: the call ends here, before anything that interrupts
        if not request.terminal and broker.clock.now() >= request.expires_at:
            return broker.wait(request.id)  # records the expiry
        interrupt(_interrupt_value(request), response_schema=self._decided(request.id))
        # Decided, or expired since (the schema let the resume through): nothing left to wait for.
        return broker.wait(request.id, deadline=broker.clock.now())

    def _decided(self, request_id: str) -> Any:
        """A ``response_schema`` that accepts any resume value once the request is decided (or
        has expired, which the guard then records), and refuses it while it is pending."""
        broker = self.guard.broker

        def decided(value: Any) -> Any:
            current = broker.get(request_id)
            if not current.terminal and broker.clock.now() < current.expires_at:
                raise ValueError(
                    f"approval request {request_id} is still pending: resume once it is "
                    "decided (resume_decided(agent, thread_id, guard) does)"
                )
            return value

        return Annotated[Any, AfterValidator(decided)]


def _interrupt_value(request: ApprovalRequest) -> dict[str, Any]:
    return {
        "type": INTERRUPT_TYPE,
        "request_id": request.id,
        "tool": request.tool,
        "args": dict(request.masked_args),
        "rule_id": request.rule_id,
        "reason": request.reason,
        "approvers": sorted(request.approvers),
        "expires_at": request.expires_at,
    }


@dataclass(frozen=True)
class _Refusal:
    """A call answered before the guard: the message, and the validation error behind it."""

    message: ToolMessage
    error: ValidationError | None


def _refused(trace: ToolTrace, refusal: _Refusal) -> ToolMessage:
    # As the tool's own run reports it: a validation error the tool raises ends the run with
    # that error; a handled one (or a refusal) ends it with the message.
    trace.start()
    if refusal.error is not None and _raises(trace):
        trace.error(refusal.error)
    else:
        trace.end(refusal.message)
    return refusal.message


async def _arefused(trace: ToolTrace, refusal: _Refusal) -> ToolMessage:
    await trace.astart()
    if refusal.error is not None and _raises(trace):
        await trace.aerror(refusal.error)
    else:
        await trace.aend(refusal.message)
    return refusal.message


def _raises(trace: ToolTrace) -> bool:
    """Whether the tool raises its validation errors (rather than answering them itself)."""
    return not getattr(trace.tool, "handle_validation_error", None)


def _trace(request: Any) -> ToolTrace:
    # The config ToolNode runs the tool with, so the run sits where the tool's own would.
    config: Any = getattr(getattr(request, "runtime", None), "config", None) or _config()
    return ToolTrace(request.tool, request.tool_call, config)


def _untraced(request: Any) -> Any:
    """The request the tool runs with: the tool itself runs untraced (see `tracing`)."""
    if request.tool is None:
        return request
    runtime = getattr(request, "runtime", None)
    if runtime is None:
        return request.override(tool=untraced(request.tool))
    return request.override(tool=untraced(request.tool), runtime=untraced_runtime(runtime))


def _invalid(call: dict[str, Any], tool: Any, exc: ValidationError) -> ToolMessage:
    """What the unguarded tool answers to arguments it refuses: its own handler's text when it
    has one (``handle_validation_error``), else LangGraph's ToolNode message. The tool never
    runs."""
    flag = getattr(tool, "handle_validation_error", None)
    if flag:
        # As langchain_core's _handle_validation_error: True, a fixed text, or a callable.
        content = "Tool input validation error" if flag is True else flag
        content = flag(exc) if callable(flag) else content
    else:
        error = ToolInvocationError(call["name"], exc, call["args"], validation_errors(exc))
        content = error.message
    return ToolMessage(
        content=content, status="error", name=call.get("name"), tool_call_id=call.get("id") or ""
    )


def _config() -> dict[str, Any] | None:
    try:
        return dict(get_config())
    except RuntimeError:
        return None


def _override(request: Any, call: dict[str, Any], args: dict[str, Any]) -> Any:
    return request.override(tool_call={**call, "args": args})


def _content(message: ToolMessage | Command[Any]) -> Any:
    """What the guard masks: the tool's message or Command itself, so the model gets it back as
    it was (content, artifact, metadata; a Command still steers the graph), masked. An error
    answer (the tool's, or ToolNode's for it) is masked and audited as failed."""
    if isinstance(message, ToolMessage) and message.status == "error":
        return ToolErrorAnswer(error_text(message.content))
    return message


def _answer(call: dict[str, Any], outcome: Outcome, raised: Raised) -> ToolMessage | Command[Any]:
    """The message the model reads, or the tool's exception raised again, masked (as the tool
    raises it without the guard, and LangGraph's ToolNode handles it as it would)."""
    name, call_id = call.get("name"), call.get("id") or ""
    if not outcome.allowed:
        if outcome.failed and raised.error is not None:
            raise masked_copy(raised.take(), outcome.message) from None
        text = without_prefix(outcome.message, ToolErrorAnswer)
        return ToolMessage(content=text, status="error", name=name, tool_call_id=call_id)
    output = resume(outcome.output)  # a hand-off to the parent graph is raised again, masked
    if isinstance(output, ToolMessage | Command):
        return output  # the handler's own answer, masked (`_content`)
    return ToolMessage(content=output, name=name, tool_call_id=call_id)


def resume_decided(agent: Any, thread_id: str, guard: Guard, **config: Any) -> Any | None:
    """Resume a suspended thread once every guard request it waits on is decided.

    Returns the agent's result, or None while any request is still pending (call again later,
    e.g. from a scheduler or after a Slack vote). Decisions are read from the store; the resume
    value only tells the graph which interrupts to continue.
    """
    if getattr(agent, "checkpointer", True) in (None, False):  # a graph that never saves
        raise ConfigError(NO_CHECKPOINTER)
    cfg = {**config, "configurable": {**config.get("configurable", {}), "thread_id": thread_id}}
    state = agent.get_state(cfg)
    pending = [
        i
        for task in state.tasks
        for i in task.interrupts
        if isinstance(i.value, dict) and i.value.get("type") == INTERRUPT_TYPE
    ]
    if not pending:
        return None
    if not all(guard.broker.get(i.value["request_id"]).terminal for i in pending):
        return None
    resume = {i.id: {"request_id": i.value["request_id"]} for i in pending}
    return agent.invoke(Command(resume=resume), cfg)
