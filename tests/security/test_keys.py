"""Issue 11 #10: key hygiene.

The repository tracked `guardrails.db.key` (so the README's first example used a public key, and
a PIN was brute-forced from `args_hmac` with it); key files readable by others were accepted; a
read-only command silently made a new key for a restored backup; a wrong key showed up only as
confusing idempotency errors; and the audit chain was a plain SHA-256 anyone could recompute.
Covers P28 and P30.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails_plugin.cli import cli
from guardrails_plugin.errors import ConfigError
from guardrails_plugin.store.audit import KEY_ENV, canonical_text, row_hash
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import make_request

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_env_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_no_key_file_is_tracked_and_key_files_are_ignored():
    """Issue 11 #10: guardrails.db.key was in the repository, and .gitignore missed *.key."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [p for p in tracked if p.endswith(".key")] == []
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "guardrails.db.key", "other/prod.db.key"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert ignored == ["guardrails.db.key", "other/prod.db.key"]


def test_a_key_file_readable_by_others_is_refused(tmp_path, no_env_key):
    """Issue 11 #10: an existing key file with mode 0644 was accepted."""
    SQLiteStore(tmp_path / "g.db").close()
    key_file = tmp_path / "g.db.key"
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by group or others.*chmod 600"):
        SQLiteStore(tmp_path / "g.db")
    key_file.chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        SQLiteStore(tmp_path / "g.db")
    key_file.chmod(0o600)
    SQLiteStore(tmp_path / "g.db").close()


def test_a_read_only_command_never_creates_a_key(tmp_path, no_env_key):
    """Issue 11 #10: `audit verify` on a restored backup silently created a new key."""
    store = SQLiteStore(tmp_path / "g.db")
    store.record_event("test.event")
    store.close()
    restored = tmp_path / "restore"
    restored.mkdir()
    shutil.copy(tmp_path / "g.db", restored / "g.db")  # the backup, without its key
    for command in (["audit", "verify"], ["pending"], ["audit", "checkpoint"]):
        code, out = run(*command, "--db", str(restored / "g.db"))
        assert code == 1, out
        assert "g.db.key" in out and "restore" in out and KEY_ENV in out
    assert not (restored / "g.db.key").exists()


def test_opening_an_existing_store_never_creates_a_key(tmp_path, no_env_key):
    """A store that already has rows gets no new key either (its hashes would never match)."""
    SQLiteStore(tmp_path / "g.db").close()
    (tmp_path / "g.db.key").unlink()
    with pytest.raises(ConfigError, match="restore it"):
        SQLiteStore(tmp_path / "g.db")
    assert not (tmp_path / "g.db.key").exists()


def test_a_wrong_key_is_refused_with_both_fingerprints(tmp_path, monkeypatch):
    """Issue 11 #10: a wrong key was only noticed as confusing idempotency errors."""
    monkeypatch.setenv(KEY_ENV, "11" * 32)
    SQLiteStore(tmp_path / "g.db").close()
    monkeypatch.setenv(KEY_ENV, "22" * 32)
    with pytest.raises(ConfigError) as caught:
        SQLiteStore(tmp_path / "g.db")
    message = str(caught.value)
    assert "different audit key" in message and KEY_ENV in message and "meta table" in message
    code, out = run("audit", "verify", "--db", str(tmp_path / "g.db"))
    assert code == 1 and "different audit key" in out


def test_the_fingerprint_does_not_help_brute_force_the_key(tmp_path, monkeypatch):
    key = bytes(range(32))
    monkeypatch.setenv(KEY_ENV, key.hex())
    SQLiteStore(tmp_path / "g.db").close()
    with sqlite3.connect(tmp_path / "g.db") as conn:
        stored = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    fingerprint = stored["key_fingerprint"]
    assert key.hex() not in fingerprint
    assert hashlib.sha256(key).hexdigest() not in fingerprint
    assert hashlib.sha256(key.hex().encode()).hexdigest() not in fingerprint


def test_a_file_writer_without_the_key_cannot_forge_chain_rows(broker, store, monkeypatch):
    """Issue 11 #10: the chain was plain SHA-256, so rows could be appended or rewritten by
    anyone holding the file. Rows are now HMACs under the key kept outside the database."""
    monkeypatch.setenv(KEY_ENV, bytes(range(32)).hex())
    request = make_request(broker, "restart", {"service": "api"})
    conn = sqlite3.connect(store.path, isolation_level=None)
    seq, prev = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    data = {"approved_by": ["bob"], "bound_hash": request.args_hash, "revision": 0}
    forged = row_hash(prev, seq + 1, 1.0, "request.approved", request.id, "bob", data)
    conn.execute(
        "INSERT INTO audit VALUES (?, 1.0, 'request.approved', ?, 'bob', ?, ?, ?)",
        (seq + 1, request.id, canonical_text(data), prev, forged),
    )
    code, out = run("audit", "verify", "--db", str(store.path))
    assert code == 1 and f"row {seq + 1}" in out


def test_new_key_files_are_private(tmp_path, no_env_key):
    SQLiteStore(tmp_path / "g.db").close()
    assert (os.stat(tmp_path / "g.db.key").st_mode & 0o777) == 0o600


def test_a_derived_key_is_outside_every_stored_hash_domain(tmp_path):
    """Issue 14 red team F1: a derived key (the `hash` masking key a Guard takes from its store)
    is an HMAC of a message no keyed hash can have: `digest` HMACs canonical JSON, which never
    starts with the derivation prefix's "g", so no argument a model passes (the label itself,
    the old `{"scope": ...}` form, any JSON) makes the store write the key (P30)."""
    from guardrails_plugin.guard import MASK_HASH_KEY_LABEL
    from guardrails_plugin.store.keys import _DERIVE_PREFIX, HashKey

    key = HashKey(b"k" * 32)
    derived = key.derive(MASK_HASH_KEY_LABEL)
    assert len(derived) == 32 and derived != key.derive("another/purpose")
    for value in (
        MASK_HASH_KEY_LABEL,
        {"scope": MASK_HASH_KEY_LABEL},
        {"scope": "masking/hash-key/v1"},
        (_DERIVE_PREFIX + MASK_HASH_KEY_LABEL.encode()).decode(),
    ):
        stored = key.digest(value).removeprefix("hmac-sha256:")
        assert derived.hex() != stored
        assert hashlib.sha256(stored.encode()).digest() != derived  # the old derivation's shape
        assert canonical_text(value)[:1] in '{["-0123456789tfn'
    assert not _DERIVE_PREFIX.startswith(tuple(c.encode() for c in '{["-0123456789tfn'))
    with pytest.raises(ValueError):
        key.derive("a\x00b")
    store = SQLiteStore(tmp_path / "g.db", key=b"k" * 32)
    assert store.derived_key(MASK_HASH_KEY_LABEL) == derived
    store.close()
