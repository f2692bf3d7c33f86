"""Red team of issue 14's new code (reviewer views, CLI edit, policy hot reload, mask key,
waiting log, demo --db, watch/follow). Each finding is a test that failed on the code as landed
(it was marked ``xfail(strict=True)``) and passes since the finding was fixed.

Real SQLite files under ``tmp_path``, real policies, real CLI (click's CliRunner). See
docs/reports/issue14-redteam.md for severity, reproduction and suggested fixes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli import cli
from guardrails_plugin.errors import ApprovalError
from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.policy.watch import LivePolicy
from guardrails_plugin.store import Event
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import ToolCall

from ..helpers import AGENT, KEY, POLICY
from .conftest import SpyTool

# --- mask key ----------------------------------------------------------------------------------

HASHING_POLICY = """
version: 1
defaults: {effect: allow, masking: {strategy: hash}}
people:
  bob: [slack:UBOB, cli:bob]
rules:
  - id: config-change
    match: {tool: set_config}
    effect: require_approval
    approval: {approvers: [bob], timeout: 5m}
"""


def test_the_mask_hash_key_cannot_be_read_out_of_the_database(tmp_path):
    db = tmp_path / "g.db"
    store = SQLiteStore(db, key=KEY)
    guard = Guard(
        Policy.from_string(HASHING_POLICY),
        store,
        principal="agent:bot",
        masker=Masker(ner=False),  # no hash key configured: the guard derives one from the store
        wait_timeout=0.2,
    )
    phone = "+1 415 555 0199"
    # An ordinary allowed call: its audit row holds the phone as a keyed hash token.
    assert guard.call("lookup", {"phone": phone}, SpyTool()).allowed
    # The hostile model: one gated call whose arguments are the key-derivation label.
    guard.call("set_config", {"scope": "masking/hash-key/v1"}, SpyTool())
    store.close()

    # Someone holding only the database file (no audit key).
    with sqlite3.connect(db) as conn:
        hashes = [row[0] for row in conn.execute("SELECT args_hash FROM requests")]
        audit_text = " ".join(row[0] for row in conn.execute("SELECT data FROM audit"))
    recovered = []
    for stored in hashes:
        mask_key = hashlib.sha256(stored.encode()).digest()
        token = hmac.new(mask_key, f"PHONE\x00{phone}".encode(), hashlib.sha256).hexdigest()[:12]
        if f"<PHONE:{token}>" in audit_text:
            recovered.append(stored)
    # With the mask key, every 10-digit phone (or PIN, date of birth) in the log is reversible.
    assert recovered == []


# --- reviewer view: the request fingerprint ----------------------------------------------------


def test_review_args_written_into_a_request_without_a_view_take_no_votes(tmp_path):
    db = tmp_path / "g.db"
    store = SQLiteStore(db, key=KEY)
    broker = ApprovalBroker(store, Policy.from_string(POLICY))
    call = ToolCall("restart", {"service": "cache"}, call_id="c1", run_id="run-1", principal=AGENT)
    request = broker.request(call, broker.policy.evaluate(call), masked_args=dict(call.args))
    assert request.reviewer_view is None and request.review_args is None

    # A process that can write the file but has no key.
    forged = json.dumps({"service": "cache (read-only, safe to approve)"})
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE requests SET review_args = ? WHERE id = ?", (forged, request.id))

    shown = CliRunner().invoke(
        cli, ["show", request.id, "--db", str(db)], env={"GUARDRAILS_AUDIT_KEY": KEY.hex()}
    )
    # A view's text counts only with the view's name: without it the masked arguments show.
    assert shown.exit_code == 0 and "safe to approve" not in shown.output
    with pytest.raises(ApprovalError):
        broker.vote(request.id, "slack:UBOB", "approve", revision=0, channel="slack")


# --- policy hot reload -------------------------------------------------------------------------

P0 = """\
version: 1
defaults: {effect: allow}
rules: []
"""
P1 = """\
version: 1
defaults: {effect: allow}
rules:
  - id: no-drop
    match: {tool: drop_table}
    effect: deny
"""
P2 = """\
version: 1
defaults: {effect: allow}
rules:
  - id: no-read
    match: {tool: read_table}
    effect: deny
"""


def _write_settled(path: Path, text: str, age: float = 5.0) -> None:
    path.write_text(text)
    then = time.time() - age
    os.utime(path, (then, then))


def _effect(policy: Policy, tool: str) -> str:
    call = ToolCall(tool, {}, call_id="x", run_id="r", principal=AGENT)
    return policy.evaluate(call).effect.value


def _reload_rows(store: SQLiteStore) -> list:
    return [r for r in store.audit_rows() if r.event == Event.POLICY_RELOADED]


def test_the_audited_digest_is_of_the_policy_in_force(tmp_path):
    file = tmp_path / "policy.yaml"
    _write_settled(file, P0)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    in_force: list[Policy] = [Policy.load(file)]
    writer = {"armed": False, "calls": 0}

    def wall() -> float:
        # A writer (inotify tells it when the guard reads the file) acts just after the load.
        if writer["armed"]:
            writer["calls"] += 1
            if writer["calls"] == 2:
                _write_settled(file, P2)
        return time.time()

    live = LivePolicy(in_force[0], store, "agent:bot", in_force.append, wall=wall)
    _write_settled(file, P1)
    writer["armed"] = True
    live.refresh()
    writer["armed"] = False
    live.refresh()  # any later call
    live.refresh()

    audited = _reload_rows(store)[-1].data["digest"]
    on_disk = hashlib.sha256(file.read_bytes()).hexdigest()
    assert audited == on_disk
    # The audit says P2 is in force: it must be.
    assert _effect(in_force[-1], "read_table") == "deny"


def test_a_policy_file_swapped_for_a_fifo_does_not_hang_the_call(tmp_path):
    file = tmp_path / "policy.yaml"
    _write_settled(file, P0)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(Policy.load(file), store, principal="agent:bot", masker=Masker(ner=False))
    assert guard.call("read_table", {}, SpyTool()).allowed

    file.unlink()
    os.mkfifo(file)
    then = time.time() - 5
    os.utime(file, (then, then))
    done: list = []
    worker = threading.Thread(
        target=lambda: done.append(guard.call("read_table", {}, SpyTool())), daemon=True
    )
    worker.start()
    worker.join(5)
    hung = worker.is_alive()
    # Release the reader (each open of the FIFO waits for a writer) so the thread can end.
    for _ in range(100):
        if not worker.is_alive():
            break
        with contextlib.suppress(OSError):
            os.close(os.open(file, os.O_WRONLY | os.O_NONBLOCK))
        time.sleep(0.05)
    assert not hung, "a guarded call hung reading a FIFO as the policy file"


def test_a_change_dated_in_the_future_is_used_or_reported(tmp_path):
    file = tmp_path / "policy.yaml"
    _write_settled(file, P0)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    in_force: list[Policy] = [Policy.load(file)]
    clock = {"offset": 0.0}
    live = LivePolicy(
        in_force[0], store, "agent:bot", in_force.append, wall=lambda: time.time() + clock["offset"]
    )
    before = store.audit_head().seq if store.audit_head() else 0

    file.write_text(P1)  # the operator tightens the policy...
    future = time.time() + 3600  # ...and the file's date is an hour ahead
    os.utime(file, (future, future))
    live.refresh()
    clock["offset"] = 600.0  # ten minutes later, far past the 2 s settling time
    live.refresh()

    used = _effect(in_force[-1], "drop_table") == "deny"
    reported = [r for r in store.audit_rows(since_seq=before)]
    assert used or reported
