"""Second red-team round (H1–H3): what the policy judged was not what the tool received.

H1: a rule with `restore_placeholders` was judged on the placeholder text, and the tool then got
    the real value: `SELECT ... WHERE address = '<ADDRESS_1>'` passed the read-only SQL rule and
    ran as `... '1 Main St'; DELETE FROM orders; --'`; `to: "<EMAIL_1>"` slipped past a deny
    rule on `@evil.example`. The call is now judged again with the values behind its
    placeholders, and runs only under the rule that allowed it.
H2: an "edit" that changed nothing, judged on the masked copy, moved a quorum-2 request onto a
    quorum-1 rule. An unchanged edit is a plain approval, and the restored values are judged.
H3: behind the callback handler (which cannot change arguments) an approved edit was claimed
    while the tool ran the model's original arguments. Covers P2 and P20.
"""

from __future__ import annotations

import contextlib
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from guardrails_plugin.integrations.langchain import GuardCallbackHandler
from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel, tool_call
from guardrails_plugin.store import Event, Status
from guardrails_plugin.testing import ScriptedApprover, Vote

from .conftest import SpyTool

SQL = """
version: 1
defaults:
  effect: deny
  masking: {restore_placeholders: true}
rules:
  - id: no-destructive-sql
    match: {tool: run_sql, args: {query: {sql: {any: [drop, truncate, delete]}}}}
    effect: deny
  - id: read-only
    match:
      any:
        - tool: ["get_*"]
        - tool: run_sql
          args: {query: {sql: {only: [select]}}}
    effect: allow
"""

MAIL = """
version: 1
defaults: {effect: deny}
rules:
  - id: no-evil
    match: {tool: send_email, args: {to: {regex: "@evil\\\\.example$"}}}
    effect: deny
  - id: mail
    match: {tool: [send_email, read_inbox]}
    effect: allow
    masking: {restore_placeholders: true}
"""


def test_a_restored_value_is_judged_before_the_tool_gets_it(make_guard):
    guard = make_guard(SQL)
    run = guard.run("r1")
    record = {"name": "Ana", "address": "1 Main St'; DELETE FROM orders; --"}
    seen = guard.call("get_customer", {"id": 7}, SpyTool(record), run=run)
    assert seen.output["address"] == "<ADDRESS_1>"
    tool = SpyTool()
    query = "SELECT * FROM orders WHERE address = '<ADDRESS_1>'"
    outcome = guard.call("run_sql", {"query": query}, tool, run=run)
    assert not outcome.allowed and tool.runs == []
    assert "no-destructive-sql" in outcome.message
    [refused] = [r for r in guard.store.audit_rows() if r.event == Event.EXECUTION_REFUSED]
    assert "real values behind its placeholders" in refused.data["why"]


def test_a_placeholder_does_not_slip_past_a_rule_on_the_value(make_guard):
    guard = make_guard(MAIL)
    run = guard.run("r1")
    guard.call("read_inbox", {}, SpyTool({"from": "boss@evil.example"}), run=run)
    tool = SpyTool()
    outcome = guard.call("send_email", {"to": "<EMAIL_1>", "body": "secrets"}, tool, run=run)
    assert not outcome.allowed and tool.runs == [] and "no-evil" in outcome.message
    # A placeholder whose value the rule allows is restored as before.
    guard.call("read_inbox", {}, SpyTool({"from": "ana@example.org"}), run=run)
    assert guard.call("send_email", {"to": "<EMAIL_2>", "body": "hi"}, tool, run=run).allowed
    assert tool.runs == [{"to": "ana@example.org", "body": "hi"}]


PERSONAL = """
version: 1
defaults: {effect: deny}
people: {alice: [cli:alice], bob: [cli:bob]}
groups: {security: [alice, bob], oncall: [alice]}
rules:
  - id: personal-mailbox
    match: {tool: send_email, args: {to: {regex: "@(gmail|yahoo|outlook)\\\\.com$"}}}
    effect: require_approval
    approval: {approvers: [security], quorum: 2, timeout: 10m, allow_edit: true}
    masking: {restore_placeholders: true}
  - id: email
    match: {tool: send_email}
    effect: require_approval
    approval: {approvers: [oncall], quorum: 1, timeout: 10m, allow_edit: true}
    masking: {restore_placeholders: true}
"""


