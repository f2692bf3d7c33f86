"""OpenTelemetry: every guarded call as a span, its votes and decisions as events, and metrics.

Installed with the ``otel`` extra; a `Guard` uses it by default when ``opentelemetry-api`` is
importable (`guardrails_plugin.observe.default_observers`). Spans and metrics go to the providers
the application configured (without one, OpenTelemetry's no-op providers drop them):

- span ``guardrails.tool_call``, a child of the current span (the framework's tool or agent
  span, where one is current), and itself current while the guard waits and the tool runs, so
  the tool's own spans nest under it. Attributes (`ATTRIBUTES`): tool, call and run ids, effect,
  rule id, approval request id, the data classes the masker found in the arguments (names such
  as ``EMAIL``, never values), wait time, outcome.
- events ``guardrails.decision`` (the policy's, then the reviewers') and ``guardrails.vote``
  (verdict, channel, revision of each vote; not who, not the reason they typed).
- metrics ``guardrails.decisions`` (counter, by effect and rule) and
  ``guardrails.approval.wait`` (histogram of seconds waited, by final status).

No argument or output value, masked or not, and no sentence written by a reviewer is ever
exported: a trace backend is one more place the data must not reach.

A span is ended off the call path: the call records its end time and hands the span to one
daemon thread that calls ``span.end()`` (`flush` waits for it). With a ``SimpleSpanProcessor``
the SDK exports inside ``end()``, so an exporter that hangs would otherwise hold the guarded call
(and, in the MCP gateway, the event loop of every session); now it holds only that thread, and
once `QUEUE_SIZE` spans wait, further spans are dropped (logged), never waited for. Use a
``BatchSpanProcessor`` in production all the same: it exports off the thread too and keeps up.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from guardrails_plugin.flow import Outcome
from guardrails_plugin.store.records import ApprovalRequest, Vote
from guardrails_plugin.types import Decision

__all__ = [
    "ATTRIBUTES",
    "QUEUE_SIZE",
    "SPAN_NAME",
    "OpenTelemetryObserver",
    "flush",
    "remote_parent",
]

log = logging.getLogger(__name__)

SPAN_NAME = "guardrails.tool_call"
SCOPE = "guardrails_plugin"
ATTRIBUTES = (
    "guardrails.tool",
    "guardrails.call_id",
    "guardrails.run_id",
    "guardrails.effect",
    "guardrails.rule_id",
    "guardrails.request_id",
    "guardrails.data_classes",
    "guardrails.wait_seconds",
    "guardrails.outcome",
)
# A tool name comes from the caller (an MCP client may send any string): bounded.
_MAX_NAME = 200


def _name(value: str | None) -> str:
    return (value or "")[:_MAX_NAME]


QUEUE_SIZE = 10_000  # spans waiting to be ended before new ones are dropped


class _Ender:
    """Ends spans on one daemon thread, so no exporter can hold a guarded call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue[tuple[Any, int]] = queue.Queue(QUEUE_SIZE)
        self._dropped = 0

    def submit(self, span: Any, end_time: int) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait((span, end_time))
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                log.warning(
                    "%d span(s) dropped: the span exporter is not keeping up (or hangs); a "
                    "BatchSpanProcessor exports without holding anything",
                    self._dropped,
                )

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            if self._pid is not None:  # a forked child: the parent's thread is not here
                self._queue = queue.Queue(QUEUE_SIZE)
            else:
                # Spans still queued at exit reach the processors (which the SDK shuts down
                # after this: atexit runs last-registered first), within a bound.
                atexit.register(self.flush, 2.0)
            threading.Thread(target=self._work, name="guardrails-span-ender", daemon=True).start()
            self._pid = os.getpid()

    def _work(self) -> None:
        spans = self._queue
        while True:
            span, end_time = spans.get()
            try:
                span.end(end_time=end_time)
            except Exception as exc:  # noqa: BLE001 - a span processor that raises loses a span
                log.warning("ending a span failed: %s", exc)
            finally:
                spans.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every span handed over so far has ended; False after ``timeout``."""
        spans = self._queue
        deadline = time.monotonic() + timeout
        with spans.all_tasks_done:
            while spans.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                spans.all_tasks_done.wait(left)
        return True


_ENDER = _Ender()


def flush(timeout: float = 5.0) -> bool:
    """Wait until the spans of finished calls have been ended (handed to the span processors,
    which export them, or batch them); False when ``timeout`` passed first."""
    return _ENDER.flush(timeout)


@contextlib.contextmanager
def remote_parent(carrier: Mapping[str, str]) -> Iterator[None]:
    """Make the W3C trace context in ``carrier`` (``traceparent``, ``tracestate``: what an MCP
    client sends in a request's ``_meta``) current, so a guarded call's span is its child. A
    malformed ``traceparent`` is ignored (the span has the current parent, or none)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    parent = TraceContextTextMapPropagator().extract(dict(carrier))
    token = otel_context.attach(parent)
    try:
        yield
    finally:
        otel_context.detach(token)


class OpenTelemetryObserver:
    """Spans and metrics for a Guard's calls (an `guardrails_plugin.observe.Observer`).

    ``tracer_provider`` / ``meter_provider``: the global ones by default (looked up through
    OpenTelemetry's proxies, so providers configured after the Guard was built are used)."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        from guardrails_plugin import __version__

        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.decisions = meter.create_counter(
            "guardrails.decisions",
            unit="{decision}",
            description="Guarded tool calls by the policy's effect",
        )
        self.waits = meter.create_histogram(
            "guardrails.approval.wait",
            unit="s",
            description="Time a guarded call waited for a human decision",
        )

    def start(self, tool: str, call_id: str | None, run_id: str) -> _SpanWatch:
        return _SpanWatch(self, tool, call_id, run_id)

    @staticmethod
    def flush(timeout: float = 5.0) -> bool:
        """`flush`: wait until the spans of finished calls reach the span processors."""
        return flush(timeout)


class _SpanWatch:
    """One call's span (see the module docstring)."""

    def __init__(
        self, observer: OpenTelemetryObserver, tool: str, call_id: str | None, run_id: str
    ) -> None:
        self.observer = observer
        attributes: dict[str, Any] = {"guardrails.tool": _name(tool), "guardrails.run_id": run_id}
        if call_id:
            attributes["guardrails.call_id"] = _name(call_id)
        # Parent: the current span, where one is current.
        self.span = observer.tracer.start_span(
            SPAN_NAME, kind=SpanKind.INTERNAL, attributes=attributes
        )
        self.effect = ""
        self.rule_id = ""
        self._token: object | None = None
        self._wait_started: float | None = None

    def enter(self) -> None:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def evaluated(self, decision: Decision, data_classes: Sequence[str]) -> None:
        self.effect, self.rule_id = decision.effect.value, decision.rule_id or ""
        self.span.set_attributes(
            {
                "guardrails.effect": self.effect,
                "guardrails.rule_id": self.rule_id,
                "guardrails.data_classes": list(data_classes),
            }
        )
        self.span.add_event(
            "guardrails.decision",
            {"guardrails.by": "policy", "guardrails.effect": self.effect, **self._rule()},
        )
        self.observer.decisions.add(1, {"guardrails.effect": self.effect, **self._rule()})

    def waiting(self, request: ApprovalRequest) -> None:
        self._wait_started = time.monotonic()
        self.span.set_attribute("guardrails.request_id", request.id)
        self.span.add_event(
            "guardrails.approval_requested",
            {"guardrails.request_id": request.id, "guardrails.quorum": request.quorum},
        )

    def decided(self, request: ApprovalRequest, votes: Sequence[Vote]) -> None:
        waited = 0.0
        if self._wait_started is not None:
            waited = time.monotonic() - self._wait_started
        for vote in votes:
            self.span.add_event(
                "guardrails.vote",
                {
                    "guardrails.verdict": vote.verdict.value,
                    "guardrails.channel": _name(vote.channel),
                    "guardrails.revision": vote.revision,
                },
            )
        self.span.add_event(
            "guardrails.decision",
            {
                "guardrails.by": "approval",
                "guardrails.status": request.status.value,
                "guardrails.request_id": request.id,
            },
        )
        self.span.set_attribute("guardrails.wait_seconds", round(waited, 6))
        self.observer.waits.record(
            waited, {"guardrails.status": request.status.value, **self._rule()}
        )

    def finished(self, outcome: Outcome) -> None:
        if outcome.allowed:
            label = "allowed"
        elif outcome.failed:
            label = "tool_error"
            self.span.set_status(Status(StatusCode.ERROR, "the tool raised"))
        else:
            label = "denied"
        self.span.set_attribute("guardrails.outcome", label)
        if outcome.request_id and not self._wait_started:
            self.span.set_attribute("guardrails.request_id", outcome.request_id)

    def interrupted(self, exc: BaseException) -> None:
        # The framework's control flow (an interrupt, a cancellation): its type, not its text.
        self.span.set_attribute("guardrails.outcome", "interrupted")
        self.span.add_event("guardrails.interrupted", {"exception.type": type(exc).__name__})

    def exit(self) -> None:
        if self._token is not None:
            try:
                otel_context.detach(self._token)  # type: ignore[arg-type]
            finally:
                self._token = None
        # The end time is the call's; the end itself (an export, with a SimpleSpanProcessor)
        # happens on the ender's thread.
        if self.span.is_recording():
            _ENDER.submit(self.span, time.time_ns())
        else:  # the API's no-op span: nothing to export, nothing to wait for
            self.span.end()

    def _rule(self) -> dict[str, str]:
        return {"guardrails.rule_id": self.rule_id} if self.rule_id else {}
