"""Issue 11 #2, #7 and #19: what a terminal vote proves, and what a terminal shows.

#2: the CLI identity came from `getpass.getuser()` (USER / LOGNAME): `USER=bob ... approve` voted
    as bob. And `approve --policy mine.yaml` (or $GUARDRAILS_POLICY) let the voter supply the
    people used to check them: one OS account approved a quorum-2 request with two files.
#7: `--revision` was optional, so a plain `approve` counted for an edit the voter never saw.
#19: terminal escape sequences in run_id / on_behalf_of reached the reviewer's terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli import cli
from guardrails_plugin.errors import ApprovalError
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Status
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal

from ..helpers import KEY, ME, POLICY, make_request

REPO = Path(__file__).resolve().parents[2]
OTHERS = {"alice", "bob", "carol", "dave", "mallory"}


@pytest.fixture
def broker(tmp_path, monkeypatch):
    if ME in OTHERS:
        pytest.skip(f"the OS account {ME!r} is one of the policy's people")
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    monkeypatch.setenv("GUARDRAILS_DB", str(tmp_path / "g.db"))
    monkeypatch.delenv("GUARDRAILS_POLICY", raising=False)
    store = SQLiteStore(tmp_path / "g.db")
    yield ApprovalBroker(store, Policy.from_string(POLICY))
    store.close()


def cli_run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_user_and_logname_do_not_choose_the_voter(broker, tmp_path):
    request = make_request(broker, "restart", {"service": "api"})
    env = {
        **os.environ,
        "USER": "bob",
        "LOGNAME": "bob",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "approve", request.id, "--revision", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"cli:{ME} is not an approver" in done.stdout + done.stderr
    assert broker.get(request.id).status is Status.PENDING


def test_a_policy_of_ones_own_cannot_make_one_an_approver(broker, tmp_path):
    request = make_request(broker, "export_table", {"table": "customers"})  # dba, quorum 2
    paths = []
    for person in ("bob", "carol"):
        mine = tmp_path / f"{person}.yaml"
        mine.write_text(POLICY.replace(f"{person}: [", f"{person}: [cli:{ME}, "))
        paths.append(mine)
    code, out = cli_run("approve", request.id, "--revision", "0", "--policy", str(paths[0]))
    assert code == 1 and "not an approver" in out
    code, out = cli_run(
        "approve", request.id, "--revision", "0", env={"GUARDRAILS_POLICY": str(paths[1])}
    )
    assert code == 1 and "not an approver" in out
    assert broker.get(request.id).status is Status.PENDING
    assert broker.store.votes(request.id) == []


def test_the_voters_policy_only_narrows(broker, tmp_path):
    """The approvers recorded with the request are the most a policy given at vote time allows;
    it can take people away (revocation), never add them."""
    widened = Policy.from_string(
        POLICY.replace("dba: [alice, bob, carol]", "dba: [alice, bob, carol, mallory]")
    )
    request = make_request(broker, "export_table", {"table": "t"})
    with pytest.raises(ApprovalError, match="not an approver"):
        ApprovalBroker(broker.store, widened).vote(request.id, "cli:mallory", "approve", revision=0)
    narrowed = Policy.from_string(POLICY.replace("dba: [alice, bob, carol]", "dba: [alice, carol]"))
    with pytest.raises(ApprovalError, match="no longer an approver"):
        ApprovalBroker(broker.store, narrowed).vote(request.id, "cli:bob", "approve", revision=0)
    moved = Policy.from_string(POLICY.replace("bob: [slack:UBOB, cli:bob]", "bob: [slack:UBOB]"))
    with pytest.raises(ApprovalError, match="no longer belongs to bob"):
        ApprovalBroker(broker.store, moved).vote(request.id, "cli:bob", "approve", revision=0)


def test_an_approval_is_bound_to_the_revision_shown(broker, tmp_path):
    mine = POLICY.replace("bob: [slack:UBOB, cli:bob]", f"bob: [slack:UBOB, cli:{ME}]").replace(
        "approval: {approvers: [dba], allow_edit: true, require_reason: true}",
        "approval: {approvers: [dba], quorum: 2, allow_edit: true, require_reason: true}",
    )
    broker.policy = Policy.from_string(mine)
    request = make_request(broker, "terraform_apply", {"dir": "staging"})
    code, out = cli_run("show", request.id)
    assert code == 0 and "--revision 0" in out
    # Meanwhile another reviewer edits the call (their approval counts for the edit only).
    broker.vote(
        request.id, "cli:carol", "approve", reason="edit", edited_args={"dir": "prod"}, revision=0
    )
    code, out = cli_run("approve", request.id, "--reason", "ok")
    assert code == 2 and "--revision" in out  # no approval without saying what was seen
    code, out = cli_run("approve", request.id, "--revision", "0", "--reason", "ok")
    assert code == 1 and "changed since you saw it" in out
    assert broker.get(request.id).status is Status.PENDING
    with pytest.raises(ApprovalError, match="must name the revision"):
        broker.vote(request.id, "slack:UBOB", "approve", reason="ok")
    code, out = cli_run("approve", request.id, "--revision", "1", "--reason", "seen the edit")
    assert code == 0 and broker.get(request.id).status is Status.APPROVED


ESCAPES = ("\x1b]0;owned\x07", "\x1b[2J", "\x9b31m", "\u202e", "\r\n")


def test_terminal_escapes_from_a_request_never_reach_the_terminal(broker):
    hostile = "".join(ESCAPES)
    request = make_request(
        broker,
        "restart",
        {"service": f"api{hostile}"},
        principal=Principal(f"agent:bot{hostile}", f"slack:UX{hostile}"),
    )
    for args in (
        ("show", request.id),
        ("pending",),
        ("pending", "--json"),
        ("show", request.id, "--json"),
        ("audit", "tail"),
        ("audit", "tail", "--json"),
    ):
        code, out = cli_run(*args)
        assert code == 0
        for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
            assert bad not in out, (args, bad)
    code, out = cli_run("show", request.id, "--json")
    assert json.loads(out)["on_behalf_of"] == f"slack:UX{hostile}"  # JSON keeps the value


def test_audit_export_to_a_terminal_is_terminal_safe(broker, tmp_path):
    """Red-team F11: `audit export` printed raw CSI and bidi characters to the terminal (to a
    file it still writes the exact bytes)."""
    import pty

    hostile = "".join(ESCAPES)
    make_request(broker, "restart", {"service": "api"}, principal=Principal(f"agent:{hostile}"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for fmt in ("jsonl", "csv"):
        command = [sys.executable, "-m", "guardrails_plugin", "audit", "export", "--format", fmt]
        reader, writer = pty.openpty()
        done = subprocess.run(
            command, stdout=writer, stderr=subprocess.PIPE, env=env, timeout=60, check=False
        )
        os.close(writer)
        out = b""
        while True:
            try:
                chunk = os.read(reader, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(reader)
        assert done.returncode == 0, done.stderr
        text = out.decode("utf-8", "replace")
        assert "agent:" in text
        for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
            assert bad not in text, (fmt, bad)
    exported = tmp_path / "audit.jsonl"
    assert CliRunner().invoke(cli, ["audit", "export", "-o", str(exported)]).exit_code == 0
    assert "\x9b" in exported.read_text(encoding="utf-8")  # a file keeps the exact record
