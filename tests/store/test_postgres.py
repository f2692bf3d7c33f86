"""The PostgreSQL database itself: migrations, triggers, keys outside the database, URLs.

The store contract (requests, votes, quorum, audit chain, waits, processes) runs on both
backends through the parametrised ``backend`` fixture; this file covers what only PostgreSQL has.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from guardrails_plugin.errors import ConfigError, SchemaVersionError, StoreError
from guardrails_plugin.store import Status, open_store
from guardrails_plugin.store.audit import KEY_ENV
from guardrails_plugin.store.postgres import PostgresStore
from guardrails_plugin.store.postgres_schema import MIGRATIONS

from ..helpers import KEY, make_request


@pytest.fixture
def backend() -> str:
    return "postgres"


def test_the_url_selects_postgres_and_a_path_or_sqlite_url_selects_sqlite(pg_url, tmp_path):
    store = open_store(pg_url, key=KEY)
    assert isinstance(store, PostgresStore)
    store.close()
    for target in (str(tmp_path / "a.db"), f"sqlite:///{tmp_path}/b.db"):
        store = open_store(target, key=KEY)
        assert type(store).__name__ == "SQLiteStore"
        store.close()
    assert (tmp_path / "b.db").exists()


def test_guardrails_db_may_name_a_postgres_url(pg_url, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_DB", pg_url)
    store = open_store(key=KEY)
    assert isinstance(store, PostgresStore)
    store.close()


def test_newer_schema_is_refused(store, pg_url):
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE guardrails_schema SET version = %s", (len(MIGRATIONS) + 1,))
    with pytest.raises(SchemaVersionError, match="newer than this guardrails-plugin"):
        open_store(pg_url, key=KEY)


def test_reopening_does_not_migrate_twice_and_many_openers_migrate_once(pg_url):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:  # six processes' worth of first opens at once
        stores = list(pool.map(lambda _: open_store(pg_url, key=KEY), range(6)))
    stores[0].record_event("test.event", data={"n": 1})
    for s in stores:
        s.close()
    again = open_store(pg_url, key=KEY)
    assert [r.event for r in again.audit_rows()] == ["test.event"]
    again.close()


def test_create_false_refuses_an_empty_database(pg_url):
    with pytest.raises(StoreError, match="no approval store"):
        open_store(pg_url, key=KEY, create=False)


@pytest.mark.parametrize("table", ["audit", "votes"])
def test_append_only_tables_refuse_update_delete_and_truncate(broker, store, pg_url, table):
    """RELIABILITY P29 on PostgreSQL."""
    request = make_request(broker, "restart", {"service": "api"})
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for sql in (
            f"UPDATE {table} SET request_id = 'x'",
            f"DELETE FROM {table}",
            f"TRUNCATE {table} CASCADE",
        ):
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only"):
                conn.execute(sql)


def test_decided_status_cannot_change_and_requests_cannot_be_deleted(broker, store, pg_url):
    request = make_request(broker, "restart", {"service": "api"})
    broker.vote(request.id, "cli:bob", "deny", reason="no")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="cannot change"):
            conn.execute("UPDATE requests SET status = 'approved'")
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="kept"):
            conn.execute("DELETE FROM requests")
    assert store.get_request(request.id).status is Status.DENIED


def test_the_key_must_come_from_outside_the_database(pg_url, monkeypatch, tmp_path):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"set {KEY_ENV}"):
        open_store(pg_url)
    monkeypatch.setenv(KEY_ENV, KEY.hex())
    open_store(pg_url).close()
    monkeypatch.setenv(KEY_ENV, "22" * 32)
    with pytest.raises(ConfigError, match="different audit key"):
        open_store(pg_url)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ConfigError, match="missing"):  # never a new key for an old store
        open_store(pg_url, key_file=tmp_path / "audit.key")


def test_no_raw_value_or_key_reaches_the_database(broker, store, pg_url):
    """RELIABILITY P11/P30: what a pg_dump would hold."""
    from guardrails_plugin.types import ToolCall

    from ..helpers import AGENT

    canaries = {"pin": "4921", "email": "victim@example.org"}
    masked = {"pin": "<PIN_1>", "email": "<EMAIL_1>"}
    call = ToolCall("restart", canaries, call_id="c", principal=AGENT)
    request = broker.request(call, broker.policy.evaluate(call), masked_args=masked)
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    broker.claim_execution(request.id, "restart", canaries)
    with psycopg.connect(pg_url) as conn:
        dump = "".join(
            str(row)
            for table in ("requests", "votes", "audit", "meta")
            for row in conn.execute(f"SELECT * FROM {table}").fetchall()
        )
    for value in ("4921", "victim@example.org", KEY.hex()):
        assert value not in dump


def test_passwords_never_show(pg_cluster, pg_url, monkeypatch):
    """A wrong password in the URL: the error, the log and store.path mask it."""
    from guardrails_plugin.store.urls import mask_url

    assert mask_url("postgresql://agent:s3cret@db:5432/g") == "postgresql://agent:***@db:5432/g"
    assert "s3cret" not in mask_url("postgresql://db/g?user=a&password=s3cret")
    assert "s3cret" not in mask_url("host=db password=s3cret dbname=g")
    assert mask_url("/var/lib/g.db") == "/var/lib/g.db"
    bad = f"postgresql://nosuchuser:s3cret@/nodb?host={pg_cluster.socket_dir}"
    with pytest.raises(StoreError) as info:
        PostgresStore(bad, key=KEY, busy_timeout=1.0)
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


def test_importing_the_package_does_not_import_the_driver():
    code = "import sys, guardrails_plugin, guardrails_plugin.store; print('psycopg' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "False"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo), **(env or {})},
    )


def test_db_migrate_copies_everything_verifies_and_refuses_a_full_target(
    tmp_path, pg_url, policy, clock, monkeypatch
):
    from guardrails_plugin.approvals import ApprovalBroker

    monkeypatch.delenv(KEY_ENV, raising=False)
    source = tmp_path / "g.db"
    old = open_store(source, clock=clock)  # its key goes to g.db.key
    broker = ApprovalBroker(old, policy, clock=clock)
    for i in range(5):
        request = make_request(broker, "restart", {"n": i}, call_id=f"c{i}")
        broker.vote(request.id, "cli:bob", "approve" if i % 2 else "deny", reason="r", revision=0)
    pending = make_request(broker, "export_table", call_id="open")
    broker.vote(pending.id, "cli:bob", "approve", revision=0)  # one of two: still pending
    # Posted to Slack in its run's thread; another run's thread is half-opened (its poster died).
    old.claim_thread("slack", "run-1", clock.now())
    old.set_thread("slack", "run-1", "C0DBA", "1700000001.000100")
    old.set_notification(pending.id, "slack", {"state": "posted", "channel": "C0DBA", "ts": "9"})
    old.claim_thread("slack", "run-dead", clock.now())
    head = old.audit_head()
    old.close()
    env = {KEY_ENV: ""}
    result = run_cli("db", "migrate", "--from", str(source), "--to", pg_url, env=env)
    assert result.returncode == 0, result.stderr
    assert "copied 6 requests, 6 votes" in result.stdout
    new = open_store(pg_url, key_file=tmp_path / "g.db.key", clock=clock)
    assert new.audit_head() == head and new.verify_audit().ok
    # What a reviewer's Slack needs came along: the message, and the thread for the run's next.
    assert new.get_request(pending.id).notify["slack"]["ts"] == "9"
    assert new.thread("slack", "run-1") == ("C0DBA", "1700000001.000100")
    assert new.thread("slack", "run-dead") is None
    assert new.claim_thread("slack", "run-dead", clock.now())  # free to open
    # The copy works: the open request takes its second vote there.
    after = ApprovalBroker(new, policy, clock=clock)
    assert (
        after.vote(pending.id, "cli:carol", "approve", revision=0).request.status is Status.APPROVED
    )
    new.close()
    again = run_cli("db", "migrate", "--from", str(source), "--to", pg_url, env=env)
    assert again.returncode != 0 and "refusing to merge" in again.stderr


def test_cli_commands_take_a_postgres_url_and_never_print_its_password(pg_url, store, broker):
    make_request(broker, "restart", {"service": "api"})
    env = {KEY_ENV: KEY.hex()}
    listed = run_cli("pending", "--db", pg_url, "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "restart" in listed.stdout
    verified = run_cli("audit", "verify", "--db", pg_url, env=env)
    assert verified.returncode == 0, verified.stderr
    with_password = pg_url.replace("postgres@", "postgres:hunter2hunter2@")
    bad = with_password.replace("/t", "/nosuchdb_t", 1)
    failed = run_cli("audit", "verify", "--db", bad, env=env)
    assert failed.returncode != 0
    for text in (failed.stdout, failed.stderr, run_cli("audit", "verify", "--help").stdout):
        assert "hunter2" not in text
