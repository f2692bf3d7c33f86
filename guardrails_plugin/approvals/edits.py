"""Reviewer edits: re-evaluate the edited call in full and rebind the request.

An edit starts a new revision: approvals of the old arguments stop counting, and the approval
binds to the keyed hash of the edited arguments (in the masked form the reviewer saw). The
edited call goes through the policy again, as a new call would: a deny refuses the edit, and a
different require_approval rule takes the request over — its approvers, quorum, reason and edit
rules, and a fresh expiry — so an oncall edit cannot move `restart cache` onto `restart prod-db`
and run it on the oncall approval alone. An edit that lands on an allow rule keeps the current
rule's approval, and a step-up requirement (``authentication``) stays with the request whatever
rule takes it over: a reviewer's edit never lowers the bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from guardrails_plugin import sentences
from guardrails_plugin.errors import AlreadyDecided, ApprovalError, ReasonRequired
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import StoreTx
from guardrails_plugin.store.records import ApprovalRequest, Status
from guardrails_plugin.types import Decision, Effect, Principal, ToolCall

if TYPE_CHECKING:
    from guardrails_plugin.approvals.broker import ApprovalBroker

__all__ = ["apply_edit", "rule_name"]


def rule_name(request: ApprovalRequest) -> str:
    return sentences.rule_name(request.rule_id)


def apply_edit(
    broker: ApprovalBroker,
    tx: StoreTx,
    request: ApprovalRequest,
    identity: str,
    edited: Mapping[str, Any],
    now: float,
    reason: str | None = None,
) -> ApprovalRequest:
    """Re-check ``edited`` in full and make it the request's next revision. Everything that can
    refuse the edit is checked before anything is written (the caller's transaction records a
    refusal and commits)."""
    if not request.allow_edit:
        raise ApprovalError(f"{rule_name(request)} does not allow edits", request.id)
    if broker.policy is None:
        raise ApprovalError("edits need the policy to re-check them", request.id)
    if not isinstance(edited, Mapping):
        raise ApprovalError("edited arguments must be a JSON object", request.id)
    try:
        new_hash = broker.store.keyed_hash(dict(edited))
    except (ValueError, TypeError, RecursionError) as exc:
        raise ApprovalError(f"edited arguments cannot be recorded: {exc}", request.id) from None
    findings = list(broker.scan(edited)) if broker.scan else []
    call = ToolCall(
        request.tool,
        edited,
        principal=Principal(request.principal, request.on_behalf_of),
        environment=request.environment,
    )
    decision = broker.policy.evaluate(call, findings)
    if decision.effect is Effect.DENY:
        raise ApprovalError(
            f"the edited arguments are denied by policy rule '{decision.rule_id}': "
            f"{decision.reason}",
            request.id,
        )
    classes = sorted({f if isinstance(f, str) else f.data_class for f in findings})
    blocked = [c for c in classes if decision.masking.strategy_for(c) == "block"]
    if blocked:
        raise ApprovalError(
            f"the edited arguments contain {', '.join(blocked)} data, which "
            f"{sentences.rule_name(decision.rule_id)} blocks",
            request.id,
        )
    changes: dict[str, Any] = {
        "edited_args": dict(edited),
        "current_hash": new_hash,
        "revision": request.revision + 1,
        "data_classes": tuple(classes),
    }
    takeover = _takeover(request, decision, now)
    if takeover.get("require_reason") and not reason:
        raise ReasonRequired(
            f"the edit moves the request to {sentences.rule_name(decision.rule_id)}, which "
            "requires a reason",
            request.id,
        )
    changes.update(takeover)
    if not tx.update_request(request.id, Status.PENDING, **changes):
        raise AlreadyDecided(f"request {request.id} is no longer pending", request.id)
    updated = tx.get_request(request.id)
    assert updated is not None
    tx.append_audit(
        Event.REQUEST_EDITED,
        request_id=request.id,
        actor=identity,
        data={
            "revision": request.revision + 1,
            "previous_hash": request.current_hash,
            "edited_hash": new_hash,
            "masked_args": dict(broker.mask(edited)) if broker.mask else None,
            "re_evaluated": {"effect": decision.effect.value, "rule_id": decision.rule_id},
            "rule_changed": bool(takeover),
            "terms": updated.terms(),
        },
    )
    return updated


def _takeover(request: ApprovalRequest, decision: Decision, now: float) -> dict[str, Any]:
    """The request's new terms when the edited call falls under another approval rule."""
    approval = decision.approval
    if decision.effect is not Effect.REQUIRE_APPROVAL or approval is None:
        return {}
    if decision.rule_id == request.rule_id:
        return {}
    return {
        "rule_id": decision.rule_id,
        "reason": decision.reason,
        "approvers": {p: tuple(sorted(ids)) for p, ids in approval.identities.items()},
        "approver_sources": tuple(approval.sources),
        "quorum": approval.quorum,
        "require_reason": approval.require_reason,
        "allow_edit": approval.allow_edit,
        "expires_at": now + approval.timeout_seconds,
        # A stricter authentication sticks to the request: an edit made by a signed-in reviewer
        # must not move a step-up request to a rule that Slack or the CLI may approve alone.
        "authentication": approval.authentication or request.authentication,
    }
