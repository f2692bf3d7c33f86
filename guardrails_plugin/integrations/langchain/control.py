"""LangGraph's control flow, which the guard must let through untouched.

LangGraph steers a run with exceptions: ``GraphInterrupt`` suspends it (``interrupt()``, here or
in a tool), ``ParentCommand`` hands a command to the parent graph (both ``GraphBubbleUp``), and a
resume value that an ``interrupt(..., response_schema=...)`` refuses raises a pydantic
``ValidationError`` marked as an invalid resume, which LangGraph means to fail the run (nothing
is saved, so the interrupt can be answered again). None of these is the tool failing: reported
to the model as a tool error, they would end an interrupt the human never answered.
"""

from __future__ import annotations

from langgraph.errors import GraphBubbleUp, is_invalid_resume

__all__ = ["is_control_flow"]


def is_control_flow(exc: BaseException) -> bool:
    """Whether ``exc`` is LangGraph's control flow (the guard's ``passthrough`` test)."""
    return isinstance(exc, GraphBubbleUp) or is_invalid_resume(exc)
