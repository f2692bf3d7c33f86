"""LangGraph's control flow, which the guard must let through untouched.

LangGraph steers a run with exceptions: ``GraphInterrupt`` suspends it (``interrupt()``, here or
in a tool), ``ParentCommand`` hands a command to the parent graph (both ``GraphBubbleUp``), and a
resume value that an ``interrupt(..., response_schema=...)`` refuses raises a pydantic
``ValidationError`` marked as an invalid resume, which LangGraph means to fail the run (nothing
is saved, so the interrupt can be answered again). None of these is the tool failing: reported
to the model as a tool error, they would end an interrupt the human never answered.

Only a suspension (an interrupt, an invalid resume) means LangGraph will run the call again;
a hand-off (``ParentCommand``) ends it: the guard treats it as the tool's result (`Handoff`),
masks the command like any output, and raises it again for the parent graph.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langgraph.errors import GraphBubbleUp, GraphInterrupt, ParentCommand, is_invalid_resume
from langgraph.types import Command

__all__ = ["Handoff", "ahanded_off", "handed_off", "is_control_flow", "is_suspension", "resume"]


def is_control_flow(exc: BaseException) -> bool:
    """Whether ``exc`` is LangGraph's control flow (the guard's ``passthrough`` test)."""
    return isinstance(exc, GraphBubbleUp) or is_invalid_resume(exc)


def is_suspension(exc: BaseException) -> bool:
    """Whether ``exc`` suspends the call for LangGraph to run again on resume (the guard's
    ``suspends`` test: only these give an approval's execution back)."""
    return isinstance(exc, GraphInterrupt) or is_invalid_resume(exc)


@dataclass(frozen=True)
class Handoff:
    """A tool's ``ParentCommand``, as a result the guard masks and audits."""

    command: Command[Any]


def handed_off(fn: Callable[[], Any]) -> Any:
    """``fn()``, with a hand-off to the parent graph returned as a `Handoff`."""
    try:
        return fn()
    except ParentCommand as exc:
        return Handoff(exc.args[0])


async def ahanded_off(fn: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await fn()
    except ParentCommand as exc:
        return Handoff(exc.args[0])


def resume(output: Any) -> Any:
    """The masked output, or its hand-off raised again for the parent graph."""
    if isinstance(output, Handoff):
        raise ParentCommand(output.command)
    return output
