"""Issue 11 #3: type coercion slipped past the policy.

The guard evaluated the model's raw JSON while the tool received what pydantic made of it:
``force: "yes"`` passed an ``equals: true`` deny rule and ``"5_000"`` passed ``gt: 1000``; the
tools ran with ``True`` and ``5000``. The guard now evaluates (and binds an approval to) the
arguments as the tool will receive them, after the tool's own validation, and the tool gets
exactly those values.
Properties (shared/research/RELIABILITY.md): P2 (an approval is bound to the exact call that
runs), P1 (fail closed: arguments the guard cannot pin down are refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import StructuredTool, tool
from pydantic import BaseModel, field_validator

from guardrails_plugin.store import Event, Status
from guardrails_plugin.testing import ScriptedApprover

from .agents import VARIANTS, agent_for, events, make_guard, run, tool_call

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
  - id: transfers-need-ops
    match: {tool: transfer, args: {amount: {gt: 100}}}
    effect: require_approval
    approval: {approvers: [ops], timeout: 15m}
  - id: big-payments
    match: {tool: pay, args: {payment.amount: {gt: 1000}}}
    effect: deny
    reason: Payments over 1000 are not allowed.
  - id: no-prod-restarts
    match: {tool: restart, args: {env: prod}}
    effect: deny
    reason: Production is restarted by humans.
  - id: notify-real-address
    match: {tool: notify}
    effect: allow
    masking: {restore_placeholders: true}
"""

ASYNC = pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])


class Payment(BaseModel):
    amount: int
    currency: str


class RestartArgs(BaseModel):
    """An args_schema of its own: its validator normalizes the environment name."""

    env: str

    @field_validator("env")
    @classmethod
    def _normal(cls, value: str) -> str:
        return value.strip().lower()


def make_tools(ran: list[Any]) -> list[Any]:
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

    @tool
    def pay(payment: Payment, memo: str = "") -> str:
        """Pay."""
        ran.append(("pay", payment, memo))
        return "paid"

    def restart(env: str) -> str:
        ran.append(("restart", env))
        return "restarted"

    @tool
    def lookup(customer_id: int) -> str:
        """Look a customer up."""
        return "Ana Lopez, ana.lopez@example.org"

    @tool
    def notify(to: str, times: int) -> str:
        """Notify someone."""
        ran.append(("notify", to, times))
        return "notified"

    restart_tool = StructuredTool.from_function(
        restart, name="restart", description="Restart an environment.", args_schema=RestartArgs
    )
    return [deploy, transfer, pay, restart_tool, lookup, notify]


@pytest.mark.parametrize("variant", VARIANTS)
@ASYNC
def test_a_truthy_string_does_not_pass_an_equals_true_rule(tmp_path: Path, variant, asynchronous):
    """Issue 11 #3: ``force: "yes"`` passed ``equals: true``; the tool ran with True."""
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []
    call = tool_call("deploy", {"service": "api", "force": "yes"})
    [message] = run(agent_for(variant, guard, make_tools(ran), call), asynchronous=asynchronous)
    assert ran == []
    assert (
        message.content
        == "Denied by policy rule 'no-forced-deploys': Forced deploys are not allowed."
    )
    [evaluated] = events(guard, Event.CALL_EVALUATED)
    assert evaluated["masked_args"] == {"service": "api", "force": True}


@pytest.mark.parametrize("variant", VARIANTS)
@ASYNC
def test_an_underscored_number_does_not_pass_a_gt_rule(tmp_path: Path, variant, asynchronous):
    """Issue 11 #3: ``amount: "5_000"`` passed ``gt: 1000``; the tool ran with 5000."""
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []
    call = tool_call("transfer", {"amount": "5_000", "to": "acct-9"})
    [message] = run(agent_for(variant, guard, make_tools(ran), call), asynchronous=asynchronous)
    assert ran == []
    assert "big-transfers" in message.content and message.status == "error"


