"""Step-up (issue 16): ``approval: {authentication: oidc}`` rules refuse CLI votes with the
inbox link, keep the requirement in the request's keyed terms, and a policy check knows it."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli import cli
from guardrails_plugin.errors import ApprovalError, PolicyError
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY, ME, make_request

POLICY = f"""
version: 1
defaults: {{effect: allow}}
people:
  bob: [cli:{ME}, oidc:bob@example.com]
rules:
  - id: wire
    match: {{tool: export_table}}
    effect: require_approval
    approval: {{approvers: [bob], authentication: oidc}}
"""


@pytest.fixture
def broker(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    monkeypatch.setenv("GUARDRAILS_DB", str(tmp_path / "g.db"))
    monkeypatch.setenv("GUARDRAILS_PUBLIC_URL", "https://guard.example.com/")
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    yield ApprovalBroker(store, Policy.from_string(POLICY))
    store.close()


def test_the_cli_is_refused_with_the_inbox_link(broker):
    """bob is an approver with a CLI identity, but the rule wants a signed-in reviewer: the
    CLI says so with the request's inbox URL, the refusal is audited, nothing is decided."""
    request = make_request(broker)
    result = CliRunner().invoke(cli, ["approve", request.id, "--revision", "0"])
    assert result.exit_code != 0
    assert "signed in through the identity provider" in result.output
    assert f"https://guard.example.com/inbox/requests/{request.id}" in result.output
    assert broker.get(request.id).status.value == "pending"
    refused = [r for r in broker.store.audit_rows() if r.event == Event.VOTE_REFUSED]
    assert refused and refused[-1].data["kind"] == "StepUpRequired"


def test_clearing_the_requirement_in_the_file_stops_every_vote(broker, tmp_path):
    """Someone who can write the database sets the column to NULL to let a CLI vote through:
    the request no longer matches its keyed terms, so no vote counts at all."""
    request = make_request(broker)
    with sqlite3.connect(tmp_path / "g.db") as conn:
        conn.execute("UPDATE requests SET authentication = NULL WHERE id = ?", (request.id,))
    with pytest.raises(ApprovalError, match="does not match the audit log"):
        broker.vote(request.id, f"cli:{ME}", "approve", revision=0)
    with pytest.raises(ApprovalError, match="does not match the audit log"):
        broker.vote(request.id, "oidc:bob@example.com", "approve", revision=0)


def test_only_oidc_is_a_known_authentication():
    with pytest.raises(PolicyError, match="authentication"):
        Policy.from_string(POLICY.replace("authentication: oidc", "authentication: saml"))
