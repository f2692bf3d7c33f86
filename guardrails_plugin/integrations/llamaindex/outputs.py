"""A LlamaIndex `ToolOutput` on its way through the guard, and back.

The guard masks what a tool returns before the model sees it. A `ToolOutput` carries it three
times: ``blocks`` (what the agent puts in the model's tool message), ``raw_output`` (what the
tool returned: a string, a `Response` of a `QueryEngineTool`, an MCP ``CallToolResult``, a list
of blocks) and ``raw_input`` (the arguments, with the real values the guard restored). All three
are masked, in one pass, with the run's vault.

Media blocks (images, audio, video, cache points) hold bytes the masker cannot read: the bytes
pass untouched and the block comes back in its place, so ``[TextBlock, ImageBlock]`` stays
``[TextBlock(masked), ImageBlock]``. (Whatever an image shows, the model sees it as with the
original tool: the guard reads text only.) The text they carry is masked like any text: a
block's ``url``, ``path`` and ``title``, and a document's content when it is text (any
``text/*`` type, or bytes that decode as UTF-8). A document that is not text (a PDF) is
withheld: the guard cannot read it, so it does not pass. Text-bearing blocks come back as their
own block types. ``raw_output`` comes back as the masker gives it (`Masker.mask`).
"""

from __future__ import annotations

import base64
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

__all__ = ["MEDIA", "CarriedOutput", "media_text", "with_media_text"]

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
            "blocks": [media_text(b) if isinstance(b, MEDIA) else b for b in self.blocks],
            "raw_output": _hold(output.raw_output),
            "raw_input": output.raw_input,
        }

    def rebuild(self, tool_name: str, masked: Mapping[str, Any]) -> ToolOutput:
        blocks = [
            with_media_text(block, shown) if isinstance(block, MEDIA) else _block(block, shown)
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
    """``raw`` with its media blocks (itself, or items of a list of blocks) as their text."""
    if isinstance(raw, MEDIA):
        return media_text(raw)
    if _is_blocks(raw):
        return type(raw)(media_text(item) if isinstance(item, MEDIA) else item for item in raw)
    return raw


def _unhold(raw: Any, shown: Any) -> Any:
    """The masked ``raw_output``: media back in place with their masked text, blocks as their
    own types."""
    if isinstance(raw, MEDIA):
        return with_media_text(raw, shown)
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


_MEDIA_TEXT = ("url", "path", "title")
WITHHELD = "[a document the guard cannot read (not text) was withheld]"


def media_text(block: Any) -> dict[str, Any]:
    """The text a media block carries, for the masker: its url, path and title, and a text
    document's content (``None`` for a document that is not text: it is withheld)."""
    found: dict[str, Any] = {
        name: str(value)
        for name in _MEDIA_TEXT
        if (value := getattr(block, name, None)) is not None
    }
    if isinstance(block, DocumentBlock) and (block.data is not None or block.path is not None):
        found["content"] = _document_text(block)
    return found


def with_media_text(block: Any, shown: Any) -> Any:
    """The media block with its masked text back in (the bytes of an image as they were), or,
    for a document that is not text, a text block saying it was withheld."""
    if not isinstance(shown, Mapping):
        return TextBlock(text=WITHHELD)
    if isinstance(block, DocumentBlock) and "content" in shown:
        content = shown.get("content")
        if not isinstance(content, str):
            return TextBlock(text=WITHHELD)
        block = block.model_copy(update={"data": base64.b64encode(content.encode()), "path": None})
    changes = {name: shown[name] for name in _MEDIA_TEXT if name in shown and name != "path"}
    if "path" in shown and shown["path"] != str(getattr(block, "path", None)):
        changes["path"] = None  # a masked path names no file: the data travels without it
    return block.model_copy(update=changes) if changes else block


def _document_text(block: DocumentBlock) -> str | None:
    try:
        raw = block.resolve_document().read()
    except Exception:  # noqa: BLE001 - unreadable: withheld
        return None
    mimetype = str(block.document_mimetype or "")
    if mimetype and not mimetype.startswith("text/") and mimetype != "application/json":
        return None  # a PDF, a spreadsheet...: bytes the masker cannot read
    try:
        return str(bytes(raw).decode("utf-8"))
    except UnicodeDecodeError:
        return None
