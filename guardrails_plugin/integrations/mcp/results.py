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

__all__ = ["WITHHELD", "as_data", "error_result", "from_data"]

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


def error_result(message: str) -> types.CallToolResult:
    """A tool result the client shows as an error: ``isError`` and one text block."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], isError=True
    )
