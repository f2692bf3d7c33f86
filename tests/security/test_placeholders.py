"""Issue 11 #1: placeholders laundered data classes.

The model sees `<API_KEY_1>` / `<CREDIT_CARD_1>` in an earlier output and passes the placeholder
on. `data:` rules and the per-class `block` strategy looked only at literal values, so a
secrets-leaving deny rule and `CREDIT_CARD: block` never fired, and `restore_placeholders` then
handed the real secret or card to the tool (the complete example in docs/policy.md leaked this
way). A placeholder now carries its data class everywhere the literal would.
"""

from __future__ import annotations

from guardrails_plugin.store import Event, Status
from guardrails_plugin.types import MaskingSettings

from .conftest import SpyTool

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
CARD = "4111 1111 1111 1111"
EMAIL = "ana.lopez@example.org"

# The rules of docs/policy.md's complete example that matter here.
POLICY = """
version: 1
defaults:
  effect: require_approval
  approval: {approvers: [oncall], timeout: 15m, on_timeout: deny}
people:
  alice: [cli:alice]
  bob: [cli:bob]
groups:
  oncall: [alice, bob]
rules:
  - id: no-secrets-out
    match: {tool: ["http_*", "send_*"], data: {contains: [SECRET]}}
    effect: deny
    reason: Agents may not send credentials anywhere.
  - id: email
    match: {tool: send_email}
    effect: allow
    masking: {restore_placeholders: true, classes: {CREDIT_CARD: block}}
  - id: reads
    match: {tool: ["get_*", "list_*", "search_*"]}
    effect: allow
"""


def _seen_by_model(guard, run, output):
    outcome = guard.call("get_record", {"id": 1}, SpyTool(output), run=run)
    assert outcome.allowed
    return outcome.output


def test_a_secret_placeholder_is_still_a_secret(make_guard):
    guard = make_guard(POLICY, wait_timeout=0.0)
    run = guard.run("r1")
    assert _seen_by_model(guard, run, f"key {KEY_ID}") == "key <API_KEY_1>"
    tool = SpyTool()
    outcome = guard.call("http_post", {"body": "here: <API_KEY_1>"}, tool, run=run)
    assert not outcome.allowed and tool.runs == []
    assert "no-secrets-out" in outcome.message


def test_a_blocked_class_is_blocked_as_a_placeholder_too(make_guard):
    guard = make_guard(POLICY, wait_timeout=0.0)
    run = guard.run("r1")
    assert _seen_by_model(guard, run, {"card": CARD, "email": EMAIL}) == {
        "card": "<CREDIT_CARD_1>",
        "email": "<EMAIL_1>",
    }
    tool = SpyTool()
    outcome = guard.call(
        "send_email", {"to": "<EMAIL_1>", "body": "card <CREDIT_CARD_1>"}, tool, run=run
    )
    assert not outcome.allowed and tool.runs == []  # the real card never reached the tool
    assert "CREDIT_CARD" in outcome.message
    # Restoring the address alone still works.
    assert guard.call("send_email", {"to": "<EMAIL_1>", "body": "hi"}, tool, run=run).allowed
    assert tool.runs == [{"to": EMAIL, "body": "hi"}]


def test_reviewers_and_the_audit_see_the_class(make_guard):
    guard = make_guard(POLICY, wait_timeout=0.0)
    run = guard.run("r1")
    _seen_by_model(guard, run, f"card {CARD}")
    outcome = guard.call("export_report", {"note": "<CREDIT_CARD_1>"}, SpyTool(), run=run)
    assert not outcome.allowed  # nobody decided within the (zero) wait
    [request] = guard.store.list_requests(Status.PENDING)
    assert "CREDIT_CARD" in request.data_classes
    assert request.masked_args == {"note": "<CREDIT_CARD_1>"}
    evaluated = [r for r in guard.store.audit_rows() if r.event == Event.CALL_EVALUATED]
    assert "CREDIT_CARD" in evaluated[-1].data["data_classes"]


def test_other_strategies_apply_to_the_value_behind_the_placeholder(make_guard):
    guard = make_guard(POLICY, wait_timeout=0.0)
    run = guard.run("r1")
    _seen_by_model(guard, run, f"card {CARD}")
    hashed = MaskingSettings(strategy="hash")
    via_placeholder = guard.masker.mask("<CREDIT_CARD_1>", vault=run.vault, settings=hashed)
    via_literal = guard.masker.mask(CARD, vault=run.vault, settings=hashed)
    assert via_placeholder.value == via_literal.value != "<CREDIT_CARD_1>"
    partial = MaskingSettings(strategy="partial")
    assert guard.masker.mask("<CREDIT_CARD_1>", vault=run.vault, settings=partial).value == (
        "****1111"
    )


def test_a_guessed_placeholder_is_not_minted_by_the_same_call(make_guard):
    """Red-team follow-up: in a fresh run, `send_email(to=<new address>, body="<EMAIL_1>")`
    minted <EMAIL_1> for the new address first, then restored the model's guess to it."""
    guard = make_guard(POLICY, wait_timeout=0.0)
    tool = SpyTool()
    outcome = guard.call(
        "send_email", {"to": "mallory@evil.example", "body": "<EMAIL_1>"}, tool, run=guard.run()
    )
    assert not outcome.allowed and tool.runs == [] and "never issued" in outcome.message


APPROVED_EMAIL = """
version: 1
defaults: {effect: deny}
people:
  bob: [cli:bob]
groups:
  ops: [bob]
rules:
  - id: reads
    match: {tool: lookup}
    effect: allow
  - id: email
    match: {tool: send_email}
    effect: require_approval
    approval: {approvers: [ops], timeout: 2h}
    masking: {restore_placeholders: true}
"""


def test_an_approval_restores_only_in_the_vault_its_placeholders_came_from(tmp_path):
    """Red-team F8: the approval bound the text "<EMAIL_1>"; a restarted process that minted
    "<EMAIL_1>" for another address in the same run restored that one into the approved call."""
    from guardrails_plugin.guard import Guard
    from guardrails_plugin.masking import Masker
    from guardrails_plugin.policy import Policy
    from guardrails_plugin.store.sqlite import SQLiteStore

    from ..helpers import KEY

    def process() -> Guard:  # one Guard per process, on the shared store
        store = SQLiteStore(tmp_path / "g.db", key=KEY)
        policy = Policy.from_string(APPROVED_EMAIL)
        return Guard(policy, store, principal="agent:bot", masker=Masker(ner=False))

    first = process()
    first.wait_timeout = 0.0
    run = first.run("thread:t1")
    first.call("lookup", {}, SpyTool({"email": "ana.lopez@example.org"}), run=run)
    args = {"to": "<EMAIL_1>", "body": "your invoice"}
    assert not first.call("send_email", args, SpyTool(), call_id="c9", run=run).allowed
    [request] = first.store.list_requests()
    first.broker.vote(request.id, "cli:bob", "approve", revision=0)

    second = process()
    run = second.run("thread:t1")
    second.call("lookup", {}, SpyTool({"email": "mallory@evil.example"}), run=run)
    tool = SpyTool()
    outcome = second.call("send_email", args, tool, call_id="c9", run=run)
    assert not outcome.allowed and tool.runs == []
    assert "cannot vouch that they stand for the same values" in outcome.message
