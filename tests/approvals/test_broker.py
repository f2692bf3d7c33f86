"""The broker's rules: idempotent requests, separation of duties, quorum, edits, expiry, binding."""

from __future__ import annotations

import threading

import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import (
    AlreadyDecided,
    ApprovalError,
    ApprovalTimeout,
    NotAnApprover,
    RequestChanged,
    SelfApproval,
    ToolDenied,
)
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event, Status
from guardrails_plugin.types import Principal

from ..helpers import AGENT, POLICY, make_request


def events(store) -> list[str]:
    return [r.event for r in store.audit_rows()]


def test_request_is_pending_masked_and_idempotent_on_call_id(broker, store):
    first = make_request(broker)
    again = make_request(broker)
    assert first.id == again.id and first.status is Status.PENDING
    assert first.approvers.keys() == {"alice", "bob", "carol"} and first.quorum == 2
    assert first.args_hash.startswith("hmac-sha256:") and first.current_hash == first.args_hash
    assert events(store) == [Event.REQUEST_CREATED]


def test_a_call_id_reused_for_other_arguments_is_a_request_of_its_own(broker, store):
    first = make_request(broker)
    other = make_request(broker, args={"table": "payments"})  # never the first one's decision
    assert other.id != first.id and other.idempotency_key != first.idempotency_key
    assert events(store) == [Event.REQUEST_CREATED, Event.REQUEST_CREATED]


@pytest.mark.parametrize(
    "identity", ["slack:UALICE", "cli:alice", "email:alice@example.com", "agent:support-bot"]
)
def test_self_approval_is_refused_through_every_alias(broker, store, identity):
    request = make_request(broker)  # on behalf of slack:UALICE, who is in the dba group
    with pytest.raises(SelfApproval):
        broker.vote(request.id, identity, "approve", revision=0)
    assert broker.get(request.id).status is Status.PENDING
    assert events(store)[-1] == Event.VOTE_REFUSED


def test_the_agent_itself_is_refused_even_when_not_a_person(broker):
    request = make_request(broker, principal=Principal("agent:ops"))
    with pytest.raises(SelfApproval):
        broker.vote(request.id, "agent:ops", "approve", revision=0)


@pytest.mark.parametrize("identity", ["slack:UMAL", "cli:dave", "slack:UNKNOWN", "alice"])
def test_outsiders_are_refused(broker, identity):
    request = make_request(broker)
    with pytest.raises(NotAnApprover):
        broker.vote(request.id, identity, "approve", revision=0)


def test_quorum_two_needs_two_different_people(broker, store):
    request = make_request(broker, principal=Principal("agent:bot"))
    first = broker.vote(request.id, "slack:UBOB", "approve", revision=0)
    assert first.counted and not first.decided
    same_person = broker.vote(request.id, "cli:bob", "approve", channel="cli", revision=0)
    assert not same_person.counted and broker.get(request.id).status is Status.PENDING
    done = broker.vote(request.id, "cli:carol", "approve", revision=0)
    assert done.decided and done.request.status is Status.APPROVED
    assert done.request.decided_by == "bob,carol"
    assert events(store)[-1] == Event.APPROVED


def test_one_deny_decides(broker):
    request = make_request(broker, principal=Principal("agent:bot"))
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    result = broker.vote(request.id, "cli:carol", "deny", reason="not today")
    assert result.request.status is Status.DENIED
    assert result.request.decision_reason == "not today"


def test_decided_request_is_absorbing_and_double_click_is_harmless(broker, store):
    request = make_request(broker, "restart", {"service": "api"})
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    with pytest.raises(AlreadyDecided, match="already approved"):
        broker.vote(request.id, "cli:carol", "deny", reason="late")
    with pytest.raises(AlreadyDecided):
        broker.vote(request.id, "cli:bob", "approve", revision=0)
    assert broker.get(request.id).status is Status.APPROVED
    assert store.verify_audit().ok


def test_membership_is_checked_at_vote_time(store, clock, policy):
    request = make_request(ApprovalBroker(store, policy, clock=clock))
    revoked = Policy.from_string(POLICY.replace("dba: [alice, bob, carol]", "dba: [alice, bob]"))
    later = ApprovalBroker(store, revoked, clock=clock)
    with pytest.raises(NotAnApprover):
        later.vote(request.id, "cli:carol", "approve", revision=0)
    # Without a policy, the approvers recorded with the request decide.
    ApprovalBroker(store, None, clock=clock).vote(request.id, "cli:carol", "approve", revision=0)


