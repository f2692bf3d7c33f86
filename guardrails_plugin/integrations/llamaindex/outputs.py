"""A LlamaIndex `ToolOutput` on its way through the guard, and back.

The guard masks what a tool returns before the model sees it. A `ToolOutput` carries it three
times: ``blocks`` (what the agent puts in the model's tool message), ``raw_output`` (what the
tool returned: a string, a `Response` of a `QueryEngineTool`, an MCP ``CallToolResult``, a list
of blocks) and ``raw_input`` (the arguments, with the real values the guard restored). All three
are masked, in one pass, with the run's vault.

Media blocks (images, audio, video, documents, cache points) are bytes the masker cannot read:
they pass by the masker untouched and come back in their place, so ``[TextBlock, ImageBlock]``
stays ``[TextBlock(masked), ImageBlock]``. (Whatever an image shows, the model sees it as with
the original tool: the guard reads text only.) Text-bearing blocks come back as their own block
types. ``raw_output`` comes back as the masker gives it (`Masker.mask`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    BaseContentBlock,
    CachePoint,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    VideoBlock,
)
from llama_index.core.tools import ToolOutput
from pydantic import ValidationError

__all__ = ["MEDIA", "CarriedOutput"]

log = logging.getLogger(__name__)

MEDIA = (ImageBlock, AudioBlock, VideoBlock, DocumentBlock, CachePoint)


class ToolError(Exception):
    """The wrapped tool answered with ``is_error=True``."""


class CarriedOutput:
    """One call's output: `payload` gives the guard what it masks (media held back), `rebuild`
    puts the masked parts and the held media back together as a `ToolOutput`."""

    def __init__(self) -> None:
        self.blocks: list[Any] = []
        self.raw_output: Any = None
        self.error: BaseException | None = None

    def payload(self, output: ToolOutput) -> dict[str, Any]:
        if output.is_error:
            raise ToolError(str(output.content))
        self.blocks, self.raw_output = list(output.blocks), output.raw_output
        return {
            "blocks": [None if isinstance(b, MEDIA) else b for b in self.blocks],
            "raw_output": _hold(output.raw_output),
            "raw_input": output.raw_input,
        }

    def rebuild(self, tool_name: str, masked: Mapping[str, Any]) -> ToolOutput:
        blocks = [
            block if isinstance(block, MEDIA) else _block(block, shown)
            for block, shown in zip(self.blocks, masked.get("blocks") or [], strict=True)
        ]
        return ToolOutput(
            tool_name=tool_name,
            blocks=blocks,
            raw_input=dict(masked.get("raw_input") or {}),
            raw_output=self.raw(masked),
        )

    def raw(self, masked: Mapping[str, Any]) -> Any:
        """The masked ``raw_output``, its media back in place."""
        return _unhold(self.raw_output, masked.get("raw_output"))

    def error_text(self, message: str) -> str:
        """The guard's masked error sentence as LlamaIndex words a tool's error: ``str(exc)``."""
        message = message.removeprefix(f"{ToolError.__name__}: ")
        if self.error is not None:
            message = message.removeprefix(f"{type(self.error).__name__}: ")
        return message


def _hold(raw: Any) -> Any:
    """``raw`` with its media blocks (itself, or items of a list of blocks) taken out."""
    if isinstance(raw, MEDIA):
        return None
    if _is_blocks(raw):
        return type(raw)(None if isinstance(item, MEDIA) else item for item in raw)
    return raw


def _unhold(raw: Any, shown: Any) -> Any:
    """The masked ``raw_output``: held media back in place, blocks as their own types."""
    if isinstance(raw, MEDIA):
        return raw
    if isinstance(raw, BaseContentBlock):
        return _block(raw, shown)
    if _is_blocks(raw) and isinstance(shown, list | tuple) and len(shown) == len(raw):
        return type(raw)(_unhold(r, s) for r, s in zip(raw, shown, strict=True))
    return shown


def _is_blocks(value: Any) -> bool:
    """A list of content blocks, as a tool returns text with images."""
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(item, BaseContentBlock) for item in value)
    )


def _block(original: Any, shown: Any) -> Any:
    """A masked block as its own block type."""
    if isinstance(shown, BaseContentBlock):
        return shown
    if isinstance(shown, Mapping) and isinstance(original, BaseContentBlock):
        try:
            return type(original).model_validate(dict(shown))
        except ValidationError as exc:
            log.warning("a masked %s did not validate: %s", type(original).__name__, exc)
    # Never the original: the masked text, as text.
    text = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False, default=str)
    return TextBlock(text=text)
