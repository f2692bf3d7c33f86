"""Tool results between the upstream server, the guard's masker and the client.

The upstream's `CallToolResult` becomes plain data (its content blocks and ``structuredContent``)
for the guard to mask, and the masked data becomes the result the client sees. What the masker
cannot read is withheld, never passed on: image and audio blocks and binary resource contents
are replaced by a text block saying so (an image of a passport is as sensitive as its number).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp import types

__all__ = [
    "WITHHELD",
    "as_data",
    "error_result",
    "from_data",
    "prompt_as_data",
    "prompt_from_data",
    "resource_as_data",
    "resource_from_data",
]

WITHHELD = "[{what} withheld by guardrails-plugin: it cannot be checked for sensitive data]"


def _block(block: types.ContentBlock) -> dict[str, Any]:
    if isinstance(block, types.ImageContent | types.AudioContent):
        return {"type": "text", "text": WITHHELD.format(what=f"{block.type} content")}
    if isinstance(block, types.EmbeddedResource) and isinstance(
        block.resource, types.BlobResourceContents
    ):
        return {"type": "text", "text": WITHHELD.format(what="binary resource")}
    return block.model_dump(mode="json", by_alias=True, exclude_none=True)


def as_data(result: types.CallToolResult) -> dict[str, Any]:
    """The result as plain data for the masker: content blocks it can read, structured
    content, and the upstream's error flag."""
    data: dict[str, Any] = {
        "content": [_block(block) for block in result.content],
        "isError": bool(result.isError),
    }
    if result.structuredContent is not None:
        data["structuredContent"] = result.structuredContent
    return data


def from_data(data: Any) -> types.CallToolResult:
    """The masked result for the client. Raises ``ValueError`` when masking left something
    that is no longer a result (the caller withholds it)."""
    if not isinstance(data, Mapping):
        raise ValueError("the masked result is not an object")
    try:
        return types.CallToolResult.model_validate(
            {
                "content": data.get("content", []),
                "structuredContent": data.get("structuredContent"),
                "isError": data.get("isError") is True,
            }
        )
    except Exception as exc:  # pydantic's ValidationError and anything the model raises
        raise ValueError(f"the masked result is not a valid tool result: {exc}") from exc


def resource_as_data(result: types.ReadResourceResult) -> dict[str, Any]:
    """A ``resources/read`` result as plain data for the masker: text contents as they are,
    binary contents withheld (the masker cannot read them)."""
    contents: list[dict[str, Any]] = []
    for item in result.contents:
        if isinstance(item, types.BlobResourceContents):
            what = WITHHELD.format(what="binary resource")
            contents.append({"uri": str(item.uri), "mimeType": "text/plain", "text": what})
        else:
            contents.append(item.model_dump(mode="json", by_alias=True, exclude_none=True))
    return {"contents": contents}


def resource_from_data(data: Any) -> types.ReadResourceResult:
    """The masked ``resources/read`` result. Raises ``ValueError`` when it no longer is one."""
    if not isinstance(data, Mapping):
        raise ValueError("the masked resource is not an object")
    try:
        return types.ReadResourceResult.model_validate({"contents": data.get("contents", [])})
    except Exception as exc:  # pydantic's ValidationError (a masked URI that is no URI)
        raise ValueError(f"the masked resource is not a valid result: {exc}") from exc


def prompt_as_data(result: types.GetPromptResult) -> dict[str, Any]:
    """A ``prompts/get`` result as plain data for the masker: its description and messages, an
    image, audio or binary message withheld."""
    data: dict[str, Any] = {
        "messages": [
            {"role": message.role, "content": _block(message.content)}
            for message in result.messages
        ]
    }
    if result.description is not None:
        data["description"] = result.description
    return data


def prompt_from_data(data: Any) -> types.GetPromptResult:
    """The masked ``prompts/get`` result. Raises ``ValueError`` when it no longer is one."""
    if not isinstance(data, Mapping):
        raise ValueError("the masked prompt is not an object")
    try:
        return types.GetPromptResult.model_validate(
            {"description": data.get("description"), "messages": data.get("messages", [])}
        )
    except Exception as exc:  # pydantic's ValidationError
        raise ValueError(f"the masked prompt is not a valid result: {exc}") from exc


def error_result(message: str) -> types.CallToolResult:
    """A tool result the client shows as an error: ``isError`` and one text block."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], isError=True
    )
