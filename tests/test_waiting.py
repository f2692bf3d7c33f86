"""Issue 14 #9: a waiting agent says what it waits for, and a reviewer can watch requests and the
audit log arrive (`pending --watch`, `audit tail --follow`), against real SQLite files written
by another thread or process."""

from __future__ import annotations

import logging
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails_plugin import Guard, Policy
from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli import cli
from guardrails_plugin.masking import Masker
from guardrails_plugin.store.sqlite import SQLiteStore

from .helpers import KEY, POLICY, as_me, make_request

ROOT = Path(__file__).resolve().parents[1]

EMAIL_POLICY = """
version: 1
defaults: {effect: allow}
people:
  bob: [slack:UBOB, cli:bob]
  carol: [slack:UCAROL, cli:carol]
groups:
  support-leads: [bob, carol]
rules:
  - id: email-out
    match: {tool: send_email}
    effect: require_approval
    approval: {approvers: [support-leads], timeout: 5m}
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    monkeypatch.delenv("GUARDRAILS_DB", raising=False)
    return tmp_path / "g.db"


def test_a_waiting_call_logs_its_request_approvers_and_the_command_that_decides_it(
    env, tmp_path, caplog
):
    """Issue 14 #9: a call that waits for approval logs (INFO, the library's logger) the request
    id, who may approve, and a command that, pasted, decides it; no argument value is logged."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(as_me(EMAIL_POLICY))
    guard = Guard.from_policy(
        policy, store=env, principal="agent:support-bot", masker=Masker(ner=False)
    )
    caplog.set_level(logging.INFO, logger="guardrails_plugin")
    sent: list[dict] = []
    args = {"to": "ana.lopez@example.org", "body": "Your refund of 42 EUR is on its way"}
    done: list = []
    worker = threading.Thread(
        target=lambda: done.append(guard.call("send_email", args, sent.append, call_id="c1")),
        daemon=True,
    )
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not [r for r in caplog.records if "guardrails-plugin approve" in r.getMessage()]:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.02)
        [record] = [r for r in caplog.records if "guardrails-plugin approve" in r.getMessage()]
        message = record.getMessage()
        assert record.levelno == logging.INFO and record.name.startswith("guardrails_plugin")
        [request] = guard.store.list_requests()
        assert request.id in message and "send_email" in message and "email-out" in message
        assert "support-leads" in message and "bob" in message and "carol" in message
        assert "ana.lopez" not in caplog.text and "refund" not in caplog.text
        assert record.guardrails_request_id == request.id  # type: ignore[attr-defined]
        # The logged command works as printed (from any folder: it names the store).
        command = message.split("approve: ", 1)[1].split(";")[0]
        argv = shlex.split(command)
        assert argv[:2] == ["guardrails-plugin", "approve"] and "--reason" in argv
        result = CliRunner().invoke(cli, argv[1:])
        assert result.exit_code == 0, result.output
        assert "approved by bob" in result.output
        worker.join(30)
    finally:
        for waiting in guard.store.list_requests():  # a failed test must not leave it waiting
            guard.broker.cancel(waiting.id, "test", "test over")
        worker.join(30)
    assert done and done[0].allowed and sent == [args]


def _python_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GUARDRAILS_AUDIT_KEY": KEY.hex(),
        "COLUMNS": "250",
        "PYTHONUNBUFFERED": "1",
    }


class _Lines:
    """A subprocess's stdout, line by line, read by a thread so a test can wait with a timeout."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "guardrails_plugin", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=_python_env(),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.proc.stdout is not None
        out = self.proc.stdout
        threading.Thread(target=lambda: [self.lines.put(ln) for ln in out], daemon=True).start()

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never printed; got:\n{''.join(self.seen)}"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C, as a person at the terminal would stop it."""
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)


@pytest.fixture
def store(env, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(as_me(POLICY))
    opened = SQLiteStore(env)
    yield ApprovalBroker(opened, Policy.load(policy))
    opened.close()


def test_pending_watch_shows_requests_made_by_another_process_until_ctrl_c(store, env):
    """Issue 14 #9: `pending --watch` lists new requests as they arrive and stops on Ctrl-C
    without a traceback."""
    watcher = _Lines("pending", "--watch", "--interval", "0.1", "--db", str(env))
    try:
        watcher.wait_for("No pending approval requests")
        first = make_request(store, "restart", {"service": "api"}, call_id="w1")
        watcher.wait_for(first.id)
        second = make_request(store, "export_table", {"table": "orders"}, call_id="w2")
        watcher.wait_for(second.id)
        code, err = watcher.interrupt()
    finally:
        watcher.kill()
    assert code == 0 and "Traceback" not in err, err
    assert any("Ctrl-C" in line for line in watcher.seen)


def test_audit_tail_follow_prints_rows_as_they_land(store, env):
    """Issue 14 #9: `audit tail --follow` prints the last rows, then each new row as another
    process writes it, like tail -f."""
    old = make_request(store, "restart", {"service": "api"}, call_id="f1")
    follower = _Lines("audit", "tail", "--follow", "--interval", "0.1", "--db", str(env))
    try:
        follower.wait_for(old.id)
        new = make_request(store, "export_table", {"table": "orders"}, call_id="f2")
        line = follower.wait_for(new.id)
        assert "request.created" in line
        store.cancel(new.id, "cli:ops", "not needed")
        follower.wait_for("request.cancelled")
        code, err = follower.interrupt()
    finally:
        follower.kill()
    assert code == 0 and "Traceback" not in err, err


def test_audit_tail_follow_json_is_one_object_per_line(store, env):
    """Issue 14 #9: `audit tail --follow --json` streams JSON lines (for jq and log shippers)."""
    import json

    follower = _Lines("audit", "tail", "-f", "--json", "--interval", "0.1", "--db", str(env))
    try:
        time.sleep(0.3)
        made = make_request(store, "restart", {"service": "api"}, call_id="j1")
        line = follower.wait_for(made.id)
        follower.kill()
    finally:
        follower.kill()
    row = json.loads(line)
    assert row["event"] == "request.created" and row["request_id"] == made.id


def test_watch_interval_must_be_positive(env):
    """Issue 14 #9: a bad --interval is refused with the option's name, not a traceback."""
    result = CliRunner().invoke(cli, ["pending", "--watch", "--interval", "0", "--db", str(env)])
    assert result.exit_code == 2 and "--interval" in result.output


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://agent:s3cret@db.internal:5432/guardrails",
        "postgresql://agent@db.internal/guardrails?password=s3cret&sslmode=require",
        "postgresql://agent:***@db.internal/guardrails",  # a PostgresStore's own `path`
    ],
)
def test_commands_for_a_postgres_store_name_its_url_without_the_password(store, url: str) -> None:
    """Issue 14 #9 with issue 15's store: the logged commands name a PostgreSQL store by its
    URL, never with its password (masked or not: '***' pasted would be a wrong password), and
    not as a file path under the agent's folder."""
    from guardrails_plugin.approvals.notice import decide_commands

    request = make_request(store, "restart", {"service": "api"}, call_id="pg1")
    for command in decide_commands(request, url).values():
        db = shlex.split(command)[shlex.split(command).index("--db") + 1]
        assert db.startswith("postgresql://agent@db.internal")
        assert "s3cret" not in command and "***" not in command and "password" not in command