def test_new_group_members_do_not_join_an_existing_request(store, clock, policy):
    request = make_request(ApprovalBroker(store, policy, clock=clock))
    grown = Policy.from_string(
        POLICY.replace("dba: [alice, bob, carol]", "dba: [alice, bob, carol, mallory]")
    )
    with pytest.raises(NotAnApprover):
        ApprovalBroker(store, grown, clock=clock).vote(
            request.id, "cli:mallory", "approve", revision=0
        )


def test_reason_required_where_the_rule_says(broker):
    request = make_request(broker, "terraform_apply", {"dir": "prod"})
    with pytest.raises(ApprovalError, match="requires a reason"):
        broker.vote(request.id, "cli:bob", "approve", revision=0)
    assert (
        broker.vote(request.id, "cli:bob", "approve", reason="ok", revision=0).request.status
        is Status.APPROVED
    )


def test_edit_is_re_evaluated_recorded_and_bound(broker, store):
    request = make_request(broker, "terraform_apply", {"dir": "prod", "vars": {"n": 3}})
    with pytest.raises(ApprovalError, match="denied by policy rule 'no-destroy'"):
        broker.vote(
            request.id,
            "cli:bob",
            "approve",
            reason="x",
            edited_args={"dir": "prod", "destroy": True},
            revision=0,
        )
    result = broker.vote(
        request.id,
        "cli:bob",
        "approve",
        reason="smaller",
        edited_args={"dir": "prod", "vars": {"n": 1}},
        revision=0,
    )
    approved = result.request
    assert approved.status is Status.APPROVED and approved.revision == 1
    assert approved.edited_args == {"dir": "prod", "vars": {"n": 1}}
    assert approved.current_hash != approved.args_hash
    edited = next(r for r in store.audit_rows() if r.event == Event.REQUEST_EDITED)
    assert edited.data["previous_hash"] == approved.args_hash
    with pytest.raises(ToolDenied, match="differ from the ones approved"):
        broker.claim_execution(request.id, "terraform_apply", {"dir": "prod", "vars": {"n": 3}})
    ran = broker.claim_execution(request.id, "terraform_apply", {"dir": "prod", "vars": {"n": 1}})
    assert ran.executed_at is not None


def test_stale_vote_after_an_edit_is_refused(store, clock, policy):
    text = POLICY.replace(
        "approval: {approvers: [dba], allow_edit: true, require_reason: true}",
        "approval: {approvers: [dba], quorum: 2, allow_edit: true}",
    )
    broker = ApprovalBroker(store, Policy.from_string(text), clock=clock)
    request = make_request(
        broker, "terraform_apply", {"dir": "prod"}, principal=Principal("agent:bot")
    )
    broker.vote(request.id, "cli:bob", "approve", edited_args={"dir": "staging"}, revision=0)
    with pytest.raises(RequestChanged, match="review it again"):
        broker.vote(request.id, "cli:carol", "approve", revision=0)
    # An approval of the old revision does not count toward the new one.
    assert (
        broker.vote(request.id, "cli:alice", "approve", revision=1).request.status
        is Status.APPROVED
    )


def test_edits_refused_where_not_allowed(broker):
    request = make_request(broker)
    with pytest.raises(ApprovalError, match="does not allow edits"):
        broker.vote(request.id, "cli:bob", "approve", edited_args={"table": "x"}, revision=0)


def test_expiry_with_a_frozen_clock(broker, clock, store):
    request = make_request(broker)
    clock.advance(15 * 60 - 1)
    broker.vote(request.id, "cli:bob", "approve", revision=0)  # in time
    clock.advance(2)
    with pytest.raises(AlreadyDecided, match="already expired"):
        broker.vote(request.id, "cli:carol", "approve", revision=0)
    assert broker.get(request.id).status is Status.EXPIRED
    assert [e for e in events(store) if e == Event.EXPIRED] == [Event.EXPIRED]


def test_wait_returns_expired_once_time_passes(broker, clock):
    request = make_request(broker)
    clock.advance(16 * 60)
    assert broker.wait(request.id).status is Status.EXPIRED


def test_a_backward_clock_never_revives_an_expired_request(broker, clock):
    request = make_request(broker)
    clock.advance(3600)
    broker.expire_due()
    clock.advance(-7200)
    with pytest.raises(AlreadyDecided):
        broker.vote(request.id, "cli:bob", "approve", revision=0)


