"""PostgreSQL across processes: waiters woken by NOTIFY (with a slow poll as safety net), outbox
claims that skip locked rows, and one audit chain under many appenders, one killed by SIGKILL
(RELIABILITY P6, P22, P25, P27, P34)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time

import psycopg
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.store import Status, open_store
from guardrails_plugin.store.postgres import PostgresStore

from ..approvals.test_processes import REPO, spawn
from ..helpers import KEY, make_request


@pytest.fixture
def backend() -> str:
    return "postgres"


def _vote_later(url: str, policy, request_id: str, delay: float) -> threading.Thread:
    def vote() -> None:
        time.sleep(delay)
        other = open_store(url, key=KEY)
        ApprovalBroker(other, policy).vote(request_id, "cli:bob", "approve", revision=0)
        other.close()

    thread = threading.Thread(target=vote)
    thread.start()
    return thread


def test_a_waiter_wakes_on_notify_not_on_a_poll(pg_url, policy):
    """The safety poll is 30 s here: only the NOTIFY can wake the waiter this fast."""
    store = PostgresStore(pg_url, key=KEY, safety_interval=30.0)
    broker = ApprovalBroker(store, policy)  # the system clock: waits block on the feed
    request = make_request(broker, "restart", {"service": "api"})
    voter = _vote_later(pg_url, policy, request.id, 0.2)
    started = time.monotonic()
    assert broker.wait(request.id).status is Status.APPROVED
    assert time.monotonic() - started < 5.0
    voter.join()
    store.close()


def test_async_waiters_wake_on_notify(pg_url, policy):
    store = PostgresStore(pg_url, key=KEY, safety_interval=30.0)
    broker = ApprovalBroker(store, policy, max_pending_per_principal=100)
    requests = [make_request(broker, "restart", {"n": i}, call_id=f"c{i}") for i in range(20)]

    async def main() -> list[Status]:
        waits = [asyncio.ensure_future(broker.wait_async(r.id)) for r in requests]
        await asyncio.sleep(0.05)
        voters = [_vote_later(pg_url, policy, r.id, 0.0) for r in requests]
        done = await asyncio.wait_for(asyncio.gather(*waits), timeout=10)
        for v in voters:
            v.join()
        return [r.status for r in done]

    assert asyncio.run(main()) == [Status.APPROVED] * 20
    store.close()


def test_a_dead_change_feed_degrades_to_the_safety_poll(pg_url, policy):
    """Review of issue 15: the safety bump came from the listener thread itself, and a waiter
    waited on the feed until the request's expiry. With the thread gone, an approval given
    at once was seen only at expiry (here: the wait deadline, an ApprovalTimeout)."""
    store = PostgresStore(pg_url, key=KEY, safety_interval=0.3)
    broker = ApprovalBroker(store, policy)
    request = make_request(broker, "restart", {"service": "api"})
    store.changes.token()  # the listener thread is running
    store.changes._stop.set()  # ...and then it is gone
    store.changes._thread.join(10)
    voter = _vote_later(pg_url, policy, request.id, 0.2)
    started = time.monotonic()
    assert broker.wait(request.id, deadline=time.time() + 10).status is Status.APPROVED
    assert time.monotonic() - started < 5.0
    voter.join()
    store.close()


def test_the_safety_poll_wakes_a_waiter_when_no_notify_comes(pg_url, policy):
    store = PostgresStore(pg_url, key=KEY, safety_interval=0.5)
    broker = ApprovalBroker(store, policy)
    request = make_request(broker, "restart", {"service": "api"})
    with psycopg.connect(pg_url, autocommit=True) as conn:  # a lost NOTIFY, simulated
        conn.execute("ALTER TABLE requests DISABLE TRIGGER requests_changed")
        conn.execute("ALTER TABLE votes DISABLE TRIGGER votes_changed")
    voter = _vote_later(pg_url, policy, request.id, 0.1)
    started = time.monotonic()
    assert broker.wait(request.id).status is Status.APPROVED
    assert time.monotonic() - started < 3.0
    voter.join()
    store.close()


def test_an_outbox_claim_skips_a_row_another_instance_is_claiming(store, broker):
    request = make_request(broker, "restart", {"service": "api"})
    now = store.clock.now()
    with psycopg.connect(store.url) as other:  # instance B, mid-claim: holds the row lock
        other.execute("SELECT 1 FROM requests WHERE id = %s FOR UPDATE", (request.id,))
        started = time.monotonic()
        assert store.claim_notification(request.id, "slack", "A", now) is False
        assert time.monotonic() - started < 1.0  # skipped, not queued behind B
        other.rollback()
    assert store.claim_notification(request.id, "slack", "A", now) is True
    assert store.claim_notification(request.id, "slack", "B", now) is False


def test_the_audit_chain_stays_one_chain_under_concurrent_appenders_and_kill_9(pg_url, store):
    """Six processes append at once; one is killed mid-run. Every acknowledged row is there,
    sequence numbers have no gap or duplicate, and the chain verifies."""
    env = {**os.environ, "GUARDRAILS_AUDIT_KEY": KEY.hex(), "PYTHONPATH": str(REPO)}
    # The victim would append for ever: it is killed mid-run once it has committed some rows,
    # however fast the machine (a victim of 400 rows could finish before a timed kill).
    counts = ["1000000"] + ["400"] * 5
    children = [spawn(env, "append", pg_url, f"p{i}", n) for i, n in enumerate(counts)]
    for child in children:
        assert json.loads(child.stdout.readline()) == {"ready": True}
    victim = children[0]
    acknowledged = [json.loads(victim.stdout.readline())["seq"] for _ in range(20)]
    victim.send_signal(signal.SIGKILL)
    for child in children:
        out, _err = child.communicate(timeout=120)
        acknowledged += [json.loads(line)["seq"] for line in out.splitlines() if "seq" in line]
    assert victim.returncode == -signal.SIGKILL
    assert all(c.returncode == 0 for c in children[1:])
    rows = list(store.audit_rows())
    seqs = [r.seq for r in rows]
    assert seqs == list(range(1, len(rows) + 1))  # one chain: no gap, no fork
    assert set(acknowledged) <= set(seqs)  # nothing acknowledged was lost
    assert len(rows) >= 5 * 400
    assert store.verify_audit().ok
