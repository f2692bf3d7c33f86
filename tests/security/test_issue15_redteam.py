"""Red-team findings against issue 15 (the PostgreSQL store, its role layout and `db migrate`).

Threat model: a compromised agent host logged in with the ``guardrails_agent`` role and holding
the audit key (every PostgreSQL host needs it to open the store); a colleague reading logs; a
crafted SQLite file handed to `db migrate`. Each test states the promise it holds and fails on
the code as landed (the xfail markers went with the fixes). Report:
docs/reports/issue15-redteam.md. Real server (the session's throw-away cluster), real roles,
real SQL; no mocks of our code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import GuardError, StoreError, ToolDenied
from guardrails_plugin.store import Event, Status, open_store
from guardrails_plugin.store.keys import call_key
from guardrails_plugin.store.postgres import PostgresStore
from guardrails_plugin.store.postgres_roles import apply_roles
from guardrails_plugin.store.postgres_schema import TAKE_WRITE_LOCK, WRITE_LOCK
from guardrails_plugin.store.rows import request_row
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.store.transfer import copy_store

from ..helpers import AGENT, KEY, make_request

pytestmark = pytest.mark.timeout(120)

RESTART = {"service": "api"}
PASSWORD = "hunter2hunter2"


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
def roles(pg_url, pg_cluster, store):
    """Login roles for an agent host and a reviewer host on this test's database (as in
    tests/store/test_postgres_roles.py)."""
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
    s = PostgresStore(roles["reviewer"], key=KEY, clock=clock, create=False, busy_timeout=1.0)
    yield ApprovalBroker(s, policy, clock=clock)
    s.close()


def _forge_approval(agent: ApprovalBroker, request_id: str, args_hash: str) -> None:
    """Keyed rows an agent host can write with the key it holds: a vote and an approval."""
    agent.store.record_events(
        [
            (
                Event.VOTE_RECORDED,
                request_id,
                "bob",
                {"person": "bob", "verdict": "approve", "revision": 0},
            ),
            (
                Event.APPROVED,
                request_id,
                "bob",
                {
                    "tool": "restart",
                    "bound_hash": args_hash,
                    "revision": 0,
                    "quorum": 1,
                    "approved_by": ["bob"],
                    "execute_by": agent.clock.now() + 600,
                },
            ),
        ]
    )


# --- F1: INSERT of a request that is already approved ------------------------------------------


def test_an_agent_role_cannot_insert_an_approved_request_for_another_hosts_call(agent, roles):
    """Issue 15: "a compromised agent host must not be able to approve its own request";
    docs/security.md: only the reviewer role can set the status an approved call needs. The
    agent role can INSERT, so it plants an approved request under the idempotency key of a
    call an honest agent host is about to make (the key is a keyed hash the agent can compute),
    and that host then runs the call with no human involved."""
    honest = agent  # a second agent host: same role, same key, honest code
    args_hash = agent.store.keyed_hash(dict(RESTART))
    key = call_key(
        agent.store.keyed_hash,
        agent=AGENT.agent,
        on_behalf_of=AGENT.on_behalf_of,
        run_id="run-1",
        call_id="call-next",
        tool="restart",
        args_hash=args_hash,
    )
    # A template with honest terms (a real pending request), copied as an approved row.
    template = make_request(agent, "restart", RESTART, call_id="template")
    now = agent.clock.now()
    forged = dataclasses.replace(
        template,
        id="req_planted",
        idempotency_key=key,
        status=Status.APPROVED,
        decided_at=now,
        decided_by="cli:bob",
        execute_by=now + 600,
    )
    row = request_row(forged)
    with psycopg.connect(roles["agent"], autocommit=True) as conn:
        try:
            conn.execute(
                f"INSERT INTO requests ({', '.join(sorted(row))}) "
                f"VALUES ({', '.join(['%s'] * len(row))})",
                [row[n] for n in sorted(row)],
            )
        except psycopg.errors.InsufficientPrivilege:
            return  # refused: the promise holds
    agent.store.record_event(
        Event.REQUEST_CREATED,
        request_id="req_planted",
        actor=AGENT.agent,
        data={"tool": "restart", "args_hmac": args_hash, "call_key": key, "terms": forged.terms()},
    )
    _forge_approval(agent, "req_planted", args_hash)
    found = make_request(honest, "restart", RESTART, call_id="call-next")
    with pytest.raises(ToolDenied):  # today: the claim passes and the tool runs
        honest.claim_execution(found.id, "restart", RESTART)
    assert found.status is Status.PENDING, "the honest host got an approval no reviewer gave"


def test_an_approved_status_without_votes_in_the_votes_table_grants_no_execution(
    agent, roles, pg_url
):
    """F1, second barrier: the status column is not the only thing between a key holder and a
    run. Even if a request's status becomes approved by some path around the role guard (the
    owner's login here) and the agent host writes the keyed vote and approval rows, the claim
    needs the approve votes in the ``votes`` table, which only the reviewer role can write."""
    request = make_request(agent, "restart", RESTART)
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute(
            "UPDATE requests SET status = 'approved', decided_by = 'cli:bob', decided_at = 1, "
            "execute_by = %s WHERE id = %s",
            (agent.clock.now() + 600, request.id),
        )
    _forge_approval(agent, request.id, request.args_hash)
    with pytest.raises(ToolDenied, match="votes table"):
        agent.claim_execution(request.id, "restart", RESTART)


# --- F2: search_path shadowing of pg_has_role in the role guard ---------------------------------


def test_the_role_guard_cannot_be_shadowed_through_a_writable_public_schema(agent, roles, pg_url):
    """The role guard must decide by the catalog's pg_has_role whatever the session's search
    path holds. Databases created on PostgreSQL <= 14 (and clusters pg_upgrade'd from one) keep
    ``CREATE`` on schema public for PUBLIC; `db roles` neither revokes it nor pins the guard's
    search path, so the agent role defines ``public.pg_has_role(name, text, text)``, which
    PostgreSQL prefers for the guard's unknown-typed literals, and sets its request approved."""
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")  # what <= 14 does by default
    apply_roles(pg_url)  # the operator runs `db roles` again: it should close this
    request = make_request(agent, "restart", RESTART)
    with psycopg.connect(roles["agent"], autocommit=True) as conn:
        try:
            conn.execute(
                "CREATE FUNCTION public.pg_has_role(name, text, text) RETURNS boolean "
                "LANGUAGE sql AS 'SELECT true'"
            )
        except psycopg.errors.InsufficientPrivilege:
            return  # the schema is closed to the agent: holds
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "UPDATE requests SET status = 'approved', decided_by = 'cli:bob' WHERE id = %s",
                (request.id,),
            )
    assert agent.get(request.id).status is Status.PENDING


