"""State transitions of a request, shared by the broker and the async watcher.

Each runs inside a write transaction and pairs the conditional status update with its audit row.
"""

from __future__ import annotations

from typing import Any

from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import Store, StoreTx
from guardrails_plugin.store.records import ApprovalRequest, Status

__all__ = ["decide", "execution_refusal", "expire", "expire_in"]

_EVENTS = {
    Status.APPROVED: Event.APPROVED,
    Status.DENIED: Event.DENIED,
    Status.EXPIRED: Event.EXPIRED,
    Status.CANCELLED: Event.CANCELLED,
}


def decide(
    tx: StoreTx,
    request: ApprovalRequest,
    status: Status,
    now: float,
    *,
    by: str,
    reason: str | None,
    execute_by: float | None = None,
    data: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """Move a pending request to ``status``; the first decision wins, later ones change nothing.

    An approval's audit row carries everything the execution claim needs to prove it (see
    `proof.prove_approval`): the tool, the hash it binds, the revision, the quorum and the
    execution window. The claim trusts that keyed row, never the request's columns.
    """
    proof: dict[str, Any] = {}
    if status is Status.APPROVED:
        proof = {
            "bound_hash": request.current_hash,
            "revision": request.revision,
            "quorum": request.quorum,
            "execute_by": execute_by,
        }
    changes: dict[str, Any] = {
        "status": status,
        "decided_at": now,
        "decided_by": by,
        "decision_reason": reason,
    }
    if execute_by is not None:
        changes["execute_by"] = execute_by
    if tx.update_request(request.id, Status.PENDING, **changes):
        tx.append_audit(
            _EVENTS[status],
            request_id=request.id,
            actor=by,
            data={
                "tool": request.tool,
                "rule_id": request.rule_id,
                "reason": reason,
                **(data or {}),
                **proof,
            },
        )
    current = tx.get_request(request.id)
    assert current is not None
    return current


def expire_in(tx: StoreTx, request: ApprovalRequest, now: float) -> ApprovalRequest | None:
    """Record expiry if the request is pending and past ``expires_at``; else None.

    Expiry is computed from the stored expiry time, so a clock moving backwards never revives
    an expired request and a decided one is never expired.
    """
    if request.status is not Status.PENDING or now < request.expires_at:
        return None
    return decide(
        tx,
        request,
        Status.EXPIRED,
        now,
        by="system",
        reason="no decision before expiry",
        data={"expires_at": request.expires_at},
    )


def expire(store: Store, request_id: str, now: float) -> ApprovalRequest | None:
    with store.transaction() as tx:
        request = tx.get_request(request_id)
        if request is None:
            return None
        return expire_in(tx, request, now)


def execution_refusal(request: ApprovalRequest | None, tool: str, now: float) -> str | None:
    """Why an execution may not proceed (before the arguments are compared), or None."""
    if request is None:
        return "no such approval request"
    if request.status is not Status.APPROVED:
        return f"the request is {request.status.value}, not approved"
    if request.tool != tool:
        return f"it approved tool {request.tool!r}, not {tool!r}"
    if request.executed_at is not None:
        return "the approved call already ran once"
    if request.execute_by is not None and now > request.execute_by:
        return "the approval's execution window has closed"
    return None
