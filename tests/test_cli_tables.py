"""Tables at 80 columns: request ids stay whole and copyable (issue 14 #12)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli import cli
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from .helpers import KEY, POLICY, make_request

ID = re.compile(r"req_[0-9a-f]+")


@pytest.fixture
def requests(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    monkeypatch.setenv("GUARDRAILS_DB", str(tmp_path / "g.db"))
    monkeypatch.setenv("COLUMNS", "80")
    store = SQLiteStore(tmp_path / "g.db")
    broker = ApprovalBroker(store, Policy.from_string(POLICY))
    made = [
        make_request(
            broker,
            "export_table",
            {"table": "customers", "to": "<EMAIL_1>", "note": "a long argument " * 5},
        ),
        make_request(broker, "restart", {"service": "api"}, call_id="c2"),
    ]
    yield [r.id for r in made]
    store.close()


@pytest.mark.parametrize(
    "command", [["pending"], ["pending", "--all"], ["audit", "tail"]], ids=" ".join
)
def test_ids_never_wrap_at_80_columns(requests, command):
    """Issue 14 #12: at COLUMNS=80 every request id appears whole on one line of the table,
    and the table still fits the terminal (the other columns fold to make room)."""
    result = CliRunner().invoke(cli, command, terminal_width=80)
    assert result.exit_code == 0, result.output
    for request_id in requests:
        assert any(request_id in line for line in result.output.splitlines()), result.output
    # Nothing that looks like an id is a broken piece of one.
    assert {m for m in ID.findall(result.output)} <= set(requests), result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80, result.output
