"""Issue 11 #15 (second half): a database folder deleted while the agent ran let the open
connections write to an unlinked file: the call ran and its audit rows were gone.

Before each write transaction the store checks that its path still names the file (and the WAL)
it opened; a missing or replaced file is a `StoreError`, and the guard denies. Covers P1 and P27.
"""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from guardrails_plugin import Guard, Masker, StoreError
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY

POLICY = """
version: 1
defaults: {effect: deny}
rules:
  - id: lookup
    match: {tool: lookup}
    effect: allow
"""


@pytest.fixture
def guard(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    store = SQLiteStore(folder / "g.db", key=KEY)
    g = Guard(Policy.from_string(POLICY), store, principal="agent:bot", masker=Masker(ner=False))
    ran: list[dict] = []
    assert g.call("lookup", {"n": 1}, ran.append).allowed and ran  # connections are open now
    yield g
    store.close()


def call(guard: Guard) -> tuple[bool, list[dict], str]:
    ran: list[dict] = []
    outcome = guard.call("lookup", {"n": 2}, ran.append)
    return outcome.allowed, ran, outcome.message


def test_a_deleted_database_folder_denies_the_call(guard):
    """Issue 11 #15: `rm -rf` of the store's folder; the call still ran, unaudited."""
    shutil.rmtree(guard.store.path.parent)
    allowed, ran, message = call(guard)
    assert not allowed and ran == []
    assert "could not record the call" in message


def test_a_replaced_database_file_denies_the_call(guard, tmp_path):
    path = guard.store.path
    for suffix in ("", "-wal", "-shm"):  # moved away whole: the old connections still work
        os.rename(f"{path}{suffix}", tmp_path / f"moved.db{suffix}")
    SQLiteStore(path, key=KEY).close()  # someone puts a fresh store in its place
    allowed, ran, _ = call(guard)
    assert not allowed and ran == []


def test_a_deleted_wal_denies_the_call(guard):
    wal = guard.store.path.with_name(guard.store.path.name + "-wal")
    assert wal.exists()
    wal.unlink()
    allowed, ran, _ = call(guard)
    assert not allowed and ran == []


def test_the_store_error_names_the_path_and_what_changed(tmp_path):
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    store.record_event("test.event")
    (tmp_path / "g.db").unlink()
    with pytest.raises(StoreError, match=r"g\.db.*(deleted|replaced)"):
        store.record_event("test.event")
    store.close()


def test_an_untouched_store_keeps_writing_across_threads_and_reopen(tmp_path):
    import threading

    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    threads = [threading.Thread(target=store.record_event, args=("t",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    again = SQLiteStore(tmp_path / "g.db", key=KEY)
    again.record_event("after.reopen")
    assert sum(1 for _ in again.audit_rows()) == 5
    again.close()
    with sqlite3.connect(tmp_path / "g.db") as conn:
        assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 5
