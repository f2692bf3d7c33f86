"""Issue 11 #14: idempotency keys were global.

Requests were looked up by tool-call id alone, so another run or agent reusing `call_1` inherited
the earlier decision (a re-run script got "already ran once", or the previous denial). The key is
now scoped to (principal, run, call id) and bound to the tool and the keyed hash of the arguments;
a replay of the same call in the same run (a LangGraph resume) still finds its request. Covers P24.
"""

from __future__ import annotations

import sqlite3

import pytest

from guardrails_plugin import Guard, Masker
from guardrails_plugin.errors import ApprovalError
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Status
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall

from ..helpers import AGENT, KEY, POLICY

ARGS = {"service": "api"}


def request(broker, *, run="run-1", principal=AGENT, args=ARGS, call_id="call_1", tool="restart"):
    call = ToolCall(tool, args, call_id=call_id, run_id=run, principal=principal)
    return broker.request(call, broker.policy.evaluate(call), masked_args=dict(args))


@pytest.fixture
def guard(tmp_path):
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    g = Guard(Policy.from_string(POLICY), store, principal="agent:bot", masker=Masker(ner=False))
    yield g
    store.close()


def vote_with(guard: Guard, verdict: str):
    def wait(step):
        guard.broker.vote(
            step.request.id, "cli:bob", verdict, reason="scripted", revision=step.request.revision
        )
        return guard.broker.get(step.request.id)

    return wait


def test_a_second_run_reusing_a_call_id_gets_its_own_decision(guard):
    """Issue 11 #14: a re-run reusing `call_1` got the previous run's denial..."""
    ran: list[dict] = []
    first = guard.call(
        "restart",
        ARGS,
        ran.append,
        call_id="call_1",
        run=guard.run("r1"),
        wait=vote_with(guard, "deny"),
    )
    assert not first.allowed
    second = guard.call(
        "restart",
        ARGS,
        ran.append,
        call_id="call_1",
        run=guard.run("r2"),
        wait=vote_with(guard, "approve"),
    )
    assert second.allowed and ran == [ARGS]
    assert second.request_id != first.request_id


def test_a_second_run_after_an_execution_is_not_told_it_already_ran(guard):
    """Issue 11 #14: ...or "the approved call already ran once"."""
    ran: list[dict] = []
    for run in ("r1", "r2"):
        outcome = guard.call(
            "restart",
            ARGS,
            ran.append,
            call_id="call_1",
            run=guard.run(run),
            wait=vote_with(guard, "approve"),
        )
        assert outcome.allowed, outcome.message
    assert ran == [ARGS, ARGS]


def test_another_agent_reusing_a_call_id_gets_its_own_request(broker):
    mine = request(broker)
    broker.vote(mine.id, "cli:bob", "approve", revision=0)
    theirs = request(broker, principal=Principal("agent:other-bot", "slack:UDAVE"))
    assert theirs.id != mine.id and theirs.status is Status.PENDING
    for_someone_else = request(broker, principal=Principal(AGENT.agent, "slack:UCAROL"))
    assert for_someone_else.id not in (mine.id, theirs.id)


def test_a_replay_in_the_same_run_finds_its_request(broker):
    first = request(broker)
    assert request(broker).id == first.id  # LangGraph resume: same run, call id and arguments


def test_other_arguments_under_the_same_call_id_are_a_new_request(broker):
    first = request(broker)
    broker.vote(first.id, "cli:bob", "approve", revision=0)
    other = request(broker, args={"service": "prod-db"})
    assert other.id != first.id and other.status is Status.PENDING
    assert request(broker, tool="export_table", args={"table": "t"}).id not in (first.id, other.id)


def test_the_stored_key_is_a_keyed_hash(broker, store):
    made = request(broker, call_id="call_secret_name")
    assert made.idempotency_key.startswith("hmac-sha256:")
    assert "call_secret_name" not in made.idempotency_key
    with sqlite3.connect(store.path) as conn:
        keys = [r[0] for r in conn.execute("SELECT idempotency_key FROM requests")]
    assert keys == [made.idempotency_key]


def test_a_key_moved_onto_another_request_is_refused(broker, store):
    """An attacker with the file points this call's key at another (approved) request."""
    approved = request(broker, run="run-2")
    broker.vote(approved.id, "cli:bob", "approve", revision=0)
    mine = request(broker)
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("UPDATE requests SET idempotency_key = NULL WHERE id = ?", (mine.id,))
    conn.execute(
        "UPDATE requests SET idempotency_key = ? WHERE id = ?", (mine.idempotency_key, approved.id)
    )
    with pytest.raises(ApprovalError, match="does not match the audit log"):
        request(broker)
