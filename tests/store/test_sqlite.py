"""The SQLite file: settings, migrations, append-only tables, keys kept outside the database."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat

import pytest

from guardrails_plugin.errors import ConfigError, SchemaVersionError, StoreError
from guardrails_plugin.store import Status
from guardrails_plugin.store.audit import KEY_ENV
from guardrails_plugin.store.migrations import MIGRATIONS
from guardrails_plugin.store.sqlite import DB_ENV, SQLiteStore, resolve_db_path

from ..helpers import KEY, make_request


@pytest.fixture
def backend() -> str:
    """This file tests the SQLite file itself; test_postgres.py the server database."""
    return "sqlite"


def test_connection_settings(store):
    conn = store._db().conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_path_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv(DB_ENV, raising=False)
    assert str(resolve_db_path()) == "guardrails.db"
    monkeypatch.setenv(DB_ENV, str(tmp_path / "env.db"))
    assert resolve_db_path() == tmp_path / "env.db"
    assert resolve_db_path(tmp_path / "arg.db") == tmp_path / "arg.db"


def test_newer_schema_is_refused(db_path):
    SQLiteStore(db_path, key=KEY).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaVersionError, match="newer than this guardrails-plugin"):
        SQLiteStore(db_path, key=KEY)


def test_reopening_does_not_migrate_twice(db_path):
    store = SQLiteStore(db_path, key=KEY)
    store.record_event("test.event", data={"n": 1})
    store.close()
    again = SQLiteStore(db_path, key=KEY)
    assert [r.event for r in again.audit_rows()] == ["test.event"]
    again.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        SQLiteStore(tmp_path / "nope" / "g.db", key=KEY)
    with pytest.raises(StoreError, match="no approval store"):
        SQLiteStore(tmp_path / "absent.db", key=KEY, create=False)


@pytest.mark.parametrize("table", ["audit", "votes"])
def test_append_only_tables_refuse_update_and_delete(broker, store, table):
    request = make_request(broker, "restart", {"service": "api"})
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    conn = store._db().conn
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(f"UPDATE {table} SET request_id = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(f"DELETE FROM {table}")


def test_decided_status_cannot_change_and_requests_cannot_be_deleted(broker, store):
    request = make_request(broker, "restart", {"service": "api"})
    broker.vote(request.id, "cli:bob", "deny", reason="no")
    conn = store._db().conn
    with pytest.raises(sqlite3.IntegrityError, match="cannot change status"):
        conn.execute("UPDATE requests SET status = 'approved'")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM requests")
    assert store.get_request(request.id).status is Status.DENIED


def test_key_file_is_created_private_beside_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    store = SQLiteStore(tmp_path / "g.db")
    key_file = tmp_path / "g.db.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    digest = store.keyed_hash({"a": 1})
    store.close()
    again = SQLiteStore(tmp_path / "g.db")
    assert again.keyed_hash({"a": 1}) == digest  # same key on reopen
    key_text = key_file.read_text().strip()
    assert key_text.encode() not in (tmp_path / "g.db").read_bytes()


def test_key_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "11" * 32)
    a = SQLiteStore(tmp_path / "a.db").keyed_hash("x")
    monkeypatch.setenv(KEY_ENV, "22" * 32)
    assert SQLiteStore(tmp_path / "b.db").keyed_hash("x") != a
    monkeypatch.setenv(KEY_ENV, "tooshort")
    with pytest.raises(ConfigError, match=r"at least 32 bytes|hex or base64"):
        SQLiteStore(tmp_path / "c.db")


def test_no_plain_hash_or_raw_value_of_a_secret_reaches_the_files(broker, store, db_path):
    canaries = {"pin": "4921", "card": 4111111111111111, "email": "victim@example.org"}
    masked = {"pin": "<PIN_1>", "card": "<CREDIT_CARD_1>", "email": "<EMAIL_1>"}
    from guardrails_plugin.types import ToolCall

    from ..helpers import AGENT

    call = ToolCall("restart", canaries, call_id="c", principal=AGENT)
    request = broker.request(call, broker.policy.evaluate(call), masked_args=masked)
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    broker.claim_execution(request.id, "restart", canaries)
    store.close()
    blob = b"".join(p.read_bytes() for p in db_path.parent.glob("guardrails.db*"))
    for value in ["4921", "4111111111111111", "victim@example.org"]:
        assert value.encode() not in blob
    from guardrails_plugin.store.audit import canonical_json

    for plain in (canonical_json(canaries), canonical_json("4921")):
        assert hashlib.sha256(plain).hexdigest().encode() not in blob
