"""Issue 11 #6: an edit could move a call onto a stricter rule without its approvers.

Edits were re-checked only for `deny`: an oncall reviewer edited `restart cache` into
`restart prod-db` (a rule needing two DBAs) and it ran on her approval alone. An edit is now
re-evaluated in full; a different require_approval rule takes the request over (approvers,
quorum, expiry; votes so far stop counting), and the approval binds to what that rule's
approvers saw. Covers P20.
"""

from __future__ import annotations

import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import ApprovalError, NotAnApprover
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event, Status
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.testing import FrozenClock
from guardrails_plugin.types import Principal, ToolCall

from ..helpers import KEY

POLICY = """
version: 1
defaults: {effect: deny}
people:
  olga: [cli:olga]
  dan: [cli:dan]
  dina: [cli:dina]
  rita: [cli:rita]
groups:
  oncall: [olga]
  dba: [dan, dina]
rules:
  - id: restart-prod-db
    match: {tool: restart, args: {service: prod-db}}
    effect: require_approval
    reason: Restarting the production database needs two DBAs.
    approval: {approvers: [dba], quorum: 2, timeout: 30m}
  - id: restart-billing
    match: {tool: restart, args: {service: billing}}
    effect: require_approval
    reason: Billing restarts are explained.
    approval: {approvers: [oncall], require_reason: true}
  - id: notify
    match: {tool: notify}
    effect: require_approval
    approval: {approvers: [oncall], allow_edit: true}
    masking: {classes: {CREDIT_CARD: block}}
  - id: restart-cache-quietly
    match: {tool: restart, args: {service: cache, quiet: true}}
    effect: allow
  - id: restart
    match: {tool: restart}
    effect: require_approval
    reason: Restarts need oncall.
    approval: {approvers: [oncall], allow_edit: true, timeout: 5m}
"""


@pytest.fixture
def broker(tmp_path):
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    yield ApprovalBroker(
        store,
        Policy.from_string(POLICY),
        clock=FrozenClock(1_000_000.0),
        scan=Masker(ner=False).scan,
    )
    store.close()


def restart_cache(broker: ApprovalBroker):
    call = ToolCall(
        "restart", {"service": "cache"}, "c1", "run-1", Principal("agent:ops", "cli:rita")
    )
    return broker.request(call, broker.policy.evaluate(call), masked_args=dict(call.args))


def test_an_edit_onto_a_stricter_rule_needs_that_rules_approvers(broker):
    request = restart_cache(broker)
    assert request.rule_id == "restart" and request.quorum == 1
    result = broker.vote(
        request.id, "cli:olga", "approve", edited_args={"service": "prod-db"}, revision=0
    )
    edited = result.request
    assert edited.status is Status.PENDING  # olga's approval alone no longer decides
    assert edited.rule_id == "restart-prod-db" and edited.quorum == 2
    assert set(edited.approvers) == {"dan", "dina"}
    assert edited.expires_at == 1_000_000.0 + 30 * 60
    assert "needs 2 approval(s) from dan, dina" in result.message
    with pytest.raises(NotAnApprover):
        broker.vote(request.id, "cli:olga", "approve", revision=1)
    broker.vote(request.id, "cli:dan", "approve", revision=1)
    done = broker.vote(request.id, "cli:dina", "approve", revision=1).request
    assert done.status is Status.APPROVED
    claimed = broker.claim_execution(request.id, "restart", {"service": "prod-db"})
    assert claimed.executed_at is not None
    [edit_row] = [r for r in broker.store.audit_rows() if r.event == Event.REQUEST_EDITED]
    assert edit_row.data["rule_changed"] is True
    assert edit_row.data["re_evaluated"]["rule_id"] == "restart-prod-db"


def test_an_edit_onto_an_allow_rule_keeps_the_current_approval(broker):
    request = restart_cache(broker)
    result = broker.vote(
        request.id,
        "cli:olga",
        "approve",
        edited_args={"service": "cache", "quiet": True},
        revision=0,
    )
    assert result.request.rule_id == "restart" and result.request.status is Status.APPROVED


def test_an_edit_onto_a_rule_that_requires_a_reason_needs_one(broker):
    """Red-team F9: the takeover skipped the new rule's require_reason."""
    request = restart_cache(broker)
    with pytest.raises(ApprovalError, match="requires a reason"):
        broker.vote(
            request.id, "cli:olga", "approve", edited_args={"service": "billing"}, revision=0
        )
    assert broker.get(request.id).revision == 0  # the refused edit changed nothing
    done = broker.vote(
        request.id,
        "cli:olga",
        "approve",
        reason="billing is stuck",
        edited_args={"service": "billing"},
        revision=0,
    ).request
    assert done.status is Status.APPROVED and done.rule_id == "restart-billing"


def test_an_edit_cannot_add_data_the_rule_blocks(broker):
    """Red-team F6: an approver's edit could add a card (literal or placeholder) that the
    rule's `block` strategy refuses in the model's own calls."""
    call = ToolCall("notify", {"text": "hi"}, "n1", "run-1", Principal("agent:ops", "cli:rita"))
    request = broker.request(call, broker.policy.evaluate(call), masked_args=dict(call.args))
    for text in ("card <CREDIT_CARD_1>", "card 4111 1111 1111 1111"):
        with pytest.raises(ApprovalError, match="CREDIT_CARD data, which rule 'notify' blocks"):
            broker.vote(request.id, "cli:olga", "approve", edited_args={"text": text}, revision=0)
    assert broker.get(request.id).status is Status.PENDING
