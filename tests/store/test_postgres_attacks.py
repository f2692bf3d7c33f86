"""The PostgreSQL store attacked from outside: a client that hangs holding the write lock, the
server restarting under waiters, passwords in malformed URLs, SQL in ids and tool names
(RELIABILITY P1, P25; issue 15)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import psycopg
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import GuardError, StoreError
from guardrails_plugin.store import Status, open_store
from guardrails_plugin.store.postgres import PostgresStore
from guardrails_plugin.store.postgres_schema import TAKE_WRITE_LOCK

from ..helpers import KEY, make_request

PASSWORD = "hunter2hunter2"


@pytest.fixture
def backend() -> str:
    return "postgres"


def test_a_client_hanging_inside_a_write_fails_the_others_closed_then_is_cut_off(pg_url, policy):
    """A host frozen while it holds the write lock makes every other write end with a
    StoreError after busy_timeout (a deny), never a hang; the server ends the frozen session."""
    store = PostgresStore(pg_url, key=KEY, busy_timeout=1.0)
    broker = ApprovalBroker(store, policy)
    request = make_request(broker, "restart", {"service": "api"})
    frozen = psycopg.connect(pg_url)
    frozen.execute("SET idle_in_transaction_session_timeout = 2000")
    frozen.execute(TAKE_WRITE_LOCK)
    started = time.monotonic()
    with pytest.raises(StoreError, match="lock timeout"):
        broker.vote(request.id, "cli:bob", "approve", revision=0)
    assert time.monotonic() - started < 5.0
    assert store.get_request(request.id).status is Status.PENDING
    time.sleep(2.5)  # the server cuts the frozen session off and releases its lock
    assert broker.vote(request.id, "cli:bob", "approve", revision=0).counted
    with pytest.raises(psycopg.Error, match="idle-in-transaction timeout"):
        frozen.execute("SELECT 1")
    frozen.close()
    store.close()


def test_a_server_restart_under_waiters_never_approves(pg_url, pg_cluster, policy):
    """Sync and async waiters across a restart of the server: each either fails with a
    StoreError (the guard denies) or, after the restart, sees the real decision; nobody sees
    an approval that no one gave."""
    store = PostgresStore(pg_url, key=KEY, safety_interval=0.5)
    broker = ApprovalBroker(store, policy, max_pending_per_principal=10)
    first = make_request(broker, "restart", {"n": 1}, call_id="a")
    second = make_request(broker, "restart", {"n": 2}, call_id="b")
    outcomes: dict[str, object] = {}

    def wait_sync() -> None:
        try:
            outcomes["sync"] = broker.wait(first.id, deadline=time.time() + 30).status
        except GuardError as exc:
            outcomes["sync"] = exc

    async def wait_async() -> None:
        try:
            outcomes["async"] = (await broker.wait_async(second.id, time.time() + 30)).status
        except GuardError as exc:
            outcomes["async"] = exc

    threads = [
        threading.Thread(target=wait_sync),
        threading.Thread(target=lambda: asyncio.run(wait_async())),
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    log = str(pg_cluster.root / "log")  # without -l the server would hold our stdout pipe open
    pg_cluster._run("pg_ctl", "-D", str(pg_cluster.data), "-l", log, "-m", "fast", "-w", "restart")
    voter = open_store(pg_url, key=KEY)
    reviewer = ApprovalBroker(voter, policy)
    reviewer.vote(first.id, "cli:bob", "deny", reason="no", revision=0)
    reviewer.vote(second.id, "cli:bob", "deny", reason="no", revision=0)
    for thread in threads:
        thread.join(timeout=40)
        assert not thread.is_alive()
    for outcome in outcomes.values():
        assert outcome is Status.DENIED or isinstance(outcome, StoreError), outcome
    voter.close()
    store.close()


@pytest.mark.parametrize(
    "tail",
    [
        "/nosuchdb?host={sock}",
        ":99999/x?host={sock}",
        "/x?host={sock}&sslmode=bogus",
        "/x?host={sock}&nosuchoption=1",
    ],
)
def test_no_error_path_shows_the_password(pg_cluster, tail, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"postgresql://postgres:{PASSWORD}@" + tail.format(sock=pg_cluster.socket_dir)
    with pytest.raises(GuardError) as raised:
        open_store(url, key=KEY)
    assert PASSWORD not in str(raised.value)
    assert PASSWORD not in caplog.text
    url_q = url.replace(f"postgres:{PASSWORD}@", "postgres@") + f"&password={PASSWORD}"
    with pytest.raises(GuardError) as raised:
        open_store(url_q, key=KEY)
    assert PASSWORD not in str(raised.value)
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    "evil",
    [
        "x'; DROP TABLE audit; --",
        "req_%",
        "req\\_",
        'a"b',
        "\\",
        "ünï\u202ecode",
    ],
)
def test_sql_in_ids_and_tool_names_is_only_data(store, broker, evil):
    request = make_request(broker, "restart", {"service": evil}, call_id=evil)
    assert store.get_request(evil) is None
    assert store.settled([evil, request.id]) == {}
    assert store.statuses([evil]) == {}
    with pytest.raises(KeyError):
        store.resolve_id(evil)
    assert store.resolve_id(request.id[:12]) == request.id
    assert store.claim_notification(evil, evil, evil, 0.0) is False
    assert store.claim_thread(evil, evil, 0.0) is True
    assert store.thread(evil, evil) is None
    store.record_event("test.evil", request_id=evil, actor=evil, data={evil: evil})
    assert store.verify_audit().ok
    assert store.list_requests(Status.PENDING)[0].id == request.id
