"""pending / show / approve / deny / audit from the command line, against a real SQLite file."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli import cli
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal

from .helpers import KEY, ME, POLICY, as_me, make_request


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    db = tmp_path / "g.db"
    monkeypatch.setenv("GUARDRAILS_DB", str(db))
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(as_me(POLICY))  # the CLI user (this OS account) is bob
    store = SQLiteStore(db)
    broker = ApprovalBroker(store, Policy.load(policy_file))
    yield broker, policy_file
    store.close()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_pending_show_approve_and_audit(setup):
    broker, _ = setup
    request = make_request(broker, "restart", {"service": "api", "email": "<EMAIL_1>"})
    code, out = run("pending", "--json")
    assert code == 0
    [listed] = json.loads(out)
    assert listed["id"] == request.id and listed["args"]["email"] == "<EMAIL_1>"
    code, out = run("show", request.id[:10])
    assert code == 0 and "restart" in out and "approvers" in out
    assert f"approve {request.id} --revision 0" in out
    code, out = run("approve", request.id[:10], "--revision", "0", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["request"]["status"] == "approved" and data["counted"]
    assert data["request"]["decided_by"] == "bob"
    code, out = run("audit", "tail", "--json")
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert events == ["request.created", "vote.recorded", "request.approved"]
    code, out = run("audit", "verify")
    assert code == 0 and "3 rows verified" in out


def test_the_cli_votes_as_the_os_account_and_self_approval_is_refused(setup):
    broker, _ = setup
    request = make_request(
        broker, "restart", {"service": "api"}, principal=Principal("agent:bot", "cli:carol")
    )
    code, out = run("approve", request.id, "--revision", "0")
    assert code == 0 and "approved by bob" in out
    mine = make_request(
        broker, "restart", {"n": 2}, call_id="c2", principal=Principal("agent:bot", f"cli:{ME}")
    )
    code, out = run("approve", mine.id, "--revision", "0")
    assert code == 1 and "no self-approval" in out


def test_approve_needs_the_revision_shown(setup):
    broker, _ = setup
    request = make_request(broker, "restart", {"service": "api"})
    code, out = run("approve", request.id)
    assert code == 2 and "--revision" in out


def test_deny_needs_a_reason_and_records_it(setup):
    broker, _ = setup
    request = make_request(broker, "restart", {"service": "api"})
    code, out = run("deny", request.id)
    assert code == 2 and "--reason" in out
    code, out = run("deny", request.id, "--reason", "not during the freeze")
    assert code == 0 and "denied by bob" in out
    code, out = run("show", request.id, "--json")
    assert json.loads(out)["decision_reason"] == "not during the freeze"
    code, out = run("approve", request.id, "--revision", "0")
    assert code == 1 and "already denied" in out


def test_current_policy_membership_applies_with_policy_option(setup, tmp_path):
    broker, _ = setup
    request = make_request(broker, "restart", {"service": "api"})
    revoked = tmp_path / "revoked.yaml"
    revoked.write_text(as_me(POLICY).replace("dba: [alice, bob, carol]", "dba: [alice, carol]"))
    code, out = run("approve", request.id, "--revision", "0", "--policy", str(revoked))
    assert code == 1 and "no longer an approver" in out


def test_unknown_and_ambiguous_ids(setup):
    broker, _ = setup
    make_request(broker, "restart", {"n": 1}, call_id="a")
    make_request(broker, "restart", {"n": 2}, call_id="b")
    code, out = run("show", "nope")
    assert code == 2 and "no request id starts with 'nope'" in out
    code, out = run("show", "req_")
    assert code == 2 and "matches several requests" in out


def test_missing_database_is_a_clear_error(tmp_path):
    code, out = run("pending", "--db", str(tmp_path / "none.db"))
    assert code == 1 and "no approval store" in out and "GUARDRAILS_DB" in out


def test_checkpoint_then_truncation_is_detected(setup, tmp_path):
    broker, _ = setup
    for i in range(3):
        request = make_request(broker, "restart", {"n": i}, call_id=f"c{i}")
        broker.vote(request.id, "cli:carol", "approve", revision=0)
    anchor = tmp_path / "anchor.jsonl"
    code, out = run("audit", "checkpoint", "-o", str(anchor))
    checkpoint = json.loads(out)
    assert code == 0 and checkpoint["seq"] == 9 and anchor.read_text().strip() == out.strip()
    code, _ = run("audit", "verify", "--checkpoint", str(anchor))
    assert code == 0
    conn = sqlite3.connect(broker.store.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE seq > 7")
    code, out = run("audit", "verify")
    # Without the anchor the shorter chain still verifies; only the cross-check notices that
    # the last approval's rows are gone.
    assert code == 1 and request.id in out and "BROKEN" not in out
    code, out = run("audit", "verify", "--checkpoint", out_json(checkpoint))
    assert code == 1 and "removed from the end" in out


def out_json(data: dict) -> str:
    return json.dumps(data)


def test_verify_reports_the_first_broken_row(setup):
    broker, _ = setup
    request = make_request(broker, "restart", {"n": 1})
    broker.vote(request.id, "cli:carol", "approve", revision=0)
    conn = sqlite3.connect(broker.store.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET actor = 'cli:mallory' WHERE seq = 2")
    code, out = run("audit", "verify", "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["first_bad_seq"] == 2


def test_export_jsonl_and_csv(setup, tmp_path):
    broker, _ = setup
    request = make_request(broker, "restart", {"n": 1})
    broker.vote(request.id, "cli:carol", "approve", revision=0)
    code, out = run("audit", "export")
    assert code == 0 and len(out.splitlines()) == 3
    target = tmp_path / "audit.csv"
    code, _ = run("audit", "export", "--format", "csv", "--since", "1h", "-o", str(target))
    assert code == 0 and target.read_text().splitlines()[0].startswith("seq,ts,event")
    code, out = run("audit", "export", "--since", "yesterday-ish")
    assert code == 2 and "expected an ISO time" in out
    code, out = run("audit", "verify", "--checkpoint", "{bad")
    assert code == 2 and "checkpoint" in out
