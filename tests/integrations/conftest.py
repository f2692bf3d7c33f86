from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY, ME

POLICY = """
version: 1
defaults: {effect: allow}
people:
  alice: [slack:UALICE, cli:alice]
  bob: [slack:UBOB, cli:bob]
  carol: [cli:carol]
groups:
  ops: [alice, bob, carol]
rules:
  - id: no-public-buckets
    match: {tool: s3_put_bucket_acl, args: {acl: {in: [public-read, public-read-write]}}}
    effect: deny
    reason: Public buckets are forbidden.
  - id: prod-export
    match: {tool: export_table, args: {database: {regex: "^prod"}}}
    effect: require_approval
    reason: Exporting production data needs ops.
    approval: {approvers: [ops], timeout: 15m, allow_edit: true}
  - id: quick-expiry
    match: {tool: restart_service}
    effect: require_approval
    approval: {approvers: [ops], timeout: 1s}
  - id: email-out
    match: {tool: send_email}
    effect: allow
    masking: {restore_placeholders: true}
"""
# The CLI votes as the OS account running the tests: that account is one of bob's identities.
POLICY = POLICY.replace("bob: [slack:UBOB, cli:bob]", f"bob: [slack:UBOB, cli:bob, cli:{ME}]")


class Spy:
    """Records every real execution of a tool."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def record(self, name: str, args: dict[str, Any]) -> None:
        self.calls.append((name, dict(args)))

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


@pytest.fixture(scope="session")
def shared_masker() -> Masker:
    return Masker()


@pytest.fixture
def guard(tmp_path: Path, shared_masker: Masker) -> Guard:
    store = SQLiteStore(tmp_path / "guard.db", key=KEY)
    g = Guard(
        Policy.from_string(POLICY),
        store,
        principal="agent:support-bot",
        on_behalf_of="slack:UALICE",
        masker=shared_masker,
    )
    yield g
    store.close()


@pytest.fixture
def spy() -> Spy:
    return Spy()
