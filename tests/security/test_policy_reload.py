"""Issue 11 #20: a changed policy file was never re-read, and nothing said so.

`Guard.reload_policy()` loads the file again and swaps the policy in for new calls; a broken file
changes nothing (the error is raised and audited, the old policy stays). Both are audited.
Covers P27 (policy reload in the audit trail) and P13 (a partial policy never loads).
"""

from __future__ import annotations

import pytest

from guardrails_plugin.errors import ConfigError, PolicyError
from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY
from .conftest import SpyTool

ALLOW = """
version: 1
defaults: {effect: allow}
rules: []
"""
DENY_DROP = """
version: 1
defaults: {effect: allow}
rules:
  - id: no-drop
    match: {tool: drop_table}
    effect: deny
    reason: Never.
"""


@pytest.fixture
def guard(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(ALLOW)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    yield Guard(Policy.load(path), store, principal="agent:bot", masker=Masker(ner=False)), path
    store.close()


def test_a_reload_applies_the_edited_file_to_new_calls(guard):
    guard, path = guard
    tool = SpyTool()
    assert guard.call("drop_table", {"name": "t"}, tool).allowed
    path.write_text(DENY_DROP)
    assert guard.call("drop_table", {"name": "t"}, tool).allowed  # not yet: the file is fresh
    guard.reload_policy()
    outcome = guard.call("drop_table", {"name": "t"}, tool)
    assert not outcome.allowed and "no-drop" in outcome.message and len(tool.runs) == 2
    [row] = [r for r in guard.store.audit_rows() if r.event == Event.POLICY_RELOADED]
    assert row.data["rules"] == 1 and len(row.data["digest"]) == 64
    assert guard.broker.policy is guard.policy


def test_a_broken_file_keeps_the_current_policy(guard):
    guard, path = guard
    path.write_text(DENY_DROP)
    guard.reload_policy()
    path.write_text(DENY_DROP.replace("effect: deny", "effect: dney"))
    with pytest.raises(PolicyError):
        guard.reload_policy()
    assert not guard.call("drop_table", {"name": "t"}, SpyTool()).allowed  # still the old rules
    [row] = [r for r in guard.store.audit_rows() if r.event == Event.POLICY_RELOAD_FAILED]
    assert "effect" in row.data["problems"][0]


def test_an_in_memory_policy_needs_a_source(tmp_path):
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(Policy.from_string(ALLOW), store, principal="a", masker=Masker(ner=False))
    with pytest.raises(ConfigError, match="pass the file or a Policy"):
        guard.reload_policy()
    guard.reload_policy(Policy.from_string(DENY_DROP))
    assert not guard.call("drop_table", {}, SpyTool()).allowed
    store.close()
