"""A failing tool under the guard fails as it would without it, masked.

Without the guard, LangChain answers a ``ToolException`` with the tool's ``handle_tool_error``
(``True``: the exception's message; a string; a callable's content; ``False``: the exception
propagates), and any other exception propagates out of ``tool.invoke`` (LangGraph's ``ToolNode``
then fails the run, unless its own ``handle_tool_errors`` says otherwise). The guard keeps all of
that; what it changes is what the text holds:

- an answer (the handler's content, or an error ``ToolMessage`` a framework made) is returned to
  the guard as a `ToolErrorAnswer`, so it is masked and audited as a failed call, and reaches
  the model as an error message;
- an exception is audited (masked) and raised again as a copy of its own type that carries only
  the masked message: neither its attributes nor its traceback (whose frames hold the raw values,
  which error reporters such as Sentry collect) are kept. A type that cannot be rebuilt from a
  message alone becomes a ``RuntimeError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.tools import ToolException

__all__ = [
    "Raised",
    "ToolErrorAnswer",
    "error_text",
    "handled_content",
    "masked_copy",
    "without_prefix",
]


class ToolErrorAnswer(Exception):
    """The tool answered with an error. Returned to the guard, not raised: the call ran."""


class Raised:
    """What the tool raised, if anything (the guard keeps only its masked text)."""

    def __init__(self) -> None:
        self.error: BaseException | None = None

    def run(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            self.error = exc
            raise

    def take(self) -> BaseException:
        """The exception, forgotten here: a traceback through this object must not reach it."""
        error, self.error = self.error, None
        assert error is not None
        return error

    async def arun(self, fn: Callable[[], Any]) -> Any:
        try:
            return await fn()
        except Exception as exc:
            self.error = exc
            raise


def handled_content(exc: ToolException, flag: Any) -> Any:
    """The tool's answer to its own ``ToolException``, as langchain_core's
    ``_handle_tool_error`` gives it (``flag`` is truthy)."""
    if isinstance(flag, bool):
        return exc.args[0] if exc.args else "Tool execution error"
    if isinstance(flag, str):
        return flag
    if callable(flag):
        return flag(exc)
    raise ValueError(
        f"handle_tool_error must be a bool, a string or a callable, got {type(flag).__name__}"
    )


def error_text(content: Any) -> str:
    """An error answer as text: content blocks (an MCP error, a handler's list) by their text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif isinstance(block, dict):
                parts.append(f"[{block.get('type', 'non-text')} block]")
            else:
                parts.append(str(block))
        return "\n".join(parts)
    return str(content)


def without_prefix(message: str, kind: type[BaseException]) -> str:
    """The masked text of a failed outcome, without the ``Type: `` the guard puts in front."""
    return message.removeprefix(f"{kind.__name__}: ")


def masked_copy(exc: BaseException, message: str) -> BaseException:
    """``exc`` again, holding only ``message`` (the guard's masked text of it); raise it
    ``from None``."""
    kind = type(exc)
    text = without_prefix(message, kind)
    try:
        copy = kind.__new__(kind)
        copy.args = (text,)
        if str(copy) == text:
            return copy
    except Exception:  # noqa: BLE001 - a type that needs more than a message: below
        pass
    return RuntimeError(f"{kind.__name__}: {text}")
