"""Binding an approval to the call that runs: one execution, same tool, same arguments.

The request's columns are only a first filter. The grant itself comes from the audit log: the
request's keyed ``request.approved`` row (its tool, the hash the approval was bound to, its
execution window) with a quorum of keyed votes behind it, and no ``tool.executing`` row yet (see
`proof.py`). A status, hash, window or ``executed_at`` written into the file by someone without
the store's key therefore grants nothing.

On PostgreSQL every host holds the key, so keyed rows prove nothing against a compromised agent
host. Two more checks hold there (issue 15 red team, F1 and F3): the approve votes the decision
names must be in the ``votes`` table, which only the reviewer role can write; and a claim is
given back only by whoever made it, which proves it with a random token that never left its
memory (the ``tool.executing`` row stores the token's SHA-256, the ``tool.suspended`` row the
token itself).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from guardrails_plugin.approvals import lifecycle
from guardrails_plugin.approvals.proof import NotProven, prove_approval
from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import Store, StoreTx
from guardrails_plugin.store.records import ApprovalRequest, Status, Verdict

__all__ = ["claim_execution", "release_execution"]


def _claim_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def claim_execution(
    store: Store, now: float, request_id: str, tool: str, args: Mapping[str, Any], token: str
) -> ApprovalRequest:
    """See `ApprovalBroker.claim_execution`. ``token`` is a fresh secret the caller keeps: only
    it can give this claim back (`release_execution`)."""
    refusal: ToolDenied | None = None
    with store.transaction() as tx:
        request = tx.get_request(request_id)
        why = lifecycle.execution_refusal(request, tool, now)
        if why is None and request is not None:
            why, bound = _chain_refusal(store, tx, request, tool, args, now)
        if why is None and request is not None:
            if not tx.update_request(request_id, Status.APPROVED, executed_at=now):
                why = "the request is no longer approved"
            else:
                tx.append_audit(
                    Event.TOOL_EXECUTING,
                    request_id=request_id,
                    actor=request.principal,
                    data={"tool": tool, "args_hmac": bound, "claim": _claim_hash(token)},
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


def release_execution(store: Store, request_id: str, tool: str, why: str, token: str) -> bool:
    """Give back the claim of a call the framework suspended before it finished: LangGraph
    stops a task at an ``interrupt()`` (the tool's own, or a middleware's after the guard) and
    runs it again from the top on resume, so the same approved call must be able to run again
    then. Only this process, which saw the suspension, can release (a crash leaves the claim
    held, so a replay after it is refused): the release is a keyed audit row carrying the
    claim's ``token``, and a claim counts as given back only when the token matches the hash
    its ``tool.executing`` row recorded. True if released.
    """
    with store.transaction() as tx:
        request = tx.get_request(request_id)
        if request is None or request.executed_at is None:
            return False
        claims = [r for r in tx.request_events(request_id) if r.event == Event.TOOL_EXECUTING]
        if not claims or claims[-1].data.get("claim") != _claim_hash(token):
            return False  # not this process's claim: giving it back would give nothing back
        if not tx.update_request(request_id, Status.APPROVED, executed_at=None):
            return False
        tx.append_audit(
            Event.TOOL_SUSPENDED,
            request_id=request_id,
            actor=request.principal,
            data={"tool": tool, "why": why, "release": token},
        )
    return True


def _chain_refusal(
    store: Store,
    tx: StoreTx,
    request: ApprovalRequest,
    tool: str,
    args: Mapping[str, Any],
    now: float,
) -> tuple[str | None, str]:
    """Why the audit log does not grant this execution (None: it does), and the bound hash."""
    events = tx.request_events(request.id)
    # Any such row, even one that is not authentic: refusing costs a re-request at worst. Only
    # an authentic release carrying the claim's token gives that claim back (a release written
    # by another host, or before claims carried a token, gives nothing back).
    released = {
        _claim_hash(r.data["release"])
        for r in events
        if r.event == Event.TOOL_SUSPENDED
        and isinstance(r.data.get("release"), str)
        and tx.authentic(r)
    }
    if any(r.event == Event.TOOL_EXECUTING and r.data.get("claim") not in released for r in events):
        return "the approved call already ran once", ""
    try:
        approval = prove_approval([r for r in events if tx.authentic(r)])
    except NotProven as exc:
        return f"its approval is not proven by the audit log ({exc})", ""
    # The decisive votes must be rows of the votes table too: on PostgreSQL only the reviewer
    # role can write them, while every host holds the key the audit rows are checked with.
    voted = {
        v.person
        for v in tx.votes(request.id)
        if v.verdict is Verdict.APPROVE and v.revision == approval.revision
    }
    if len(voted & approval.approvers) < approval.quorum:
        return "the votes table does not hold the approvals its audit log records", ""
    if approval.tool != tool:
        return f"it approved tool {approval.tool!r}, not {tool!r}", ""
    if approval.execute_by is None or now > approval.execute_by:
        return "the approval's execution window has closed", ""
    try:
        digest = store.keyed_hash(dict(args))
    except (ValueError, TypeError, RecursionError):
        digest = ""
    if digest != approval.bound_hash:
        return "the arguments differ from the ones approved", ""
    return None, approval.bound_hash
