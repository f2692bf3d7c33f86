"""Issue 12 #2: an approved call the framework suspends mid-way may run again on resume.

LangGraph stops a task at an ``interrupt()`` (the tool's own, or HumanInTheLoopMiddleware's
after the guard) and runs it again from the top on resume. The approval's one execution claim
was spent by the first run, so the resumed run was refused ("already ran once") and a tool that
asks the user something could never finish under an approval rule. The guard now gives the
claim back when the framework's control flow leaves the call (a keyed ``tool.suspended`` row);
a crash gives nothing back, and a forged release row re-opens nothing. Covers P24, P28.
"""

from __future__ import annotations

import json

import pytest

from guardrails_plugin.approvals.proof import RequestChecker
from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.store import Event

from ..helpers import make_request
from ..rawdb import raw

RESTART = {"service": "api", "force": False}


@pytest.fixture
def approved(broker):
    request = make_request(broker, "restart", RESTART)
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    return request


def problems(store) -> list[tuple[str, str]]:
    checker = RequestChecker()
    assert store.verify_audit(observe=checker.observe).ok
    return checker.problems(store.iter_requests(), store.iter_votes())


def test_a_released_claim_can_be_claimed_once_more(broker, store, approved):
    broker.claim_execution(approved.id, "restart", RESTART)
    assert broker.release_execution(approved.id, "restart", "suspended (GraphInterrupt)")
    assert store.get_request(approved.id).executed_at is None
    assert problems(store) == []
    broker.claim_execution(approved.id, "restart", RESTART)  # the resumed run
    with pytest.raises(ToolDenied, match="already ran once"):
        broker.claim_execution(approved.id, "restart", RESTART)
    assert problems(store) == []
    events = [r.event for r in store.audit_rows() if r.request_id == approved.id]
    assert events.count(Event.TOOL_EXECUTING) == 2 and events.count(Event.TOOL_SUSPENDED) == 1


def test_nothing_to_release_without_a_claim(broker, approved):
    assert not broker.release_execution(approved.id, "restart", "suspended")
    assert not broker.release_execution("req_missing", "restart", "suspended")


def test_a_release_with_the_wrong_token_writes_nothing(broker, store, approved):
    """Review of issue 15: a release with a token that is not the claim's returned True and
    wrote a release row and a cleared `executed_at` that gave nothing back (the replay was
    still refused): the columns and the chain disagreed and the caller was told a falsehood."""
    from guardrails_plugin.approvals.execution import release_execution

    broker.claim_execution(approved.id, "restart", RESTART)
    before = [r.event for r in store.audit_rows()]
    assert not release_execution(store, approved.id, "restart", "suspended", "not-the-token")
    assert [r.event for r in store.audit_rows()] == before
    assert store.get_request(approved.id).executed_at is not None


def test_a_forged_release_row_reopens_nothing(broker, store, approved):
    """Someone holding the file (not the key) writes a release row and clears executed_at."""
    broker.claim_execution(approved.id, "restart", RESTART)
    conn = raw(store)
    conn.execute(
        "DROP TRIGGER IF EXISTS requests_terminal" + (" ON requests" if conn.postgres else "")
    )
    head, prev = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    conn.execute(
        "INSERT INTO audit (seq, ts, event, request_id, actor, data, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            head + 1,
            store.clock.now(),
            Event.TOOL_SUSPENDED,
            approved.id,
            "agent:support-bot",
            json.dumps({"tool": "restart", "why": "forged"}),
            prev,
            "0" * 64,
        ),
    )
    conn.execute("UPDATE requests SET executed_at = NULL WHERE id = ?", (approved.id,))
    with pytest.raises(ToolDenied, match="already ran once"):
        broker.claim_execution(approved.id, "restart", RESTART)
