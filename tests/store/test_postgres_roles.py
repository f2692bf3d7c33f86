"""The role layout: an agent's database role cannot vote, approve, or rewrite what is decided
(RELIABILITY P3, P29; issue 15 "least privilege in the database")."""

from __future__ import annotations

import psycopg
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import StoreError, ToolDenied
from guardrails_plugin.store import Status, open_store
from guardrails_plugin.store.postgres_roles import apply_roles

from ..helpers import KEY, make_request

RESTART = {"service": "api"}


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
def roles(pg_url, pg_cluster, store):
    """Login roles for one agent host and one reviewer host, on this test's database."""
    apply_roles(pg_url)
    db = pg_url.split("/")[3].split("?")[0]
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        for login, group in (
            ("agent_host", "guardrails_agent"),
            ("slack_app", "guardrails_reviewer"),
        ):
            conn.execute(
                f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') "
                f"THEN CREATE ROLE {login} LOGIN IN ROLE {group}; END IF; END $$"
            )
    return {
        "agent": pg_cluster.url(db, user="agent_host"),
        "reviewer": pg_cluster.url(db, user="slack_app"),
    }


@pytest.fixture
def agent(roles, policy, clock):
    s = open_store(roles["agent"], key=KEY, clock=clock, create=False)
    yield ApprovalBroker(s, policy, clock=clock)
    s.close()


@pytest.fixture
def reviewer(roles, policy, clock):
    s = open_store(roles["reviewer"], key=KEY, clock=clock, create=False)
    yield ApprovalBroker(s, policy, clock=clock)
    s.close()


def test_agents_request_reviewers_decide_agents_run(agent, reviewer):
    request = make_request(agent, "restart", RESTART)
    reviewer.vote(request.id, "cli:bob", "approve", revision=0)
    assert agent.claim_execution(request.id, "restart", RESTART).status is Status.APPROVED
    assert agent.store.verify_audit().ok


def test_an_agent_role_cannot_vote(agent):
    request = make_request(agent, "restart", RESTART)
    with pytest.raises(StoreError, match="permission denied for table votes"):
        agent.vote(request.id, "cli:bob", "approve", revision=0)
    assert agent.get(request.id).status is Status.PENDING


def test_an_agent_role_cannot_approve_its_own_request_in_sql(agent, roles):
    request = make_request(agent, "restart", RESTART)
    with psycopg.connect(roles["agent"], autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only reviewers decide"):
            conn.execute("UPDATE requests SET status = 'approved' WHERE id = %s", (request.id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE requests SET quorum = 0, approvers = '{}'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO votes (request_id, revision, person, identity, channel, verdict, "
                "created_at) VALUES (%s, 0, 'bob', 'cli:bob', 'cli', 'approve', 0)",
                (request.id,),
            )
    with pytest.raises(ToolDenied):
        agent.claim_execution(request.id, "restart", RESTART)


def test_an_agent_role_cannot_change_decided_requests_votes_or_audit(agent, reviewer, roles):
    request = make_request(agent, "restart", RESTART)
    reviewer.vote(request.id, "cli:bob", "deny", reason="no")
    with psycopg.connect(roles["agent"], autocommit=True) as conn:
        for sql in (
            "UPDATE requests SET decided_by = 'cli:mallory'",
            "UPDATE requests SET executed_at = 1",  # a denied request never ran
            "UPDATE votes SET verdict = 'approve'",
            "DELETE FROM votes",
            "UPDATE audit SET actor = 'x'",
            "DELETE FROM audit",
            "TRUNCATE audit",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    assert agent.get(request.id).status is Status.DENIED


def test_an_agent_may_expire_and_cancel_its_own_pending_requests(agent, clock):
    first = make_request(agent, "restart", RESTART, call_id="a")
    agent.cancel(first.id, "agent:support-bot", reason="not needed")
    second = make_request(agent, "restart", RESTART, call_id="b")
    clock.advance(3600)
    assert agent.wait(second.id).status is Status.EXPIRED
    assert agent.get(first.id).status is Status.CANCELLED


def test_an_agent_holding_the_key_forges_audit_rows_that_verify_but_count_for_nothing(agent):
    """The honest limit of the role layout: an agent host holds the audit key (it must, to write
    keyed rows), so it can append a `request.approved` row and a vote row that the chain accepts.
    They grant nothing (the status and votes only reviewers can write say otherwise) and
    `audit verify`'s cross-check names the request (docs/security.md, section 3)."""
    from guardrails_plugin.approvals.proof import RequestChecker
    from guardrails_plugin.store import Event

    request = make_request(agent, "restart", RESTART)
    agent.store.record_events(
        [
            (Event.VOTE_RECORDED, request.id, "bob", {"verdict": "approve", "revision": 0}),
            (Event.APPROVED, request.id, "bob", {"tool": "restart"}),
        ]
    )
    checker = RequestChecker()
    assert agent.store.verify_audit(observe=checker.observe).ok  # the chain alone cannot tell
    with pytest.raises(ToolDenied, match="pending, not approved"):
        agent.claim_execution(request.id, "restart", RESTART)
    problems = checker.problems(agent.store.iter_requests(), agent.store.iter_votes())
    assert (request.id, "status is pending but the audit log shows it approved") in problems


def test_an_agent_can_deny_service_by_marking_an_approved_call_as_run(agent, reviewer, roles):
    """What the agent role may still write to a decided request, `executed_at`, can refuse
    another agent's approved call (never allow one): denial of service, stated in the docs."""
    request = make_request(agent, "restart", RESTART)
    reviewer.vote(request.id, "cli:bob", "approve", revision=0)
    with psycopg.connect(roles["agent"], autocommit=True) as conn:
        conn.execute("UPDATE requests SET executed_at = 1 WHERE id = %s", (request.id,))
    with pytest.raises(ToolDenied, match="already ran once"):
        agent.claim_execution(request.id, "restart", RESTART)


def test_a_reviewer_role_can_approve_an_edit(agent, reviewer):
    """An edit rewrites the request's terms (edited arguments, data classes, and the rule's
    settings when the edit lands on another rule): the reviewer role must be allowed those
    columns, or every edit under the role layout fails and the reviewer cannot approve one."""
    plan = {"plan": "a", "workspace": "prod"}
    request = make_request(agent, "terraform_apply", plan)
    edited = {"plan": "b", "workspace": "prod"}
    result = reviewer.vote(
        request.id, "cli:bob", "approve", reason="smaller plan", revision=0, edited_args=edited
    )
    assert result.request.status is Status.APPROVED and result.request.revision == 1
    assert agent.claim_execution(request.id, "terraform_apply", edited).status is Status.APPROVED
    assert agent.store.verify_audit().ok
