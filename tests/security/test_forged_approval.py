"""Issue 11 #9: one SQL statement approved a request.

The attacker here is a process that can write the SQLite file but cannot read the key file (a
tool sandbox, another service account, a backup job): it drops the triggers, edits columns and
copies rows, as `sqlite3 guardrails.db` would. The tool may run only when the audit chain, whose
rows are keyed under the key it cannot read, proves the approval. Covers P2 (c, d), P7 and P28.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest
from click.testing import CliRunner

from guardrails_plugin import Guard, Masker
from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli import cli
from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event, Status
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY, POLICY, make_request

RESTART = {"service": "api", "force": False}


def attacker(store: SQLiteStore) -> sqlite3.Connection:
    """A connection without the key, with the triggers dropped, as someone holding the file."""
    conn = sqlite3.connect(store.path, isolation_level=None)
    for trigger in ("requests_terminal", "audit_no_update", "audit_no_delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for trigger in ("votes_no_update", "votes_no_delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    return conn


def forge_approval(conn: sqlite3.Connection, request_id: str, now: float) -> None:
    conn.execute(
        "UPDATE requests SET status = 'approved', decided_at = ?, decided_by = 'bob', "
        "execute_by = ? WHERE id = ?",
        (now, now + 600, request_id),
    )


def verify_cli(store: SQLiteStore, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(store.path), *extra])
    return result.exit_code, result.output


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())


def test_one_sql_update_does_not_run_the_tool_through_the_guard(tmp_path, key_env):
    """Issue 11 #9: `UPDATE requests SET status='approved'` while the agent waited ran the tool."""
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(
        Policy.from_string(POLICY), store, principal="agent:bot", masker=Masker(ner=False)
    )
    ran: list[dict] = []

    def forge_while_waiting(step):
        conn = attacker(store)
        forge_approval(conn, step.request.id, store.clock.now())
        conn.close()
        return store.get_request(step.request.id)

    outcome = guard.call("restart", RESTART, ran.append, call_id="c1", wait=forge_while_waiting)
    assert not outcome.allowed and ran == []
    assert "not proven by the audit log" in outcome.message
    refused = [r for r in store.audit_rows() if r.event == Event.EXECUTION_REFUSED]
    assert refused and refused[-1].request_id == outcome.request_id
    store.close()


def test_forged_vote_rows_do_not_make_a_quorum(broker, store):
    """Issue 11 #9: rows inserted into `votes` plus a status column are no approval."""
    request = make_request(broker)  # export_table: quorum 2
    conn = attacker(store)
    for person in ("bob", "carol"):
        conn.execute(
            "INSERT INTO votes (request_id, revision, person, identity, channel, verdict, "
            "created_at) VALUES (?, 0, ?, ?, 'cli', 'approve', ?)",
            (request.id, person, f"cli:{person}", store.clock.now()),
        )
    forge_approval(conn, request.id, store.clock.now())
    with pytest.raises(ToolDenied, match="not proven by the audit log"):
        broker.claim_execution(request.id, "export_table", {"table": "customers"})
    assert store.get_request(request.id).executed_at is None


def test_a_copied_approval_row_of_another_request_is_refused(broker, store):
    """Issue 11 #9: the approval rows of request A, copied onto request B, do not approve B."""
    a = make_request(broker, "restart", RESTART, call_id="a")
    broker.vote(a.id, "cli:bob", "approve", revision=0)
    b = make_request(broker, "restart", RESTART, call_id="b")
    conn = attacker(store)
    head = conn.execute("SELECT max(seq) FROM audit").fetchone()[0]
    for row in conn.execute(
        "SELECT event, actor, data, prev_hash, hash, ts FROM audit WHERE request_id = ? "
        "AND event IN ('vote.recorded', 'request.approved') ORDER BY seq",
        (a.id,),
    ).fetchall():
        head += 1
        conn.execute(
            "INSERT INTO audit (seq, ts, event, request_id, actor, data, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (head, row[5], row[0], b.id, row[1], row[2], row[3], row[4]),
        )
    forge_approval(conn, b.id, store.clock.now())
    with pytest.raises(ToolDenied, match="not proven by the audit log"):
        broker.claim_execution(b.id, "restart", RESTART)


def test_a_forged_current_hash_and_edit_do_not_move_the_approval(store, clock, policy):
    """Issue 11 #9: an approved request's current_hash/edited_args columns, pointed at other
    arguments (whose keyed hash the attacker copied from another request), do not carry over."""
    broker = ApprovalBroker(store, policy, clock=clock)
    approved = make_request(broker, "restart", RESTART, call_id="a")
    broker.vote(approved.id, "cli:bob", "approve", revision=0)
    dangerous = {"service": "prod-db", "force": True}
    other = make_request(broker, "restart", dangerous, call_id="b")
    conn = attacker(store)
    conn.execute(
        "UPDATE requests SET current_hash = ?, edited_args = ? WHERE id = ?",
        (other.args_hash, json.dumps(dangerous), approved.id),
    )
    with pytest.raises(ToolDenied, match="differ from the ones approved"):
        broker.claim_execution(approved.id, "restart", dangerous)


def test_clearing_executed_at_does_not_allow_a_second_run(broker, store):
    """Issue 11 #9: `executed_at = NULL` re-armed an approval that had already run."""
    request = make_request(broker, "restart", RESTART)
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    broker.claim_execution(request.id, "restart", RESTART)
    attacker(store).execute("UPDATE requests SET executed_at = NULL WHERE id = ?", (request.id,))
    with pytest.raises(ToolDenied, match="already ran once"):
        broker.claim_execution(request.id, "restart", RESTART)


