"""The steps of the Guard's decision path, and the drivers that run it.

`Guard.flow` is a generator: it yields the two things it cannot do itself — wait for a decision
(`Wait`) and run the tool (`Execute`) — and returns the `Outcome`. A driver answers each step:
`drive` synchronously, `adrive` with awaits, `drive_to_decision` stops before the tool (for
adapters that cannot run it). One logic, thin drivers: nothing here decides anything.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

from guardrails_plugin.store.records import ApprovalRequest
from guardrails_plugin.types import Decision, Finding

__all__ = [
    "Execute",
    "Flow",
    "Outcome",
    "Passthrough",
    "Wait",
    "adrive",
    "drive",
    "drive_to_decision",
    "passes",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wait:
    """The flow needs a decision on ``request`` before it can go on."""

    request: ApprovalRequest
    deadline: float | None = None


@dataclass(frozen=True)
class Execute:
    """The flow allows the call: run the tool with ``args``."""

    args: dict[str, Any]
    decision: Decision | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """How a guarded call ended. ``output`` is masked; ``message`` is for the model."""

    allowed: bool
    output: Any = None
    message: str = ""
    decision: Decision | None = None
    request_id: str | None = None
    failed: bool = False  # the tool itself raised; ``message`` holds its masked error
    findings: tuple[Finding, ...] = ()


Flow = Generator[Wait | Execute, Any, Outcome]
# A framework's control-flow exceptions: types, or a test for those a type cannot name (LangGraph
# marks an invalid resume value on a plain pydantic ValidationError).
Passthrough = tuple[type[BaseException], ...] | Callable[[BaseException], bool]


def passes(exc: BaseException, passthrough: Passthrough) -> bool:
    """Whether ``exc`` is framework control flow that must propagate untouched."""
    if isinstance(passthrough, tuple):
        return isinstance(exc, passthrough)
    return passthrough(exc)


def drive(
    flow: Flow,
    fn: Callable[[dict[str, Any]], Any],
    wait: Callable[[Wait], ApprovalRequest],
    passthrough: Passthrough = (),
) -> Outcome:
    """Run ``flow`` to its outcome. Exceptions of the ``passthrough`` types from ``fn`` or
    ``wait`` propagate (a framework's control flow); others are handed to the flow, which masks
    and reports a tool's error, and denies on a failed wait."""
    reply: Any = None
    try:
        while True:
            step = flow.send(reply)
            try:
                reply = wait(step) if isinstance(step, Wait) else fn(step.args)
            except Exception as exc:  # handed to the flow, which decides (control flow: passed on)
                if passes(exc, passthrough):
                    _hand_over(flow, exc)
                    raise
                reply = exc
            except BaseException as exc:
                _interrupt(flow, step, exc)
                raise
    except StopIteration as stop:
        outcome: Outcome = stop.value
        return outcome


def _hand_over(flow: Flow, exc: Exception) -> None:
    """The framework's control flow takes over: the flow hears of it where it stands (a tool
    interrupted mid-call gives back its approval's claim) and ends."""
    with contextlib.suppress(Exception):  # the flow re-raises exc; the driver raises it
        flow.throw(exc)
    flow.close()


def _interrupt(flow: Flow, step: Wait | Execute, exc: BaseException) -> None:
    """A cancellation (or KeyboardInterrupt) while the tool ran: the flow hears of it where it
    stands, so the audit log records that the call was cut off, not only that it was allowed.
    During a wait the flow is closed as before (the caller cancels the approval request)."""
    if isinstance(step, Execute):
        with contextlib.suppress(BaseException):  # the flow re-raises exc; the driver raises it
            flow.throw(exc)
    flow.close()


def drive_to_decision(flow: Flow, wait: Callable[[Wait], ApprovalRequest]) -> Outcome:
    """Run ``flow`` up to its decision; an allowed outcome has no output (the tool is not run)."""
    reply: Any = None
    try:
        while True:
            step = flow.send(reply)
            if isinstance(step, Execute):
                flow.close()
                return Outcome(True, None, "", step.decision, step.request_id)
            try:
                reply = wait(step)
            except Exception as exc:  # noqa: BLE001 - the flow denies
                reply = exc
    except StopIteration as stop:
        outcome: Outcome = stop.value
        return outcome


async def adrive(
    flow: Flow,
    fn: Callable[[dict[str, Any]], Awaitable[Any]],
    wait: Callable[[Wait], Awaitable[ApprovalRequest]],
    passthrough: Passthrough = (),
    observe: Callable[[ApprovalRequest], None] | None = None,
) -> Outcome:
    """`drive` with awaits; ``observe`` hears of each request when its wait starts and ends."""
    reply: Any = None
    try:
        while True:
            step = flow.send(reply)
            try:
                if isinstance(step, Wait):
                    _observe(observe, step.request)
                    reply = await wait(step)
                    _observe(observe, reply)
                else:
                    reply = await fn(step.args)
            except Exception as exc:  # handed to the flow, which decides (control flow: passed on)
                if passes(exc, passthrough):
                    _hand_over(flow, exc)
                    raise
                reply = exc
            except BaseException as exc:  # a cancelled task, KeyboardInterrupt
                _interrupt(flow, step, exc)
                raise
    except StopIteration as stop:
        outcome: Outcome = stop.value
        return outcome
    finally:
        # A cancelled task (the caller gave up) ends the flow now, not when it is collected:
        # its observers close their spans in this task's context.
        flow.close()


def _observe(observe: Callable[[ApprovalRequest], None] | None, request: ApprovalRequest) -> None:
    if observe is None:
        return
    try:
        observe(request)
    except Exception as exc:  # noqa: BLE001 - progress reports never change a decision
        log.warning("approval observer failed on request %s: %s", request.id, exc)
