"""A scripted chat model for testing LangChain agents without an API key or network."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage

__all__ = ["ScriptedChatModel", "tool_call"]


class ScriptedChatModel(FakeMessagesListChatModel):
    """Answers with the scripted messages in order; ``bind_tools`` is accepted and ignored.

    model = ScriptedChatModel(responses=[
        AIMessage("", tool_calls=[tool_call("lookup_customer", {"customer_id": 7})]),
        AIMessage("Done."),
    ])
    """

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self


_counter = iter(range(1, 1_000_000))


def tool_call(name: str, args: dict[str, Any], call_id: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "args": args,
        "id": call_id or f"call_{next(_counter)}",
        "type": "tool_call",
    }


def ai(text: str = "", *calls: dict[str, Any]) -> BaseMessage:
    return AIMessage(content=text, tool_calls=list(calls))
