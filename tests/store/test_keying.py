"""Migration 3: a store made before the chain was keyed keeps verifying, its open requests keep
being found by a replay, and what the meta table records cannot be moved without the key."""

from __future__ import annotations

import sqlite3

import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import ApprovalError, StoreError, ToolDenied
from guardrails_plugin.store import Event, Status
from guardrails_plugin.store.audit import GENESIS, HashKey, canonical_text, row_hash
from guardrails_plugin.store.migrations import KEYED, MIGRATIONS
from guardrails_plugin.store.records import ApprovalRequest
from guardrails_plugin.store.rows import request_row
from guardrails_plugin.store.sqlite import SQLiteStore, _split_sql

from ..helpers import AGENT, KEY, make_request

ARGS = {"service": "api"}


def _legacy_request(conn, clock, request_id, call_id, *, age=0.0, **columns) -> str:
    digest = HashKey(KEY).digest(ARGS)
    made = clock.now() - age
    request = ApprovalRequest(
        id=request_id,
        tool="restart",
        masked_args=ARGS,
        args_hash=digest,
        current_hash=digest,
        principal=AGENT.agent,
        on_behalf_of=AGENT.on_behalf_of,
        run_id="run-1",
        idempotency_key=call_id,
        created_at=made,
        expires_at=made + 300,
        approvers={"bob": ("slack:UBOB", "cli:bob"), "dave": ("slack:UDAVE", "cli:dave")},
        approver_sources=("dba", "oncall"),
        requester_identities=(AGENT.agent, AGENT.on_behalf_of),
        **columns,
    )
    row = request_row(request)
    for later in ("vault_id", "reviewer_view", "review_args", "authentication"):
        row.pop(later)  # later columns than the version-2 store has
    conn.execute(
        f"INSERT INTO requests ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        tuple(row.values()),
    )
    return digest


