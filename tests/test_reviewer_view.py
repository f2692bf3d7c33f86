"""Issue 14 #10: a reviewer sees enough of what they approve (`approval.reviewer_view`), the
Slack message, `show` and the audit trail all show the same view, and no view shows a secret."""

from __future__ import annotations

import json
import threading
import time

import pytest
from click.testing import CliRunner

from guardrails_plugin import Guard, Policy
from guardrails_plugin.cli import cli
from guardrails_plugin.errors import PolicyError
from guardrails_plugin.masking import Masker
from guardrails_plugin.notify.slack.blocks import edit_modal, request_message
from guardrails_plugin.store.events import Event

from .helpers import KEY, as_me

EMAIL = "ana.lopez@example.org"
PHONE = "+1 415 555 0199"
API_KEY = "sk-live-4eC39HqLyjWDarjtT1zdp7dc"  # a Stripe-shaped test key
CARD = "4111 1111 1111 1111"


def policy_text(view: str | None, *, restore: bool = False, data: str = "") -> str:
    approval = "approvers: [leads], timeout: 5m, allow_edit: true"
    if view is not None:
        approval += f", reviewer_view: {view}"
    match = "{tool: send_email" + (f", data: {{contains: [{data}]}}" if data else "") + "}"
    return as_me(
        f"""
version: 1
defaults: {{effect: allow, masking: {{restore_placeholders: {str(restore).lower()}}}}}
people:
  bob: [slack:UBOB, cli:bob]
  carol: [slack:UCAROL, cli:carol]
groups:
  leads: [bob, carol]
rules:
  - id: email-out
    match: {match}
    effect: require_approval
    approval: {{{approval}}}
"""
    )


