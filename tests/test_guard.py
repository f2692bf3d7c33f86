"""The Guard's one decision path, without any framework: fail closed, block, drivers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from guardrails_plugin.errors import MaskingError, StoreError
from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.testing import ScriptedApprover, Vote

from .helpers import KEY

POLICY = """
version: 1
defaults: {effect: allow}
people: {alice: [cli:alice], bob: [cli:bob]}
groups: {ops: [alice, bob]}
rules:
  - id: no-secrets
    match: {tool: post}
    effect: allow
    masking: {classes: {SECRET: block}}
  - id: deploy
    match: {tool: deploy}
    effect: require_approval
    approval: {approvers: [ops]}
  - id: send
    match: {tool: send}
    effect: allow
    masking: {restore_placeholders: true}
  - id: invite
    match: {tool: invite}
    effect: require_approval
    approval: {approvers: [ops], allow_edit: true, timeout: 30s}
    masking: {restore_placeholders: true}
"""


@pytest.fixture
def guard(tmp_path) -> Guard:
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    g = Guard(
        Policy.from_string(POLICY),
        store,
        principal="agent:bot",
        on_behalf_of="cli:alice",
        masker=Masker(ner=False),
    )
    yield g
    store.close()


class Tool:
    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def __call__(self, args: dict[str, Any]) -> Any:
        self.runs.append(args)
        return {"echo": args}


def events(guard: Guard) -> list[str]:
    return [r.event for r in guard.store.audit_rows()]


def test_masker_failure_denies_and_is_audited(guard, monkeypatch):
    def broken(value: Any) -> Any:
        raise MaskingError("detector exploded")

    monkeypatch.setattr(guard.masker, "analyze", broken)
    tool = Tool()
    outcome = guard.call("lookup", {"x": 1}, tool)
    assert not outcome.allowed and tool.runs == []
    assert outcome.message == (
        "Denied: the guard could not check the call (MaskingError), so the call was not made."
    )
    [row] = list(guard.store.audit_rows())
    assert row.event == Event.GUARD_ERROR and "detector exploded" in row.data["error"]


def test_policy_failure_denies(guard, monkeypatch):
    monkeypatch.setattr(guard.policy, "evaluate", lambda *a, **k: 1 / 0)
    tool = Tool()
    outcome = guard.call("lookup", {}, tool)
    assert not outcome.allowed and tool.runs == [] and "internal error" in outcome.message


def test_store_failure_before_the_call_denies(guard, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("database is locked")

    monkeypatch.setattr(guard.store, "record_event", broken)
    tool = Tool()
    assert not guard.call("lookup", {}, tool).allowed and tool.runs == []


def test_without_an_intent_row_a_store_failure_withholds_the_result(guard, monkeypatch):
    guard.record_intent = False

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("disk full")

    monkeypatch.setattr(guard.store, "record_events", broken)
    tool = Tool()
    outcome = guard.call("lookup", {"x": 1}, tool)
    assert tool.runs == [{"x": 1}]  # the documented trade-off: it ran...
    assert not outcome.allowed and "result is withheld" in outcome.message  # ...but is withheld


def test_blocked_data_class_denies_before_the_tool_runs(guard):
    tool = Tool()
    outcome = guard.call("post", {"body": "key AKIAIOSFODNN7EXAMPLE"}, tool)
    assert tool.runs == [] and "API_KEY data, which the policy blocks" in outcome.message


def test_outputs_are_masked_and_runs_keep_their_vault(guard):
    run = guard.run("r1")
    first = guard.call("lookup", {}, lambda a: "mail ana@example.org", run=run)
    second = guard.call("lookup", {}, lambda a: "again ana@example.org", run=guard.run("r1"))
    other = guard.call("lookup", {}, lambda a: "bo@example.net", run=guard.run("r2"))
    assert (first.output, second.output, other.output) == (
        "mail <EMAIL_1>",
        "again <EMAIL_1>",
        "<EMAIL_1>",
    )
    assert guard.run("r1").vault.lookup("<EMAIL_1>") == "ana@example.org"


def test_a_placeholder_the_run_never_issued_denies_instead_of_reaching_the_tool(guard):
    guard.record_intent = False  # the denial is audited even when allow rows are deferred
    run = guard.run("r1")
    guard.call("lookup", {}, lambda a: "ana@example.org", run=run)
    tool = Tool()
    sent = guard.call("send", {"to": "<EMAIL_1>", "ref": "<TICKET_1>"}, tool, run=run)
    assert sent.allowed and tool.runs == [{"to": "ana@example.org", "ref": "<TICKET_1>"}]

    # Another run (or a process that resumed this run) lacks <EMAIL_1>; no run has <EMAIL_7>.
    outcome = guard.call("send", {"to": "<EMAIL_1>", "cc": "<EMAIL_7>"}, tool, run=guard.run("r2"))
    assert not outcome.allowed and len(tool.runs) == 1
    assert outcome.message.startswith("Denied: the arguments use <EMAIL_1>, <EMAIL_7>, which this")
    row = list(guard.store.audit_rows())[-1]
    assert row.event == Event.CALL_EVALUATED
    assert row.data["unknown_placeholders"] == ["<EMAIL_1>", "<EMAIL_7>"]


def test_unknown_placeholders_are_refused_before_approval_and_after_edits(guard):
    run = guard.run("r1")
    guard.call("lookup", {}, lambda a: "ana@example.org", run=run)
    tool = Tool()
    asked = guard.call("invite", {"who": "<EMAIL_2>"}, tool, run=run, call_id="c-1")
    assert not asked.allowed and asked.request_id is None  # nobody was asked

    edit = Vote(edited_args={"who": "<EMAIL_1>", "cc": "<EMAIL_5>"})
    with ScriptedApprover(guard.broker, "cli:bob", decide=lambda r: edit):
        edited = guard.call("invite", {"who": "<EMAIL_1>"}, tool, run=run, call_id="c-2")
    assert not edited.allowed and tool.runs == [] and "<EMAIL_5>" in edited.message
    assert edited.request_id is not None
    row = list(guard.store.audit_rows())[-1]
    assert row.event == Event.EXECUTION_REFUSED and row.data["unknown_placeholders"] == [
        "<EMAIL_5>"
    ]


def test_async_driver_waits_for_approval(guard):
    async def deploy(args: dict[str, Any]) -> str:
        return f"deployed {args['service']}"

    async def main() -> Any:
        return await guard.acall("deploy", {"service": "api"}, deploy, call_id="c-1")

    with ScriptedApprover(guard.broker, "cli:bob"):
        outcome = asyncio.run(main())
    assert outcome.allowed and outcome.output == "deployed api"
    assert events(guard)[-2:] == [Event.TOOL_EXECUTING, Event.TOOL_EXECUTED]


def test_async_observer_hears_the_wait_start_and_end_and_cannot_change_the_outcome(guard):
    seen: list[str] = []

    def observe(request: Any) -> None:
        seen.append(request.status.value)
        raise RuntimeError("event stream closed")

    async def deploy(args: dict[str, Any]) -> str:
        return "deployed"

    async def main() -> Any:
        return await guard.acall("deploy", {"service": "api"}, deploy, observe=observe)

    with ScriptedApprover(guard.broker, "cli:bob"):
        outcome = asyncio.run(main())
    assert outcome.allowed and outcome.output == "deployed"
    assert seen == ["pending", "approved"]


def test_a_custom_wait_can_suspend_the_call_or_deny_it(guard):
    class Suspend(Exception):
        pass

    def suspend(step: Any) -> Any:
        raise Suspend(step.request.id)

    tool = Tool()
    with pytest.raises(Suspend):
        guard.call("deploy", {"service": "api"}, tool, passthrough=(Suspend,), wait=suspend)
    outcome = guard.call("deploy", {"service": "web"}, tool, wait=suspend)
    assert not outcome.allowed and "could not get a decision" in outcome.message
    assert tool.runs == []


def test_from_policy_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    guard = Guard.from_policy(
        policy,
        store=tmp_path / "x.db",
        principal="agent:bot",
        on_behalf_of="cli:alice",
        environment={"env": "prod"},
        masker=Masker(ner=False),
    )
    run = guard.run("r", environment={"region": "eu"})
    assert run.environment == {"env": "prod", "region": "eu"}
    assert run.principal.on_behalf_of == "cli:alice"
    assert guard.call("lookup", {}, lambda a: "ok", run=run).output == "ok"