def test_extending_execute_by_does_not_reopen_the_window(broker, store, clock):
    """Issue 11 #9: the execution window comes from the approval's audit row, not a column."""
    request = make_request(broker, "restart", RESTART)
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    clock.advance(broker.execution_window + 1)
    attacker(store).execute(
        "UPDATE requests SET execute_by = ? WHERE id = ?", (clock.now() + 3600, request.id)
    )
    with pytest.raises(ToolDenied, match="execution window has closed"):
        broker.claim_execution(request.id, "restart", RESTART)


def test_a_lowered_quorum_column_does_not_count(broker, store):
    """Issue 11 #9: quorum 2 with one real vote; `quorum = 1` plus a status is no approval."""
    request = make_request(broker)
    broker.vote(request.id, "cli:bob", "approve", revision=0)
    conn = attacker(store)
    conn.execute("UPDATE requests SET quorum = 1 WHERE id = ?", (request.id,))
    forge_approval(conn, request.id, store.clock.now())
    with pytest.raises(ToolDenied, match="not proven by the audit log"):
        broker.claim_execution(request.id, "export_table", {"table": "customers"})


def test_audit_verify_reports_states_the_chain_does_not_prove(broker, store, key_env):
    """Issue 11 #9: `audit verify --checkpoint` still passed after the forged approval."""
    forged = make_request(broker, "restart", RESTART, call_id="f")
    ran = make_request(broker, "restart", {"service": "db", "force": False}, call_id="r")
    voted = make_request(broker, call_id="v")
    code, out = verify_cli(store)
    assert code == 0, out
    checkpoint = store.audit_head().to_json()
    conn = attacker(store)
    forge_approval(conn, forged.id, store.clock.now())
    conn.execute("UPDATE requests SET executed_at = 1 WHERE id = ?", (ran.id,))
    conn.execute(
        "INSERT INTO votes (request_id, revision, person, identity, channel, verdict, "
        "created_at) VALUES (?, 0, 'bob', 'cli:bob', 'cli', 'approve', 1)",
        (voted.id,),
    )
    code, out = verify_cli(store, "--checkpoint", checkpoint)
    assert code == 1
    assert forged.id in out and ran.id in out and voted.id in out
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(store.path), "--json"])
    data = json.loads(result.output)
    assert not data["ok"] and data["chain_ok"]
    problems = {p["request_id"]: p["problem"] for p in data["requests"]["problems"]}
    assert "approved" in problems[forged.id] and "executed_at" in problems[ran.id]
    assert "vote" in problems[voted.id]
    assert store.get_request(forged.id).status is Status.APPROVED  # reported, not repaired


def test_a_legitimate_history_cross_checks_clean(broker, store, key_env):
    a = make_request(broker, "restart", RESTART, call_id="a")
    broker.vote(a.id, "cli:bob", "approve", revision=0)
    broker.claim_execution(a.id, "restart", RESTART)
    broker.record_outcome(a.id, ok=True)
    d = make_request(broker, call_id="d")
    broker.vote(d.id, "cli:bob", "deny", reason="no")
    e = make_request(broker, "terraform_apply", {"dir": "prod", "vars": {"n": 3}}, call_id="e")
    broker.vote(e.id, "cli:bob", "approve", reason="ok", edited_args={"dir": "prod"}, revision=0)
    make_request(broker, call_id="p")
    code, out = verify_cli(store)
    assert code == 0, out


TOCTOU_POLICY = """
version: 1
defaults: {effect: deny, masking: {restore_placeholders: true}}
people: {olga: [cli:olga], dan: [cli:dan], dina: [cli:dina]}
groups: {oncall: [olga], dba: [dan, dina]}
rules:
  - id: to-ceo
    match: {tool: send_email, args: {to: ceo@example.org}}
    effect: require_approval
    approval: {approvers: [dba], quorum: 2}
  - {id: lookup, match: {tool: lookup}, effect: allow}
  - id: send
    match: {tool: send_email}
    effect: require_approval
    approval: {approvers: [oncall]}
"""


@pytest.mark.parametrize("forged", [False, True], ids=["as-stored", "column-read-during-wait"])
def test_the_grant_uses_the_request_copy_that_was_checked(tmp_path, forged):
    """Review of issues 11-12 (TOCTOU): the guard checked the terms on a fresh read but built
    the grant from the copy the wait returned. A file writer who set `rule_id` to a rule with a
    stricter match for the duration of the wait got a restored value run on a laxer approval.
    The guard now acts on the copy it checked, so both runs are refused alike."""
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(
        Policy.from_string(TOCTOU_POLICY), store, principal="agent:ops", masker=Masker(ner=False)
    )
    run = guard.run("thread:t")
    assert guard.call("lookup", {}, lambda a: {"email": "ceo@example.org"}, run=run).allowed

    def wait(step):
        guard.broker.vote(step.request.id, "cli:olga", "approve", revision=0)
        got = guard.broker.get(step.request.id)
        return dataclasses.replace(got, rule_id="to-ceo") if forged else got

    sent: list[dict] = []
    outcome = guard.call("send_email", {"to": "<EMAIL_1>"}, sent.append, run=run, wait=wait)
    assert not outcome.allowed and sent == []
    assert "falls under rule 'to-ceo', not rule 'send'" in outcome.message
    store.close()