@pytest.mark.parametrize("variant", VARIANTS)
@ASYNC
def test_a_nested_pydantic_argument_is_checked_as_data(tmp_path: Path, variant, asynchronous):
    """Issue 11 #3/#4: a rule on ``payment.amount`` never matched a pydantic argument."""
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []
    big = tool_call("pay", {"payment": {"amount": "5000", "currency": "EUR"}})
    small = tool_call("pay", {"payment": {"amount": 20, "currency": "EUR"}, "memo": "tip"})
    messages = run(
        agent_for(variant, guard, make_tools(ran), big, small), asynchronous=asynchronous
    )
    by_id = {m.tool_call_id: m for m in messages}
    assert by_id[big["id"]].status == "error" and "big-payments" in by_id[big["id"]].content
    assert by_id[small["id"]].status == "success"
    assert ran == [("pay", Payment(amount=20, currency="EUR"), "tip")]
    assert isinstance(ran[0][1], Payment)  # the tool still gets its typed value
    evaluated = {e["call_id"]: e for e in events(guard, Event.CALL_EVALUATED)}
    assert evaluated[big["id"]]["masked_args"]["payment"] == {"amount": 5000, "currency": "EUR"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_approval_is_bound_to_the_values_the_tool_receives(tmp_path: Path, variant):
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []
    call = tool_call("transfer", {"amount": "500", "to": "acct-9"})
    with ScriptedApprover(guard.broker, "cli:bob"):
        [message] = run(agent_for(variant, guard, make_tools(ran), call))
    assert message.status == "success"
    assert ran == [("transfer", 500, "acct-9")]
    [request] = guard.store.list_requests(Status.APPROVED)
    assert dict(request.masked_args) == {"amount": 500, "to": "acct-9"}  # what the voter saw


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_tools_own_validators_decide_what_is_evaluated(tmp_path: Path, variant):
    """The tool's args_schema (with its validators), not LangChain's validator-less
    model-facing copy of it, decides what the guard checks."""
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []
    call = tool_call("restart", {"env": "  PROD "})
    [message] = run(agent_for(variant, guard, make_tools(ran), call))
    assert ran == [] and "no-prod-restarts" in message.content


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_invalid_call_gets_the_tools_own_error_and_never_runs(tmp_path: Path, variant):
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []
    call = tool_call("deploy", {"service": "api", "force": "maybe"}, "call-bad")
    [plain] = run(agent_for("plain", None, make_tools([]), call))
    [message] = run(agent_for(variant, guard, make_tools(ran), call))
    assert ran == []
    assert (message.status, message.content) == (plain.status, plain.content)
    assert "force" in message.content


@pytest.mark.parametrize("variant", VARIANTS)
def test_restored_placeholders_reach_the_tool_typed(tmp_path: Path, variant):
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []
    turns = [
        [tool_call("lookup", {"customer_id": 7})],
        [tool_call("notify", {"to": "<EMAIL_1>", "times": "3"})],
    ]
    messages = run(agent_for(variant, guard, make_tools(ran), *turns))
    assert [m.status for m in messages] == ["success", "success"]
    assert ran == [("notify", "ana.lopez@example.org", 3)]


class Doubling(BaseModel):
    amount: int

    @field_validator("amount")
    @classmethod
    def _double(cls, value: int) -> int:
        return value * 2  # not idempotent: validating twice gives another value


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_validator_that_changes_its_own_output_is_refused(tmp_path: Path, variant):
    """If the tool would validate the checked values again and get other values, the guard
    cannot know what the tool would get: it refuses rather than guess. (Behind guard_tools,
    LangChain validated once and the tool gets exactly the values the guard judged.)"""
    guard = make_guard(tmp_path, POLICY)
    ran: list[Any] = []
    doubled = StructuredTool.from_function(
        lambda amount: ran.append(amount), name="bump", description="Bump.", args_schema=Doubling
    )
    [message] = run(agent_for(variant, guard, [doubled], tool_call("bump", {"amount": 2})))
    if variant == "wrapper":
        assert ran == [4] and message.status == "success"
        [evaluated] = [r for r in guard.store.audit_rows() if r.event == "call.evaluated"]
        assert evaluated.data["masked_args"] == {"amount": 4}  # judged what ran
        return
    assert ran == [] and message.status == "error"
    assert "not stable" in message.content


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), float("-inf")])
def test_a_number_no_rule_can_compare_is_refused(tmp_path: Path, amount: float) -> None:
    """Review of issues 11-12: NaN is neither above nor below a limit, so `amount: {gt: 1000}`
    did not match `nan` and a default-allow policy let the transfer run (5000 was denied). The
    guard refuses non-finite numbers in arguments: it cannot check them."""
    guard = make_guard(tmp_path, POLICY)
    ran: list[dict[str, Any]] = []
    outcome = guard.call("transfer", {"amount": amount}, lambda args: ran.append(args))
    assert not outcome.allowed and ran == []
    assert "could not check the call" in outcome.message
    assert guard.call("transfer", {"amount": 50.5}, lambda args: ran.append(args)).allowed
