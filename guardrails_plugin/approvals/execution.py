"""Binding an approval to the call that runs: one execution, same tool, same arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guardrails_plugin.approvals import lifecycle
from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import Store
from guardrails_plugin.store.records import ApprovalRequest, Status

__all__ = ["claim_execution"]


def claim_execution(
    store: Store, now: float, request_id: str, tool: str, args: Mapping[str, Any]
) -> ApprovalRequest:
    """See `ApprovalBroker.claim_execution`."""
    refusal: ToolDenied | None = None
    with store.transaction() as tx:
        request = tx.get_request(request_id)
        why = lifecycle.execution_refusal(request, tool, now)
        if why is None and request is not None:
            try:
                digest = store.keyed_hash(dict(args))
            except (ValueError, TypeError, RecursionError):
                digest = ""
            if digest != request.current_hash:
                why = "the arguments differ from the ones approved"
        if why is None and request is not None:
            if not tx.update_request(request_id, Status.APPROVED, executed_at=now):
                why = "the request is no longer approved"
            else:
                tx.append_audit(
                    Event.TOOL_EXECUTING,
                    request_id=request_id,
                    actor=request.principal,
                    data={"tool": tool, "args_hmac": request.current_hash},
                )
                updated = tx.get_request(request_id)
                assert updated is not None
                return updated
        refusal = ToolDenied(f"Denied: approval {request_id} does not allow this call: {why}.")
        tx.append_audit(
            Event.EXECUTION_REFUSED,
            request_id=request_id if request else None,
            actor=request.principal if request else None,
            data={"tool": tool, "why": why},
        )
    raise refusal