@pytest.fixture
def make_guard(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    db = tmp_path / "g.db"
    monkeypatch.setenv("GUARDRAILS_DB", str(db))
    guards: list[Guard] = []

    def make(text: str) -> Guard:
        guard = Guard.from_policy(
            Policy.from_string(text), store=db, principal="agent:bot", masker=Masker(ner=False)
        )
        guards.append(guard)
        return guard

    yield make
    for guard in guards:
        for request in guard.store.list_requests():
            guard.broker.cancel(request.id, "test", "test over")


def start(guard: Guard, args: dict, run=None) -> tuple[list, list, threading.Thread]:
    """A guarded send_email waiting for approval in a thread, as an agent would."""
    sent: list = []
    done: list = []
    worker = threading.Thread(
        target=lambda: done.append(guard.call("send_email", args, sent.append, run=run)),
        daemon=True,
    )
    worker.start()
    deadline = time.monotonic() + 30
    while not guard.store.list_requests():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return sent, done, worker


def faces(guard: Guard) -> tuple[str, str, dict]:
    """What each reviewer face shows of the one request: `show`, Slack's message, the audit."""
    [request] = guard.store.list_requests()
    shown = CliRunner().invoke(cli, ["show", request.id])
    assert shown.exit_code == 0, shown.output
    _, blocks = request_message(request, [])
    slack = json.dumps(blocks, ensure_ascii=False)
    [created] = [r for r in guard.store.audit_rows() if r.event == Event.REQUEST_CREATED]
    return shown.output, slack, dict(created.data)


def test_the_default_view_shows_contact_data_partly_everywhere(make_guard):
    """Issue 14 #10: by default a reviewer reads `a***@example.org` and a phone's last digits
    in `show`, in Slack and in the audit row, never `<EMAIL_1>` alone and never the address."""
    guard = make_guard(policy_text(None))
    start(guard, {"to": EMAIL, "body": f"Call me on {PHONE}"})
    show, slack, audit = faces(guard)
    for face in (show, slack, json.dumps(audit["shown_args"])):
        assert "a***@example.org" in face and "0199" in face
        assert EMAIL not in face and "555" not in face
    assert audit["reviewer_view"] == "partial"
    assert "reviewer view: partial" in show
    assert audit["masked_args"]["to"] == "<EMAIL_1>"  # the model's copy is unchanged
    assert EMAIL not in json.dumps(audit)


def test_masked_view_is_what_the_model_sees(make_guard):
    """Issue 14 #10: `reviewer_view: masked` keeps today's display."""
    guard = make_guard(policy_text("masked"))
    start(guard, {"to": EMAIL, "body": "hello"})
    show, slack, audit = faces(guard)
    for face in (show, slack, json.dumps(audit["shown_args"])):
        assert "EMAIL_1" in face and "a***" not in face and EMAIL not in face  # Slack escapes <


def test_clear_shows_contact_data_but_never_a_secret_or_a_card(make_guard):
    """Issue 14 #10: `clear` shows the address as it will be sent; a secret and a card number
    in the same call stay masked in every face, the audit row included."""
    guard = make_guard(policy_text("clear"))
    start(guard, {"to": EMAIL, "body": f"key {API_KEY} card {CARD}"})
    show, slack, audit = faces(guard)
    for face in (show, slack, json.dumps(audit)):
        assert API_KEY not in face and "4111 1111" not in face and "1111 1111 1111" not in face
    for face in (show, slack, json.dumps(audit["shown_args"])):
        assert EMAIL in face
    stored = guard.store.get_request(guard.store.list_requests()[0].id)
    assert API_KEY not in json.dumps(stored.review_args)


def test_a_placeholder_the_model_passes_on_shows_the_value_that_will_be_sent(make_guard):
    """Issue 14 #10: the model passes `<EMAIL_1>` from an earlier output; with placeholders
    restored, the reviewer sees (partly) the address the tool will get, and that address is
    what runs once approved."""
    guard = make_guard(policy_text(None, restore=True))
    run = guard.run("run-1")
    placeholder = run.vault.placeholder("EMAIL", EMAIL)
    sent, done, worker = start(guard, {"to": placeholder, "body": "hi"}, run=run)
    show, slack, _ = faces(guard)
    assert "a***@example.org" in show and "a***@example.org" in slack
    [request] = guard.store.list_requests()
    approved = CliRunner().invoke(
        cli, ["approve", request.id, "--revision", "0", "--reason", "known customer"]
    )
    assert approved.exit_code == 0, approved.output
    worker.join(30)
    assert done[0].allowed and sent == [{"to": EMAIL, "body": "hi"}]


def test_a_placeholder_that_is_not_restored_shows_as_itself(make_guard):
    """Issue 14 #10: without restore_placeholders the tool gets `<EMAIL_1>` literally, so that
    is what the reviewer must see, not the address the vault holds."""
    guard = make_guard(policy_text("clear", restore=False))
    run = guard.run("run-1")
    placeholder = run.vault.placeholder("EMAIL", EMAIL)
    start(guard, {"to": placeholder, "body": "hi"}, run=run)
    show, slack, _ = faces(guard)
    assert placeholder in show and EMAIL not in show
    assert EMAIL not in slack


def test_the_edit_form_starts_from_the_bound_arguments_not_the_view(make_guard):
    """Issue 14 #10: Slack's edit form holds placeholders: a reviewer who edits the body and
    submits must not send `a***@example.org` to the tool."""
    guard = make_guard(policy_text(None))
    start(guard, {"to": EMAIL, "body": "hi"})
    [request] = guard.store.list_requests()
    form = json.dumps(edit_modal(request, "x"))
    assert "<EMAIL_1>" in form and "a***" not in form and EMAIL not in form


def test_a_rewritten_view_in_the_file_takes_no_votes(make_guard):
    """Issue 14 #10: the view is part of the request's keyed terms: someone who can write the
    database but lacks the key cannot make reviewers approve a different address than runs."""
    import sqlite3

    guard = make_guard(policy_text(None))
    start(guard, {"to": EMAIL, "body": "hi"})
    [request] = guard.store.list_requests()
    forged = json.dumps({"to": "b***@partner.example", "body": "hi"})
    with sqlite3.connect(guard.store.path) as conn:
        conn.execute("UPDATE requests SET review_args = ? WHERE id = ?", (forged, request.id))
    result = CliRunner().invoke(cli, ["approve", request.id, "--revision", "0", "--reason", "ok"])
    assert result.exit_code == 1 and "does not match the audit log" in result.output


def test_reviewer_view_must_be_one_of_three(tmp_path):
    """Issue 14 #10: a misspelt view is refused at load, naming the value and the choices."""
    with pytest.raises(PolicyError) as caught:
        Policy.from_string(policy_text("plain"))
    text = str(caught.value)
    assert "plain" in text and "masked" in text and "partial" in text and "clear" in text


def test_policy_check_warns_when_clear_meets_a_secret(tmp_path):
    """Issue 14 #10: a rule that matches SECRET data and asks for `clear` loads (the secret is
    masked at run time anyway), and `policy check` warns that reviewers will not see it."""
    file = tmp_path / "p.yaml"
    file.write_text(policy_text("clear", data="SECRET"))
    result = CliRunner().invoke(cli, ["policy", "check", str(file)])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "email-out" in result.output
    assert "reviewer_view: clear" in result.output and "SECRET" in result.output
    file.write_text(policy_text("clear", data="EMAIL"))
    result = CliRunner().invoke(cli, ["policy", "check", str(file)])
    assert result.exit_code == 0 and "warning" not in result.output