def test_db_roles_refuses_when_a_host_login_can_still_create_beside_the_tables(
    roles, pg_url, pg_cluster
):
    """F2: `db roles` takes CREATE on public from PUBLIC and both groups, and refuses, naming
    the login and the schema, when a member still has it through a grant of its own."""
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute("GRANT CREATE ON SCHEMA public TO agent_host")
    try:
        with pytest.raises(StoreError, match="agent_host in schema public"):
            apply_roles(pg_url)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as owner:
            owner.execute("REVOKE CREATE ON SCHEMA public FROM agent_host")
    apply_roles(pg_url)


# --- F3: re-run of another host's approved call -------------------------------------------------


def test_an_agent_host_cannot_release_another_hosts_execution_claim(
    agent, reviewer, policy, roles, clock
):
    """P5/P22: an approved call runs at most once; `release_execution` says "only this process,
    which saw the suspension, can release". A second agent host (same role, same key) calls it
    on a request it never claimed, and the first host's replay of the call runs again."""
    request = make_request(agent, "restart", RESTART)
    reviewer.vote(request.id, "cli:bob", "approve", revision=0)
    agent.claim_execution(request.id, "restart", RESTART)  # host A runs it
    other = open_store(roles["agent"], key=KEY, clock=clock, create=False)
    try:
        ApprovalBroker(other, policy, clock=clock).release_execution(
            request.id, "restart", "suspended"
        )
    except GuardError:
        pass
    finally:
        other.close()
    with pytest.raises(ToolDenied, match="already ran"):
        agent.claim_execution(request.id, "restart", RESTART)  # host A's replay


