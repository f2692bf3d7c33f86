"""Shared test material for approvals and the store: a policy, a key, a requester."""

from __future__ import annotations

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli.identity import os_account
from guardrails_plugin.types import Principal, ToolCall

KEY = bytes(range(32))

# The CLI votes as the OS account running the tests (it cannot be told otherwise), so tests that
# vote from the CLI give that account to one of the policy's people.
ME = os_account()


def as_me(policy: str, person: str = "bob") -> str:
    """``policy`` with ``cli:<person>`` replaced by ``cli:<the OS account running the tests>``."""
    return policy.replace(f"cli:{person}]", f"cli:{ME}]").replace(f"cli:{person},", f"cli:{ME},")


POLICY = """
version: 1
defaults: {effect: deny}
people:
  alice: [slack:UALICE, cli:alice, email:alice@example.com]
  bob: [slack:UBOB, cli:bob]
  carol: [slack:UCAROL, cli:carol]
  dave: [slack:UDAVE, cli:dave]
  mallory: [slack:UMAL, cli:mallory]
groups:
  dba: [alice, bob, carol]
  oncall: [dave]
rules:
  - id: export
    match: {tool: export_table}
    effect: require_approval
    approval: {approvers: [dba], quorum: 2, timeout: 15m}
  - id: restart
    match: {tool: restart}
    effect: require_approval
    approval: {approvers: [dba, oncall], timeout: 5m}
  - id: no-destroy
    match: {tool: terraform_apply, args: {destroy: true}}
    effect: deny
  - id: apply
    match: {tool: terraform_apply}
    effect: require_approval
    approval: {approvers: [dba], allow_edit: true, require_reason: true}
"""

AGENT = Principal("agent:support-bot", on_behalf_of="slack:UALICE")


def make_request(
    broker: ApprovalBroker,
    tool: str = "export_table",
    args=None,
    call_id="call-1",
    principal: Principal = AGENT,
):
    call = ToolCall(
        tool,
        args if args is not None else {"table": "customers"},
        call_id=call_id,
        run_id="run-1",
        principal=principal,
    )
    decision = broker.policy.evaluate(call)
    return broker.request(call, decision, masked_args=dict(call.args))