def legacy_store(path, clock, *, more: bool = False) -> str:
    """A version-2 store as the previous release wrote it: a plain SHA-256 chain and a pending
    request found by its raw call id (with ``more``, also one that ran yesterday and one decided
    two months ago)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for script in MIGRATIONS[: KEYED - 1]:
        for statement in _split_sql(script):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {KEYED - 1}")
    digest = _legacy_request(conn, clock, "req_old", "call-1")
    if more:
        ran = {"status": Status.APPROVED, "executed_at": clock.now() - 86000}
        _legacy_request(conn, clock, "req_ran", "call-2", age=86400, **ran)
        _legacy_request(conn, clock, "req_ancient", "call-3", age=60 * 86400, **ran)
    now = clock.now()
    prev = GENESIS
    for seq, (event, request_id, data) in enumerate(
        [
            ("call.evaluated", None, {"tool": "restart"}),
            ("request.created", "req_old", {"tool": "restart", "args_hmac": digest, "quorum": 1}),
        ],
        start=1,
    ):
        text = canonical_text(data)
        digest_row = row_hash(prev, seq, now, event, request_id, AGENT.agent, data)
        conn.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, now, event, request_id, AGENT.agent, text, prev, digest_row),
        )
        prev = digest_row
    conn.close()
    return "req_old"


@pytest.fixture
def upgraded(db_path, clock, policy):
    request_id = legacy_store(db_path, clock)
    store = SQLiteStore(db_path, key=KEY, clock=clock, upgrade=True)
    yield store, ApprovalBroker(store, policy, clock=clock), request_id
    store.close()


def test_an_upgraded_store_verifies_and_marks_where_keyed_rows_begin(upgraded):
    store, _, request_id = upgraded
    rows = list(store.audit_rows())
    assert [r.event for r in rows] == [
        "call.evaluated",
        "request.created",
        Event.AUDIT_KEYED,
        Event.REQUEST_REKEYED,
    ]
    assert rows[2].data["keyed_from"] == 3 and rows[2].data["unkeyed_rows"] == 2
    assert rows[3].request_id == request_id
    result = store.verify_audit()
    assert result.ok and result.keyed_from == 3 and result.checked == 4


def test_an_open_request_is_still_found_after_the_upgrade_but_takes_no_votes(upgraded):
    """Its voting terms would have to come from columns nobody keyed (someone may have edited
    them, or reset the schema version to re-run the upgrade): it takes no votes and expires."""
    store, broker, request_id = upgraded
    replay = make_request(broker, "restart", ARGS, call_id="call-1")
    assert replay.id == request_id and replay.idempotency_key.startswith("hmac-sha256:")
    with pytest.raises(ApprovalError, match="no authentic audit row records its terms"):
        broker.vote(request_id, "cli:bob", "approve", revision=0)
    assert store.verify_audit().ok


def test_re_running_the_upgrade_on_a_keyed_store_is_refused(upgraded, db_path):
    """A file writer who drops the meta table and resets the schema version must not get the
    upgrade to sign forged columns (red-team finding F1)."""
    store, _, _ = upgraded
    store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TABLE meta")
        conn.execute("PRAGMA user_version = 2")
    with pytest.raises(StoreError, match=r"predates the keyed chain\. Upgrade it once"):
        SQLiteStore(db_path, key=KEY)  # never silently
    with pytest.raises(StoreError, match="already keyed under this key"):
        SQLiteStore(db_path, key=KEY, upgrade=True)


def test_a_store_with_unkeyed_history_is_upgraded_only_on_purpose(db_path, clock, monkeypatch):
    """Second red team H4: a file writer rewrote the whole history as a plain SHA-256 chain
    (bob's vote now alice's), dropped the meta table and reset the schema version; the next
    open upgraded it and `audit verify` vouched for the rewritten rows. An unkeyed store with
    history now needs `audit upgrade`, and says what a reset looks like."""
    from click.testing import CliRunner

    from guardrails_plugin.cli import cli

    legacy_store(db_path, clock)
    with pytest.raises(StoreError, match="guardrails-plugin audit upgrade"):
        SQLiteStore(db_path, key=KEY, clock=clock)
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    result = CliRunner().invoke(cli, ["pending", "--db", str(db_path)])
    assert result.exit_code == 1 and "audit upgrade" in result.output
    result = CliRunner().invoke(cli, ["audit", "upgrade", "--db", str(db_path)])
    assert result.exit_code == 0 and "rows 1-2 predate the keyed chain" in result.output
    SQLiteStore(db_path, key=KEY, clock=clock).close()  # upgraded: opens as usual


def test_recent_requests_keep_their_replay_and_old_ones_lose_it(db_path, clock, policy):
    legacy_store(db_path, clock, more=True)
    store = SQLiteStore(db_path, key=KEY, clock=clock, upgrade=True)
    broker = ApprovalBroker(store, policy, clock=clock)
    rekeyed = [r.request_id for r in store.audit_rows() if r.event == Event.REQUEST_REKEYED]
    assert sorted(rekeyed) == ["req_old", "req_ran"]
    assert store.get_request("req_ancient").idempotency_key is None
    ran = make_request(broker, "restart", ARGS, call_id="call-2")
    assert ran.id == "req_ran"  # a resumed run is told it already ran, not asked again
    with pytest.raises(ToolDenied, match="already ran once"):
        broker.claim_execution(ran.id, "restart", ARGS)
    assert make_request(broker, "restart", ARGS, call_id="call-3").id != "req_ancient"
    store.close()


def test_reopening_an_upgraded_store_does_not_migrate_again(upgraded, db_path, clock):
    store, _, _ = upgraded
    store.close()
    again = SQLiteStore(db_path, key=KEY, clock=clock)
    assert sum(1 for _ in again.audit_rows()) == 4 and again.verify_audit().keyed_from == 3
    again.close()


def test_moving_keyed_from_in_the_meta_table_is_refused(upgraded, db_path):
    store, _, _ = upgraded
    store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'keyed_from'")
    with pytest.raises(StoreError, match=r"keyed_from .* was changed without the store's key"):
        SQLiteStore(db_path, key=KEY)


def test_a_missing_fingerprint_is_refused(db_path):
    SQLiteStore(db_path, key=KEY).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM meta WHERE name = 'key_fingerprint'")
    with pytest.raises(StoreError, match="no key fingerprint"):
        SQLiteStore(db_path, key=KEY)


def test_a_new_store_is_keyed_from_its_first_row(broker, store):
    request = make_request(broker, "restart", ARGS)
    assert store.verify_audit().keyed_from == 1
    assert [r.event for r in store.audit_rows()] == [Event.REQUEST_CREATED]
    assert store.get_request(request.id).status is Status.PENDING


def test_the_key_never_shows_in_its_repr():
    assert KEY.hex() not in repr(HashKey(KEY)) and "fingerprint" in repr(HashKey(KEY))