def test_an_unchanged_edit_does_not_move_the_request_to_a_laxer_rule(make_guard):
    guard = make_guard(PERSONAL, wait_timeout=1.0)
    spy = SpyTool()

    def unchanged(request: Any) -> Vote:  # what Slack's "Approve edited" submits untouched
        return Vote("approve", "ok", edited_args=dict(request.masked_args))

    with ScriptedApprover(guard.broker, "cli:alice", decide=unchanged) as alice:
        outcome = guard.call("send_email", {"to": "leaker@gmail.com", "body": "Q3"}, spy)
    assert not outcome.allowed and spy.runs == []
    [request] = guard.store.list_requests()
    assert request.rule_id == "personal-mailbox" and request.revision == 0
    assert "approval 1 of 2" in alice.votes[0].message


def test_an_edit_onto_a_laxer_rule_is_judged_with_the_real_values(make_guard):
    guard = make_guard(PERSONAL)
    run = guard.run("r1")
    assert guard.masker.mask("leaker@gmail.com", vault=run.vault).value == "<EMAIL_1>"
    spy = SpyTool()

    def via_placeholder(request: Any) -> Vote:  # the masked copy no longer matches the regex
        return Vote("approve", "ok", edited_args={"to": "<EMAIL_1>", "body": "Q3"})

    with ScriptedApprover(guard.broker, "cli:alice", decide=via_placeholder):
        outcome = guard.call("send_email", {"to": "<EMAIL_1>", "body": "Q3 v1"}, spy, run=run)
    assert not outcome.allowed and spy.runs == []
    assert "personal-mailbox" in outcome.message


def test_the_callback_handler_never_runs_arguments_other_than_those_approved(make_guard):
    guard = make_guard(
        """
version: 1
defaults: {effect: deny}
people: {bob: [cli:bob]}
groups: {dba: [bob]}
rules:
  - id: export
    match: {tool: export_table}
    effect: require_approval
    approval: {approvers: [dba], allow_edit: true}
"""
    )
    ran: list[Any] = []

    @tool
    def export_table(table: str, limit: int) -> str:
        """Export rows of a table."""
        ran.append({"table": table, "limit": limit})
        return "exported"

    call = tool_call("export_table", {"table": "customers", "limit": 1_000_000})
    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call]), AIMessage("ok")])
    agent = create_agent(model, [export_table])
    narrow = Vote("approve", "only 10", edited_args={"table": "customers", "limit": 10})
    config = {"configurable": {"thread_id": "t"}, "callbacks": [GuardCallbackHandler(guard)]}
    with (
        ScriptedApprover(guard.broker, "cli:bob", decide=lambda r: narrow),
        contextlib.suppress(Exception),  # a callback can only stop the run
    ):
        agent.invoke({"messages": [("user", "export")]}, config)
    assert ran == []
    [request] = guard.store.list_requests()
    assert request.status is Status.APPROVED and request.executed_at is None


def test_restored_values_are_judged_after_the_tools_own_validation(tmp_path):
    """Third red team F5: a validator lower-cases the domain; `boss@EVIL.example` typed directly
    was denied by a rule on `@evil.example`, but `<EMAIL_1>` standing for it was judged before
    validation, passed, and the tool sent to boss@evil.example."""
    from typing import Annotated

    from pydantic import AfterValidator, BaseModel

    from .agents import agent_for, make_guard, run, tool_call

    def lower_domain(value: str) -> str:
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}" if local else value

    class Mail(BaseModel):
        to: Annotated[str, AfterValidator(lower_domain)]
        body: str

    sent: list[str] = []

    @tool(args_schema=Mail)
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        sent.append(to)
        return "sent"

    @tool
    def read_inbox() -> dict:
        """Read the inbox."""
        return {"from": "boss@EVIL.example"}

    guard = make_guard(tmp_path, MAIL)
    agent = agent_for(
        "middleware",
        guard,
        [send_email, read_inbox],
        [tool_call("read_inbox", {}, "c1")],
        [tool_call("send_email", {"to": "<EMAIL_1>", "body": "payroll"}, "c2")],
    )
    messages = run(agent)
    assert sent == [] and messages[-1].status == "error" and "no-evil" in messages[-1].content
