"""``create_agent`` middleware: the guard around every tool call of the agent.

``mode="blocking"`` waits for approvals in place (sync wait, or ``await`` that shares one
watcher). ``mode="interrupt"`` suspends the LangGraph run with ``interrupt()`` instead, for
approvals that may take hours: the run needs a checkpointer, the request is created once per
tool-call id (LangGraph re-runs this wrapper from the top on resume), and after resuming the
decision is read from the store, never from the resume value, which carries no approver identity.

The guard checks the arguments as the tool will receive them: validated by the tool's own
schema first (see `arguments`); the tool then gets exactly the values the guard allowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.prebuilt.tool_node import ToolInvocationError
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.guard import Guard, Outcome, RunContext, Wait
from guardrails_plugin.integrations.langchain import outputs  # noqa: F401 - registers Send
from guardrails_plugin.integrations.langchain.arguments import ToolArguments, validation_errors
from guardrails_plugin.integrations.langchain.context import run_for
from guardrails_plugin.store.records import ApprovalRequest

__all__ = ["INTERRUPT_TYPE", "GuardMiddleware", "resume_decided"]

INTERRUPT_TYPE = "guardrails_approval"

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
        call = request.tool_call
        checked = self._check(request)
        if not isinstance(checked, tuple):
            return checked
        args, run, arguments = checked

        def run_tool(allowed: dict[str, Any]) -> Any:
            return _content(handler(_override(request, call, allowed)))

        outcome = self.guard.call(
            call["name"],
            args,
            run_tool,
            call_id=call.get("id"),
            run=run,
            passthrough=(GraphBubbleUp,),
            wait=self._suspend if self.mode == "interrupt" else None,
            prepare=arguments.validate,
        )
        return _message(call, outcome)

    async def awrap_tool_call(
        self, request: Any, handler: AsyncHandler
    ) -> ToolMessage | Command[Any]:
        call = request.tool_call
        checked = self._check(request)
        if not isinstance(checked, tuple):
            return checked
        args, run, arguments = checked

        async def run_tool(allowed: dict[str, Any]) -> Any:
            return _content(await handler(_override(request, call, allowed)))

        async def suspend(step: Wait) -> ApprovalRequest:
            return self._suspend(step)

        outcome = await self.guard.acall(
            call["name"],
            args,
            run_tool,
            call_id=call.get("id"),
            run=run,
            passthrough=(GraphBubbleUp,),
            wait=suspend if self.mode == "interrupt" else None,
            prepare=arguments.validate,
        )
        return _message(call, outcome)

    def _check(
        self, request: Any
    ) -> tuple[dict[str, Any], RunContext, ToolArguments] | ToolMessage | Command[Any]:
        """(the arguments as the tool will receive them, the run, the tool's validation), or
        the message that ends the call before the guard: the tool's own validation error, or a
        refusal."""
        call = request.tool_call
        try:
            run = run_for(self.guard, _config())
            arguments = ToolArguments(request.tool)
            return arguments.validate(call.get("args") or {}), run, arguments
        except ValidationError as exc:
            return _invalid(call, request.tool, exc)
        except ToolDenied as exc:
            return _message(call, Outcome(False, message=str(exc)))

    def _suspend(self, step: Wait) -> ApprovalRequest:
        return self._interrupt_until_decided(step.request)

    def _interrupt_until_decided(self, request: ApprovalRequest) -> ApprovalRequest:
        broker = self.guard.broker
        while True:
            current = broker.get(request.id)
            if current.terminal:
                return current
            if broker.clock.now() >= current.expires_at:
                return broker.wait(request.id)  # records the expiry
            # Suspends the run; returns (with a value we ignore) when the thread is resumed.
            interrupt(_interrupt_value(current))


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


class _ToolError(Exception):
    """The tool answered with an error ToolMessage."""


def _content(message: ToolMessage | Command[Any]) -> Any:
    """What the guard masks: the tool's message or Command itself, so the model gets it back as
    it was (content, artifact, metadata; a Command still steers the graph), masked."""
    if isinstance(message, ToolMessage) and message.status == "error":
        return _ToolError(str(message.content))
    return message


def _message(call: dict[str, Any], outcome: Outcome) -> ToolMessage | Command[Any]:
    name, call_id = call.get("name"), call.get("id") or ""
    if not outcome.allowed:
        text = outcome.message
        if outcome.failed:
            text = text.removeprefix("_ToolError: ")
        return ToolMessage(content=text, status="error", name=name, tool_call_id=call_id)
    output = outcome.output
    if isinstance(output, ToolMessage | Command):
        return output  # the handler's own answer, masked (`_content`)
    return ToolMessage(content=output, name=name, tool_call_id=call_id)


def resume_decided(agent: Any, thread_id: str, guard: Guard, **config: Any) -> Any | None:
    """Resume a suspended thread once every guard request it waits on is decided.

    Returns the agent's result, or None while any request is still pending (call again later,
    e.g. from a scheduler or after a Slack vote). Decisions are read from the store; the resume
    value only tells the graph which interrupts to continue.
    """
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
