"""`policy explain` decides as the guard does: it runs the masker unless --data is given (issue
14 #8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails_plugin import Guard
from guardrails_plugin.cli import cli
from guardrails_plugin.flow import Execute, Wait
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from .helpers import KEY

REPO = Path(__file__).resolve().parent.parent
POLICIES = sorted((REPO / "policies").glob("*.yaml"))
CALLS = [
    ("send_email", {"to": "jane.doe@example.org", "body": "Your refund is on its way."}),
    ("http_post", {"url": "https://hooks.example.com", "body": "key AKIA" + "IOSFODNN7EXAMPLE"}),
    ("export_table", {"table": "customers", "note": "card 4111 1111 1111 1111"}),
    ("run_sql", {"query": "select * from users where email = 'a@example.org'"}),
    ("search_docs", {"q": "refund policy"}),
]


def guard_decision(policy: Path, tool: str, args: dict, tmp_path: Path) -> tuple[str, str | None]:
    """What a real Guard decides for this call: its first step, or its outcome."""
    store = SQLiteStore(tmp_path / f"{policy.stem}-{tool}.db", key=KEY)
    try:
        guard = Guard(Policy.load(policy), store, principal="agent:support-bot")
        flow = guard.flow(tool, args, call_id="c1", run=guard.run("r1"))
        try:
            step = next(flow)
        except StopIteration as stop:
            decision = stop.value.decision
        else:
            if isinstance(step, Wait):
                return "require_approval", step.request.rule_id
            assert isinstance(step, Execute)
            decision = step.decision
        assert decision is not None
        return decision.effect.value, decision.rule_id
    finally:
        store.close()


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
@pytest.mark.parametrize(("tool", "args"), CALLS, ids=[c[0] for c in CALLS])
def test_explain_decides_as_the_guard_does(policy, tool, args, tmp_path):
    """Issue 14 #8: `policy explain --args JSON` (no --data) gives the decision a real Guard
    gives the same call, because it finds the data classes with the same masker."""
    result = CliRunner().invoke(
        cli,
        [
            "policy",
            "explain",
            str(policy),
            "--tool",
            tool,
            "--args",
            json.dumps(args),
            "--principal",
            "agent:support-bot",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)["decision"]
    assert (decision["effect"], decision["rule_id"]) == guard_decision(policy, tool, args, tmp_path)


def test_explain_names_the_data_it_found_and_data_overrides_the_masker():
    """Issue 14 #8: an email in the arguments is reported as found (class and path, never the
    value); --data states the classes instead of running the masker."""
    policy = str(REPO / "policies" / "default.yaml")
    args = json.dumps({"to": "jane.doe@example.org", "body": "hello"})
    base = ["policy", "explain", policy, "--tool", "send_email", "--args", args]
    result = CliRunner().invoke(cli, [*base, "--json"])
    data = json.loads(result.output)
    assert {"class": "EMAIL", "path": "to"} in data["data_found"]
    assert "jane.doe" not in result.output
    text = CliRunner().invoke(cli, base).output
    assert "Data found: EMAIL at to" in text and "no data of class PII" not in text
    stated = CliRunner().invoke(cli, [*base, "--data", "SECRET", "--json"])
    assert json.loads(stated.output)["data_found"] == [{"class": "SECRET", "path": None}]
