"""A Hypothesis state machine over request / vote / edit / expire / restart / execute.

Invariants after every step: decided states never change, a tool runs at most once per request
and only when approved with the approved arguments, outsiders and the requester never count,
an approval has a quorum of distinct eligible people, and the audit chain verifies.
Run longer with HYPOTHESIS_PROFILE=long.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import ApprovalError, ToolDenied
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Status, Verdict
from guardrails_plugin.store.factory import open_store
from guardrails_plugin.testing import FrozenClock
from guardrails_plugin.types import Principal, ToolCall

from ..helpers import KEY, POLICY

REQUESTER = Principal("agent:bot", on_behalf_of="slack:UALICE")
VOTERS = ["cli:alice", "slack:UBOB", "cli:bob", "cli:carol", "cli:dave", "cli:mallory", "agent:bot"]
TOOLS = {"export_table": 2, "restart": 1, "terraform_apply": 1}  # tool -> quorum
# Who may approve each tool's requests: alice is the requester's human, mallory is nobody.
ELIGIBLE = {
    "export_table": {"bob", "carol"},
    "restart": {"bob", "carol", "dave"},
    "terraform_apply": {"bob", "carol"},
}
PERSON = {
    "cli:alice": "alice",
    "slack:UBOB": "bob",
    "cli:bob": "bob",
    "cli:carol": "carol",
    "cli:dave": "dave",
    "cli:mallory": "mallory",
    "agent:bot": None,
}


class Approvals(RuleBasedStateMachine):
    requests = Bundle("requests")

    # A fresh store location per example, and how to remove it: set by `test_approvals`.
    new_location: Callable[[], str]
    drop_location: Callable[[str], None]

    def __init__(self) -> None:
        super().__init__()
        self.location = self.new_location()
        self.clock = FrozenClock()
        self.policy = Policy.from_string(POLICY)
        self._open()
        self.args: dict[str, dict] = {}
        self.seen_terminal: dict[str, Status] = {}
        self.executions: dict[str, int] = {}
        self.counter = 0

    def _open(self) -> None:
        self.store = open_store(self.location, key=KEY, clock=self.clock)
        self.broker = ApprovalBroker(self.store, self.policy, clock=self.clock)

    def teardown(self) -> None:
        self.store.close()
        self.drop_location(self.location)

    @rule(target=requests, tool=st.sampled_from(sorted(TOOLS)), n=st.integers(0, 3))
    def create(self, tool: str, n: int) -> str:
        self.counter += 1
        args = {"n": n, "k": self.counter}
        call = ToolCall(tool, args, call_id=f"c{self.counter}", principal=REQUESTER)
        request = self.broker.request(call, self.policy.evaluate(call), masked_args=args)
        self.args[request.id] = args
        return request.id

    @rule(
        request_id=requests,
        voter=st.sampled_from(VOTERS),
        verdict=st.sampled_from(list(Verdict)),
        reason=st.sampled_from([None, "ok"]),
    )
    def vote(self, request_id: str, voter: str, verdict: Verdict, reason: str | None) -> None:
        before = self.store.get_request(request_id)
        try:
            result = self.broker.vote(
                request_id, voter, verdict, reason=reason, revision=before.revision
            )
        except ApprovalError:
            return
        assert PERSON[voter] in ELIGIBLE[before.tool], voter
        assert before.status is Status.PENDING  # a decided request refuses votes (it raised)
        after = self.store.get_request(request_id)
        if not result.counted:  # a repeated vote changes nothing
            assert (after.status, after.revision) == (before.status, before.revision)
        elif verdict is Verdict.DENY:  # one counted deny decides
            assert after.status is Status.DENIED

    @rule(request_id=requests, n=st.integers(0, 3))
    def edit(self, request_id: str, n: int) -> None:
        edited = {"n": n, "edited": True}
        current = self.store.get_request(request_id)
        try:
            self.broker.vote(
                request_id,
                "cli:carol",
                "approve",
                reason="edit",
                edited_args=edited,
                revision=current.revision,
            )
        except ApprovalError:
            return
        self.args[request_id] = edited

    @rule(seconds=st.sampled_from([1, 60, 299, 301, 900, 3600]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        self.broker.expire_due()

    @rule()
    def restart(self) -> None:
        self.store.close()
        self._open()

    @rule(request_id=requests, tamper=st.booleans())
    def execute(self, request_id: str, tamper: bool) -> None:
        args = dict(self.args[request_id])
        if tamper:
            args["n"] = args.get("n", 0) + 100
        tool = self.store.get_request(request_id).tool
        try:
            request = self.broker.claim_execution(request_id, tool, args)
        except ToolDenied:
            return
        assert not tamper
        assert request.status is Status.APPROVED
        self.executions[request_id] = self.executions.get(request_id, 0) + 1

    @invariant()
    def decided_states_never_change(self) -> None:
        for request in self.store.list_requests(limit=1000):
            if request.id in self.seen_terminal:
                assert request.status is self.seen_terminal[request.id]
            elif request.terminal:
                self.seen_terminal[request.id] = request.status

    @invariant()
    def at_most_one_execution(self) -> None:
        assert all(count <= 1 for count in self.executions.values())

    @invariant()
    def approvals_have_a_quorum_of_eligible_people(self) -> None:
        for request in self.store.list_requests(Status.APPROVED, limit=1000):
            votes = self.store.votes(request.id)
            people = {
                v.person
                for v in votes
                if v.verdict is Verdict.APPROVE and v.revision == request.revision
            }
            assert len(people) >= TOOLS[request.tool]
            assert people <= ELIGIBLE[request.tool]

    @precondition(lambda self: self.counter > 0)
    @invariant()
    def audit_chain_verifies(self) -> None:
        assert self.store.verify_audit().ok


LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"


class TestApprovals:
    """The state machine on each backend (RELIABILITY P6, P7, P8, P19, P21, P24, P28)."""

    def test_on_each_backend(self, backend: str, request: pytest.FixtureRequest) -> None:
        if backend == "postgres":
            cluster = request.getfixturevalue("pg_cluster")
            new, drop = cluster.create_database, cluster.drop_database
        else:

            def new() -> str:
                return str(Path(tempfile.mkdtemp()) / "g.db")

            def drop(location: str) -> None:
                shutil.rmtree(Path(location).parent, ignore_errors=True)

        bound = type(
            "Approvals",
            (Approvals,),
            {"new_location": staticmethod(new), "drop_location": staticmethod(drop)},
        )
        run_state_machine_as_test(
            bound,
            settings=settings(
                max_examples=5000 if LONG else 100, stateful_step_count=30, deadline=None
            ),
        )
