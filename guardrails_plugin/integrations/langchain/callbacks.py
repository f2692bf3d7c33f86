"""A callback handler for apps that can only add ``config={"callbacks": [...]}``.

What a callback can and cannot do in LangChain: it sees each tool start with a copy of the
arguments and can stop the call by raising (``raise_error = True``), but LangChain ignores its
return values. So this handler audits every tool start, end and error and enforces ``deny`` and
``require_approval`` (it waits for the decision, then lets the call through or raises); it
cannot mask arguments or outputs, and a denial aborts the agent run with `ToolDenied` instead of
reaching the model as a message. Nor can it see the tool's schema: it checks the arguments as
the model wrote them, before the tool's validation converts them (``"yes"`` for a bool), so
rules on converted values hold only under `guard_tools` or `GuardMiddleware`. Use those.

It is a synchronous handler on purpose: LangChain swallows errors of async handlers on the sync
path (``invoke``) and for sync-only tools under ``ainvoke``, which would fail open. A sync
handler runs, and raises, on every path.
"""

from __future__ import annotations

import ast
import json
import logging
import threading
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.guard import Guard, RunContext
from guardrails_plugin.store.events import Event

__all__ = ["GuardCallbackHandler"]

log = logging.getLogger(__name__)


class GuardCallbackHandler(BaseCallbackHandler):
    """Audit and block tool calls from a callback. Cannot mask: see the module docstring."""

    raise_error = True
    run_inline = True

    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self.guard = guard
        self._runs: dict[UUID, tuple[str, RunContext, str | None]] = {}
        self._lock = threading.Lock()

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = str(kwargs.get("name") or serialized.get("name") or "unknown_tool")
        args = inputs if inputs is not None else _parse(input_str)
        thread = (metadata or {}).get("thread_id")
        run = self.guard.run(f"thread:{thread}" if thread is not None else None)
        outcome = self.guard.authorize(
            name, args, call_id=kwargs.get("tool_call_id") or str(run_id), run=run
        )
        if not outcome.allowed:
            raise ToolDenied(outcome.message, outcome.decision)
        with self._lock:
            self._runs[run_id] = (name, run, outcome.request_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, Event.TOOL_EXECUTED, output)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, Event.TOOL_FAILED, f"{type(error).__name__}: {error}")

    def _finish(self, run_id: UUID, event: str, payload: Any) -> None:
        with self._lock:
            started = self._runs.pop(run_id, None)
        if started is None:
            return
        name, run, request_id = started
        try:
            found = sorted({f.data_class for f in self.guard.masker.scan(_plain(payload))})
            data: dict[str, Any] = {"tool": name, "output_classes": found, "via": "callback"}
            if event == Event.TOOL_FAILED:
                data["error"] = self.guard.masker.mask(str(payload)).value
            self.guard.audit(event, run=run, data=data, request_id=request_id, durable=False)
        except Exception as exc:  # noqa: BLE001 - the tool already ran; never break the host
            log.error("guard callback could not audit %s of %r: %s", event, name, exc)


def _parse(input_str: str) -> dict[str, Any]:
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(input_str)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, dict):
            return value
    return {"input": input_str}


def _plain(output: Any) -> Any:
    content = getattr(output, "content", None)
    return content if content is not None else output
