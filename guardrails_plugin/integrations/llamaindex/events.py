"""Workflow events a guarded tool streams while it waits for a human decision.

An app that streams events (``async for ev in handler.stream_events()``) can show "waiting for
approval in Slack" on `ApprovalRequiredEvent` and the outcome on `ApprovalDecidedEvent`. They
inform only: the decision is always read from the store, never from an event.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.workflow import Event
from pydantic import Field

from guardrails_plugin.store.records import ApprovalRequest

__all__ = ["ApprovalDecidedEvent", "ApprovalRequiredEvent"]


class ApprovalRequiredEvent(Event):
    request_id: str
    tool: str
    args: dict[str, Any]
    rule_id: str | None = None
    reason: str = ""
    approvers: list[str] = Field(default_factory=list)
    expires_at: float = 0.0

    @classmethod
    def of(cls, request: ApprovalRequest) -> ApprovalRequiredEvent:
        return cls(
            request_id=request.id,
            tool=request.tool,
            args=dict(request.masked_args),
            rule_id=request.rule_id,
            reason=request.reason,
            approvers=sorted(request.approvers),
            expires_at=request.expires_at,
        )


class ApprovalDecidedEvent(Event):
    request_id: str
    status: str
    decided_by: str | None = None
    reason: str | None = None
