"""Red-team F5 (after issue 11 #3 and #6): a reviewer's edit was judged as typed, not as the tool
receives it.

The broker re-checks an edit against the policy, but on the reviewer's raw JSON: `force: "yes"`
passed an `equals: true` deny rule and `amount: "5_000"` passed `gt: 1000`, and the tools ran with
`True` and `5000`. The guard now validates an edit the way the adapter validates the model's
arguments and judges that before the approved call runs. Covers P2 and P20.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from guardrails_plugin.store import Event
from guardrails_plugin.testing import ScriptedApprover, Vote

from .agents import agent_for, make_guard, run, tool_call

POLICY = """
version: 1
defaults: {effect: allow}
people:
  bob: [cli:bob]
groups:
  ops: [bob]
rules:
  - id: no-forced-deploys
    match: {tool: deploy, args: {force: {equals: true}}}
    effect: deny
    reason: Forced deploys are not allowed.
  - id: big-transfers
    match: {tool: transfer, args: {amount: {gt: 1000}}}
    effect: deny
    reason: Transfers over 1000 are not allowed.
  - id: deploys-need-ops
    match: {tool: deploy}
    effect: require_approval
    approval: {approvers: [ops], timeout: 15m, allow_edit: true}
  - id: transfers-need-ops
    match: {tool: transfer, args: {amount: {gt: 100}}}
    effect: require_approval
    approval: {approvers: [ops], timeout: 15m, allow_edit: true}
"""


@pytest.mark.parametrize("variant", ["wrapper", "middleware"])
def test_an_edit_is_judged_as_the_tool_will_receive_it(tmp_path, variant):
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []

    @tool
    def deploy(service: str, force: bool = False) -> str:
        """Deploy a service."""
        ran.append(("deploy", service, force))
        return "deployed"

    @tool
    def transfer(amount: int, to: str) -> str:
        """Transfer money."""
        ran.append(("transfer", amount, to))
        return "sent"

    def edit(request: Any) -> Vote:
        if request.tool == "deploy":
            return Vote("approve", edited_args={"service": "api", "force": "yes"})
        if request.args_hash == request.current_hash:  # first look: edit it
            return Vote("approve", edited_args={"amount": "5_000", "to": "acct-9"})
        return Vote("approve")

    with ScriptedApprover(guard.broker, "cli:bob", decide=edit):
        messages = run(
            agent_for(
                variant,
                guard,
                [deploy, transfer],
                tool_call("deploy", {"service": "api"}, "c1"),
                tool_call("transfer", {"amount": 500, "to": "acct-9"}, "c2"),
            )
        )
    assert ran == []
    denials = [m.content for m in messages if getattr(m, "status", None) == "error"]
    assert len(denials) == 2
    assert "rule 'no-forced-deploys' denies it" in denials[0]
    assert "rule 'big-transfers' denies it" in denials[1]
    refused = [r for r in guard.store.audit_rows() if r.event == Event.EXECUTION_REFUSED]
    assert len(refused) == 2 and all("reviewer's edit" in r.data["why"] for r in refused)


@pytest.mark.parametrize("variant", ["wrapper", "middleware"])
def test_an_edit_the_tool_accepts_as_is_still_runs(tmp_path, variant):
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []

    @tool
    def transfer(amount: int, to: str) -> str:
        """Transfer money."""
        ran.append((amount, to))
        return "sent"

    edit = Vote("approve", edited_args={"amount": "200", "to": "acct-1"})
    with ScriptedApprover(guard.broker, "cli:bob", decide=lambda request: edit):
        run(
            agent_for(
                variant, guard, [transfer], tool_call("transfer", {"amount": 500, "to": "x"}, "c1")
            )
        )
    assert ran == [(200, "acct-1")]


DEFAULTED = """
version: 1
defaults: {effect: deny}
people: {dan: [cli:dan], dora: [cli:dora]}
groups: {dba: [dan, dora]}
rules:
  - id: big-export
    match: {tool: export_table, args: {limit: {gt: 1000}}}
    effect: require_approval
    approval: {approvers: [dba], quorum: 2, timeout: 10m, allow_edit: true}
  - id: export
    match: {tool: export_table}
    effect: require_approval
    approval: {approvers: [dba], quorum: 1, timeout: 10m, allow_edit: true}
"""


@pytest.mark.parametrize("variant", ["wrapper", "middleware"])
def test_an_edit_that_drops_an_argument_is_judged_with_its_default(tmp_path, variant):
    """Third red team F3: one DBA edited `export_table(table, limit=5_000_000)` down to
    `{"table": ...}`; judged without `limit`, the edit moved to the quorum-1 rule and the
    function ran with its default 5,000,000."""
    guard = make_guard(tmp_path, DEFAULTED, wait_timeout=5)
    ran: list[int] = []

    @tool
    def export_table(table: str, limit: int = 5_000_000) -> str:
        """Export rows of a table."""
        ran.append(limit)
        return "exported"

    def drop_limit(request: Any) -> Vote | None:
        return (
            Vote("approve", "ok", edited_args={"table": "customers"})
            if not request.revision
            else None
        )

    with ScriptedApprover(guard.broker, "cli:dan", decide=drop_limit):
        messages = run(
            agent_for(
                variant,
                guard,
                [export_table],
                tool_call("export_table", {"table": "customers"}, "c1"),
            )
        )
    assert ran == []
    assert messages[0].status == "error" and "big-export" in messages[0].content