def test_a_release_written_by_hand_does_not_give_another_hosts_claim_back(agent, reviewer, roles):
    """F3 without the broker: another agent-role login writes a keyed ``tool.suspended`` row
    (any token it likes) and sets ``executed_at`` back to NULL. The claimer's replay is still
    refused: only the token whose hash the claim recorded gives the claim back, and it never
    left the claimer's memory."""
    request = make_request(agent, "restart", RESTART)
    reviewer.vote(request.id, "cli:bob", "approve", revision=0)
    agent.claim_execution(request.id, "restart", RESTART)
    agent.store.record_event(
        Event.TOOL_SUSPENDED,
        request_id=request.id,
        actor=AGENT.agent,
        data={"tool": "restart", "why": "suspended", "release": "guessed"},
    )
    with psycopg.connect(roles["agent"], autocommit=True) as conn:
        conn.execute("UPDATE requests SET executed_at = NULL WHERE id = %s", (request.id,))
    with pytest.raises(ToolDenied, match="already ran"):
        agent.claim_execution(request.id, "restart", RESTART)


def test_the_claimer_still_gives_its_own_claim_back(agent, reviewer):
    """The suspension path keeps working: the broker that claimed releases, and the replay
    runs once more (and only once)."""
    request = make_request(agent, "restart", RESTART)
    reviewer.vote(request.id, "cli:bob", "approve", revision=0)
    agent.claim_execution(request.id, "restart", RESTART)
    assert agent.release_execution(request.id, "restart", "suspended")
    agent.claim_execution(request.id, "restart", RESTART)
    with pytest.raises(ToolDenied, match="already ran"):
        agent.claim_execution(request.id, "restart", RESTART)


# --- F4: audit rows at any sequence number ------------------------------------------------------


def test_one_audit_row_from_the_agent_role_cannot_stop_every_decision(agent, reviewer, roles):
    """Availability of the decision path: the agent role may append audit rows, but not at a
    sequence number of its choosing. A row at seq 2^63-1 (allowed today) becomes the head; every
    later append computes 2^63 and fails, for every role, and the append-only trigger keeps the
    row: no reviewer can decide anything until the owner disables the trigger by hand."""
    request = make_request(agent, "restart", RESTART)
    # A refusal of the INSERT is a fine fix too.
    with (
        psycopg.connect(roles["agent"], autocommit=True) as conn,
        contextlib.suppress(psycopg.Error),
    ):
        conn.execute(
            "INSERT INTO audit (seq, ts, event, data, prev_hash, hash) "
            "VALUES (9223372036854775807, 0, 'x', '{}', 'x', 'x')"
        )
    assert reviewer.vote(request.id, "cli:bob", "approve", revision=0).counted


# --- F5: the write lock is an advisory lock anyone can hold -------------------------------------


def test_an_agent_role_session_cannot_hold_the_write_lock_forever(agent, reviewer, roles):
    """ "A client stopped mid-transaction while it holds the write lock is cut off by the
    server" holds for our own clients, which set the timeout themselves. A hostile agent-role
    session takes the lock with ``pg_advisory_lock`` (session level, outside any transaction)
    and keeps it: every vote fails closed (a deny) for as long as it likes."""
    request = make_request(agent, "restart", RESTART)
    with psycopg.connect(roles["agent"], autocommit=True) as hog:
        hog.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
        result = reviewer.vote(request.id, "cli:bob", "approve", revision=0)
        assert result.counted


def test_a_host_login_idle_inside_a_write_is_cut_off_by_its_role_setting(
    agent, reviewer, roles, pg_url
):
    """F5: `db roles` sets idle_in_transaction_session_timeout on every host login, so a
    session that takes the write lock and then stops is cut off by the server even when the
    client never set the timeout itself (a session that SETs it back is the operator's
    watchdog's job: docs/operations.md)."""
    apply_roles(pg_url, idle_timeout="1s")  # the logins exist now; 30s by default
    request = make_request(agent, "restart", RESTART)
    hog = psycopg.connect(roles["agent"])
    hog.execute(TAKE_WRITE_LOCK)  # a transaction, left open; votes fail closed meanwhile
    deadline = time.monotonic() + 30
    while True:
        try:
            assert reviewer.vote(request.id, "cli:bob", "approve", revision=0).counted
            break
        except StoreError:
            assert time.monotonic() < deadline, "the idle session was never cut off"
    with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
        hog.execute("SELECT 1")
    hog.close()
    apply_roles(pg_url)