def test_wait_deadline_leaves_the_request_pending(broker, clock):
    request = make_request(broker)
    with pytest.raises(ApprovalTimeout) as info:
        broker.wait(request.id, deadline=clock.now() + 1)
    assert info.value.request_id == request.id
    assert broker.get(request.id).status is Status.PENDING


def test_wait_wakes_when_another_thread_votes(store, policy, store_url):
    from guardrails_plugin.store.factory import open_store

    from ..helpers import KEY

    waiter = ApprovalBroker(store, policy)
    request = make_request(waiter, "restart", {"service": "api"})

    def vote() -> None:
        other = open_store(store_url, key=KEY)
        ApprovalBroker(other, policy).vote(request.id, "cli:bob", "approve", revision=0)
        other.close()

    threading.Timer(0.05, vote).start()
    assert waiter.wait(request.id).status is Status.APPROVED


def test_a_restarted_process_resumes_waiting_on_the_same_request(store_url, policy, clock):
    from guardrails_plugin.store.factory import open_store

    from ..helpers import KEY

    first = open_store(store_url, key=KEY, clock=clock)
    request = make_request(ApprovalBroker(first, policy, clock=clock))
    first.close()
    reopened = open_store(store_url, key=KEY, clock=clock)
    broker = ApprovalBroker(reopened, policy, clock=clock)
    assert make_request(broker).id == request.id  # the replayed step finds it
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    broker.vote(request.id, "cli:carol", "approve", revision=0)
    assert broker.wait(request.id).status is Status.APPROVED


# --- binding the approval to the call (RELIABILITY P2) -----------------------------------------


@pytest.fixture
def approved(broker):
    request = make_request(broker, "restart", {"service": "api", "force": False})
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    return request


def test_execution_needs_the_exact_arguments(broker, approved):
    with pytest.raises(ToolDenied, match="differ"):
        broker.claim_execution(approved.id, "restart", {"service": "api", "force": True})
    with pytest.raises(ToolDenied, match="differ"):
        broker.claim_execution(approved.id, "restart", {"service": "api", "force": 0})
    assert broker.claim_execution(approved.id, "restart", {"force": False, "service": "api"})


def test_execution_needs_the_same_tool(broker, approved):
    with pytest.raises(ToolDenied, match="approved tool 'restart'"):
        broker.claim_execution(approved.id, "restart_all", {"service": "api", "force": False})


def test_an_approval_runs_at_most_once(broker, approved):
    args = {"service": "api", "force": False}
    broker.claim_execution(approved.id, "restart", args)
    with pytest.raises(ToolDenied, match="already ran once"):
        broker.claim_execution(approved.id, "restart", args)


def test_an_approval_of_another_request_does_not_carry_over(broker, approved):
    other = make_request(broker, "restart", {"service": "db", "force": False}, call_id="call-2")
    with pytest.raises(ToolDenied, match="pending, not approved"):
        broker.claim_execution(other.id, "restart", {"service": "db", "force": False})
    with pytest.raises(ToolDenied, match="no such approval"):
        broker.claim_execution("req_forged", "restart", {"service": "api", "force": False})


def test_execution_window_closes(broker, approved, clock):
    clock.advance(broker.execution_window + 1)
    with pytest.raises(ToolDenied, match="window has closed"):
        broker.claim_execution(approved.id, "restart", {"service": "api", "force": False})


def test_pending_requests_are_capped_per_principal(store, policy, clock):
    broker = ApprovalBroker(store, policy, clock=clock, max_pending_per_principal=3)
    for i in range(3):
        make_request(broker, call_id=f"c{i}", args={"table": f"t{i}"})
    with pytest.raises(ApprovalError, match="already has 3 pending"):
        make_request(broker, call_id="c4", args={"table": "t4"})


def test_unknown_request_vote_is_refused_and_audited(broker, store):
    with pytest.raises(ApprovalError, match="no approval request"):
        broker.vote("req_nope", "cli:bob", "approve", revision=0)
    assert events(store) == [Event.VOTE_REFUSED]


def test_cancel(broker):
    request = make_request(broker)
    assert broker.cancel(request.id, "agent:support-bot", "run ended").status is Status.CANCELLED


def test_arguments_that_cannot_be_recorded_are_refused(broker):
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ApprovalError, match="cannot be recorded"):
        make_request(broker, args=loop)


def test_principal_defaults(broker):
    request = make_request(broker, principal=AGENT)
    assert set(request.requester_identities) == {
        "agent:support-bot",
        "slack:UALICE",
        "cli:alice",
        "email:alice@example.com",
    }
