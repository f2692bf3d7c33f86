"""An optional audit trail of LLM and tool spans, from LlamaIndex's instrumentation.

Off by default: ``install_audit_handler(guard)`` adds it to the root dispatcher. It records
which LLM and tool calls a run made and how long they took, never their arguments or
outputs (the guarded tool records those, masked). Instrumentation cannot block anything, so
this is for the record only.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any

from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.llms.llm import LLM
from llama_index.core.tools import BaseTool
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.span.simple import SimpleSpan
from pydantic import PrivateAttr
from workflows.plugins.basic import get_current_run_id

from guardrails_plugin.guard import Guard

__all__ = ["AuditSpanHandler", "install_audit_handler"]

log = logging.getLogger(__name__)


class AuditSpanHandler(BaseSpanHandler[SimpleSpan]):
    _guard: Guard = PrivateAttr()

    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self._guard = guard

    @property
    def guard(self) -> Guard:
        return self._guard

    @classmethod
    def class_name(cls) -> str:
        return "GuardrailsAuditSpanHandler"

    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_span_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        if _kind(instance) is None:
            return None
        return SimpleSpan(id_=id_, parent_id=parent_span_id, tags={"t0": time.perf_counter()})

    def prepare_to_exit_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        return self._record(id_, instance, None)

    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        return self._record(id_, instance, err)

    def _record(self, id_: str, instance: Any, err: BaseException | None) -> SimpleSpan | None:
        kind = _kind(instance)
        with self.lock:
            span = self.open_spans.get(id_)
        if kind is None or span is None:
            return span
        started = span.tags.get("t0", time.perf_counter())
        data = {
            "span": id_.split("-")[0],
            "kind": kind,
            "name": getattr(getattr(instance, "metadata", None), "name", None)
            or type(instance).__name__,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if err is not None:
            data["error"] = type(err).__name__
        try:
            run = self.guard.run(f"llamaindex:{get_current_run_id() or 'default'}")
            self.guard.audit(f"span.{kind}", run=run, data=data, durable=False)
        except Exception as exc:  # noqa: BLE001 - observing must never break the host
            log.error("could not audit span %s: %s", id_, exc)
        return span


def _kind(instance: Any) -> str | None:
    if isinstance(instance, BaseTool):
        return "tool"
    if isinstance(instance, LLM):
        return "llm"
    return None


def install_audit_handler(guard: Guard) -> AuditSpanHandler:
    """Record LLM and tool spans of every LlamaIndex run in ``guard``'s audit log."""
    handler = AuditSpanHandler(guard)
    get_dispatcher().add_span_handler(handler)
    return handler
