"""Several processes on one store (SQLite file or PostgreSQL server): resume across processes,
racing voters, kill -9 (RELIABILITY P6, P22, P25)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event, Status
from guardrails_plugin.store.factory import open_store
from guardrails_plugin.types import Principal

from ..helpers import KEY, POLICY, make_request

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    return {**os.environ, "GUARDRAILS_AUDIT_KEY": KEY.hex(), "PYTHONPATH": str(REPO)}


@pytest.fixture
def setup(tmp_path, env, store_url):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    db = store_url
    store = open_store(db)
    broker = ApprovalBroker(store, Policy.load(policy_file), max_pending_per_principal=10_000)
    yield db, policy_file, broker
    store.close()


def spawn(env, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.approvals.procs", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_waiter_in_another_process_resumes_when_this_one_votes(setup, env):
    db, policy_file, broker = setup
    bot = Principal("agent:bot")
    ids = [
        make_request(broker, "restart", {"n": i}, call_id=f"c{i}", principal=bot).id
        for i in range(5)
    ]
    child = spawn(env, "wait", str(db), str(policy_file), *ids)
    assert json.loads(child.stdout.readline()) == {"ready": True}
    for i, request_id in enumerate(ids):
        time.sleep(0.02)
        broker.vote(request_id, "cli:bob", "approve" if i % 2 else "deny", reason="r", revision=0)
        line = json.loads(child.stdout.readline())
        assert line["id"] == request_id
        assert line["status"] == ("approved" if i % 2 else "denied")
    assert child.wait(timeout=30) == 0


def test_racing_voters_in_four_processes_give_exactly_one_outcome(setup, env, tmp_path):
    db, policy_file, broker = setup
    bot = Principal("agent:bot")
    ids = [
        make_request(broker, "restart", {"n": i}, call_id=f"r{i}", principal=bot).id
        for i in range(40)
    ]
    barrier = tmp_path / "go"
    voters = [
        ("cli:bob", "approve"),
        ("cli:carol", "deny"),
        ("cli:dave", "approve"),
        ("slack:UBOB", "deny"),
    ]
    children = [
        spawn(env, "race", str(db), str(policy_file), str(barrier), who, verdict, *ids)
        for who, verdict in voters
    ]
    time.sleep(0.5)
    barrier.touch()
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append([json.loads(line) for line in out.splitlines()])
    store = broker.store
    decisions = [r for r in store.audit_rows() if r.event in (Event.APPROVED, Event.DENIED)]
    for request_id in ids:
        request = store.get_request(request_id)
        assert request.status in (Status.APPROVED, Status.DENIED)
        mine = [d for d in decisions if d.request_id == request_id]
        assert len(mine) == 1, "exactly one decision per request"
        winners = [o for out in outputs for o in out if o["id"] == request_id and o.get("counted")]
        # Votes counted while pending: exactly the one that decided (quorum 1)...
        assert len(winners) == 1
        assert winners[0]["status"] == request.status.value
        # ...and everyone else heard it was already decided (or was the same person again).
        losers = [
            o for out in outputs for o in out if o["id"] == request_id and not o.get("counted")
        ]
        assert len(losers) == 3
    assert store.verify_audit().ok


def test_kill_9_in_the_middle_of_voting_leaves_the_database_consistent(setup, env):
    db, policy_file, broker = setup
    bot = Principal("agent:bot")
    rng = random.Random(7)
    for attempt in range(3):
        ids = [
            make_request(
                broker, "restart", {"n": i, "a": attempt}, call_id=f"k{attempt}-{i}", principal=bot
            ).id
            for i in range(400)
        ]
        child = spawn(env, "churn", str(db), str(policy_file), "cli:bob", *ids)
        assert json.loads(child.stdout.readline()) == {"ready": True}
        time.sleep(rng.uniform(0.05, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        check_consistent(db, broker.store, ids)


def check_consistent(db: str, store, ids: list[str]) -> None:
    if not hasattr(store, "url"):  # PostgreSQL has no integrity_check; its commits are atomic
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.verify_audit().ok
    audit = list(store.audit_rows())
    approved_events = {r.request_id for r in audit if r.event == Event.APPROVED}
    vote_events = {r.request_id for r in audit if r.event == Event.VOTE_RECORDED}
    decided = 0
    for request_id in ids:
        request = store.get_request(request_id)
        votes = store.votes(request_id)
        if request.status is Status.APPROVED:
            decided += 1
            # decided means: the vote, the status and both audit rows all committed together
            assert len(votes) == 1 and request_id in approved_events and request_id in vote_events
        else:
            assert request.status is Status.PENDING
            assert votes == [] and request_id not in approved_events
    assert 0 <= decided <= len(ids)