# --- F6: passwords in psycopg_pool's own log lines ----------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://agent:{PASSWORD}%zz@/guardrails?host=/nonexistent",
        f"postgresql://agent:{PASSWORD}@[::1/guardrails",
        f"postgresql://agent@/guardrails?host=/nonexistent&password={PASSWORD}%zz",
    ],
)
def test_a_malformed_url_does_not_log_its_password(url, caplog):
    """Issue 15: "credentials never appear in logs". A typo in the password's percent-encoding
    (or a missing bracket) puts the password into a WARNING of the psycopg.pool logger, three
    times, which an application's root handler ships wherever its logs go."""
    caplog.set_level(logging.WARNING)
    with pytest.raises(GuardError) as raised:
        PostgresStore(url, key=KEY, busy_timeout=0.5)
    assert PASSWORD not in str(raised.value)
    assert PASSWORD not in caplog.text


# --- F7: db migrate copies tables that contradict the chain -------------------------------------


def test_migrate_refuses_a_source_whose_tables_contradict_its_audit_log(
    tmp_path: Path, pg_url, policy, clock
):
    """`db migrate` verifies "the chain on both sides". Someone who can write the SQLite file
    (not the key) drops its triggers, sets a pending request approved and adds a vote: the chain
    still verifies, so the forged rows move to PostgreSQL unremarked, where the roles would have
    kept them out. The migration should refuse (or at least name) what `audit verify`'s
    cross-check reports."""
    path = tmp_path / "old.db"
    old = SQLiteStore(path, key=KEY, clock=clock)
    request = make_request(ApprovalBroker(old, policy, clock=clock), "restart", RESTART)
    old.close()
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute(
        "UPDATE requests SET status = 'approved', decided_by = 'cli:bob', decided_at = 1 "
        "WHERE id = ?",
        (request.id,),
    )
    conn.execute(
        "INSERT INTO votes (request_id, revision, person, identity, channel, verdict, "
        "created_at) VALUES (?, 0, 'bob', 'cli:bob', 'cli', 'approve', 1)",
        (request.id,),
    )
    conn.commit()
    conn.close()
    source = SQLiteStore(path, key=KEY, clock=clock, create=False)
    target = PostgresStore(pg_url, key=KEY, clock=clock)
    try:
        with pytest.raises(StoreError):
            copy_store(source, target)
    finally:
        target.close()
        source.close()


# --- F8: the reviewer role has more than it needs -----------------------------------------------


def test_a_reviewer_role_cannot_plant_requests_or_rewrite_a_decided_one(agent, reviewer, roles):
    """Least privilege for the reviewer side: it votes, decides pending requests and applies
    edits to pending ones. It does not create requests, and nothing it does legitimately
    rewrites the terms (approvers, quorum, bound hash) or the execution record of a request
    that is already decided; a compromised Slack-app host should not be able to either."""
    request = make_request(agent, "restart", RESTART)
    reviewer.vote(request.id, "cli:bob", "approve", revision=0)
    row = request_row(dataclasses.replace(request, id="req_by_reviewer", idempotency_key=None))
    refused = 0
    with psycopg.connect(roles["reviewer"], autocommit=True) as conn:
        for sql, params in (
            (
                f"INSERT INTO requests ({', '.join(sorted(row))}) "
                f"VALUES ({', '.join(['%s'] * len(row))})",
                [row[n] for n in sorted(row)],
            ),
            ("UPDATE requests SET quorum = 5, approvers = '{}' WHERE id = %s", [request.id]),
            ("UPDATE requests SET current_hash = 'x' WHERE id = %s", [request.id]),
            ("UPDATE requests SET executed_at = 1 WHERE id = %s", [request.id]),
        ):
            try:
                conn.execute(sql, params)
            except psycopg.errors.InsufficientPrivilege:
                refused += 1
    assert refused == 4
