"""Issue 11 #8: a run's configuration overrode the Guard's own context.

Callers of a LangGraph server control ``config["configurable"]``. The adapters merged
``guard_environment`` / ``guard_on_behalf_of`` from it over what the Guard was built with, so a
caller downgraded a production rule (``env: dev``) and approved their own run by claiming to act
for someone else. What the Guard was constructed with wins; a run may set only what the
application allowed with ``Guard(run_overrides=...)``, and that is audited.
Properties (shared/research/RELIABILITY.md): P3 (no self-approval), P1 (fail closed), P27 (the
audit trail is complete), P37 (secure by default: nothing is per-run unless allowed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import tool

from guardrails_plugin.errors import ConfigError
from guardrails_plugin.store import Event, Status
from guardrails_plugin.testing import ScriptedApprover, Vote

from .agents import VARIANTS, agent_for, events, make_guard, run, tool_call

POLICY = """
version: 1
defaults: {effect: allow}
people:
  alice: [slack:UALICE, cli:alice]
  bob: [slack:UBOB, cli:bob]
groups:
  ops: [alice, bob]
rules:
  - id: no-prod-export
    match: {tool: export_table, context: {environment: {env: prod}}}
    effect: deny
    reason: No exports from production.
  - id: eu-stays-in-eu
    match: {tool: export_table, context: {environment: {region: eu}}}
    effect: deny
    reason: EU data stays in the EU.
  - id: restart-needs-ops
    match: {tool: restart_service}
    effect: require_approval
    approval: {approvers: [ops], timeout: 15m}
"""


def make_tools(ran: list[str]) -> list[Any]:
    @tool
    def export_table(table: str) -> str:
        """Export a table."""
        ran.append(f"export_table {table}")
        return "exported"

    @tool
    def restart_service(name: str) -> str:
        """Restart a service."""
        ran.append(f"restart_service {name}")
        return "restarted"

    return [export_table, restart_service]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
def test_a_run_cannot_downgrade_the_guards_environment(tmp_path: Path, variant, asynchronous):
    """Issue 11 #8: ``configurable.guard_environment = {env: dev}`` turned a production
    export, denied by ``no-prod-export``, into an allowed call."""
    guard = make_guard(tmp_path, POLICY, environment={"env": "prod"})
    ran: list[str] = []
    agent = agent_for(variant, guard, make_tools(ran), tool_call("export_table", {"table": "t"}))
    [message] = run(
        agent, asynchronous=asynchronous, configurable={"guard_environment": {"env": "dev"}}
    )
    assert ran == []
    assert message.status == "error"
    assert "configurable.guard_environment['env']" in message.content
    assert "run_overrides=['environment.env']" in message.content
    [refused] = events(guard, Event.RUN_CONFIG_REFUSED)
    assert refused["key"] == "configurable.guard_environment['env']"
    assert "dev" not in str(refused)  # the caller's value is not repeated


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_requester_cannot_approve_their_own_run_by_acting_for_someone_else(
    tmp_path: Path, variant
):
    """Issue 11 #8: the run acts for alice; ``configurable.guard_on_behalf_of = bob`` made bob
    the requester, so alice approved her own request and the tool ran."""
    guard = make_guard(tmp_path, POLICY, on_behalf_of="slack:UALICE")
    ran: list[str] = []
    agent = agent_for(
        variant, guard, make_tools(ran), tool_call("restart_service", {"name": "billing"})
    )
    with ScriptedApprover(guard.broker, "cli:alice") as alice:
        [message] = run(agent, configurable={"guard_on_behalf_of": "slack:UBOB"})
    assert ran == [] and alice.votes == []
    assert guard.store.list_requests(Status.PENDING) == []  # refused before anyone is asked
    assert message.status == "error"
    assert "configurable.guard_on_behalf_of" in message.content
    assert "run_overrides=['on_behalf_of']" in message.content


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_allowed_environment_key_is_used_and_audited(tmp_path: Path, variant):
    guard = make_guard(
        tmp_path, POLICY, environment={"env": "staging"}, run_overrides=["environment.region"]
    )
    ran: list[str] = []
    agent = agent_for(variant, guard, make_tools(ran), tool_call("export_table", {"table": "t"}))
    # region comes from the run (allowed); env repeats the Guard's own value (no override).
    configurable = {"guard_environment": {"region": "eu", "env": "staging"}}
    [message] = run(agent, configurable=configurable)
    assert ran == []
    assert message.content == "Denied by policy rule 'eu-stays-in-eu': EU data stays in the EU."
    [configured] = events(guard, Event.RUN_CONFIGURED)
    assert configured["environment"] == {"env": "staging", "region": "eu"}
    assert configured["set_by_run"] == ["environment.region"]
    assert configured["source"] == "configurable"
    assert configured["run_id"] == "thread:t-1"


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_allowed_on_behalf_of_keeps_separation_of_duties(tmp_path: Path, variant):
    guard = make_guard(
        tmp_path, POLICY, on_behalf_of="slack:UALICE", run_overrides=["on_behalf_of"]
    )
    ran: list[str] = []
    agent = agent_for(
        variant, guard, make_tools(ran), tool_call("restart_service", {"name": "billing"})
    )
    with (
        ScriptedApprover(guard.broker, "cli:bob") as bob,
        ScriptedApprover(
            guard.broker, "cli:alice", decide=lambda r: Vote() if bob.refused else None
        ) as alice,
    ):
        [message] = run(agent, configurable={"guard_on_behalf_of": "slack:UBOB"})
    assert bob.refused and "self-approval" in str(bob.refused[0])  # bob is now the requester
    assert alice.votes and message.status == "success" and ran == ["restart_service billing"]
    [request] = guard.store.list_requests(Status.APPROVED)
    assert request.on_behalf_of == "slack:UBOB"
    [configured] = events(guard, Event.RUN_CONFIGURED)
    assert configured["on_behalf_of"] == "slack:UBOB"
    assert configured["set_by_run"] == ["on_behalf_of"]
    # The override held for that call only: the run, as the application sees it and as later
    # calls without the setting get it, still acts for alice (review of issues 11-12).
    assert guard.run("thread:t-1").principal.on_behalf_of == "slack:UALICE"


def test_the_application_itself_still_sets_a_runs_context(tmp_path: Path):
    """``Guard.run`` is called by trusted code: it needs no opt-in."""
    guard = make_guard(tmp_path, POLICY, environment={"env": "prod"})
    ran: list[str] = []
    run_ = guard.run("nightly", environment={"env": "dev"})
    outcome = guard.call("export_table", {"table": "t"}, lambda a: ran.append("x"), run=run_)
    assert outcome.allowed and ran == ["x"]
    assert events(guard, Event.RUN_CONFIGURED) == []


@pytest.mark.parametrize(
    "bad", ["principal", "environment", "environment.", "on_behalf", "environment.*"]
)
def test_run_overrides_names_only_known_settings(tmp_path: Path, bad: str):
    with pytest.raises(ConfigError, match="run_overrides") as err:
        make_guard(tmp_path, POLICY, run_overrides=[bad])
    assert repr(bad) in str(err.value)
