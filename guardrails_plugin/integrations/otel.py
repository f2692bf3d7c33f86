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
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from guardrails_plugin.flow import Outcome
from guardrails_plugin.store.records import ApprovalRequest, Vote
from guardrails_plugin.types import Decision

__all__ = ["ATTRIBUTES", "SPAN_NAME", "OpenTelemetryObserver"]

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
        self.span.end()

    def _rule(self) -> dict[str, str]:
        return {"guardrails.rule_id": self.rule_id} if self.rule_id else {}
