"""LangGraph types the masker cannot read by itself, taught to it once at import.

Messages, ``Document``s (pydantic models) and ``Command`` (a dataclass) are walked as they are;
``Send`` is a plain class with slots, so its two data attributes are registered here. A tool's
``Command(goto=[Send(...)])`` then reaches the graph masked and still steering it. The timeout
policy is configuration, not data: the copy keeps the original's.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import Send

from guardrails_plugin.masking.objects import register_object

__all__: list[str] = []


def _send(original: Send, values: dict[str, Any]) -> Send:
    return Send(values["node"], values["arg"], timeout=original.timeout)


register_object(Send, ("node", "arg"), _send)
