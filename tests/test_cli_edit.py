"""``guardrails-plugin edit``: the CLI edits arguments through the broker, as Slack does (issue 14
#11)."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner

from guardrails_plugin import Guard
from guardrails_plugin.cli import cli
from guardrails_plugin.cli.setpath import apply_sets, parse_set
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event, Status
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal

from .helpers import KEY, ME, make_request

POLICY = f"""
version: 1
defaults: {{effect: deny}}
people:
  alice: [slack:UALICE, cli:alice]
  bob: [slack:UBOB, cli:{ME}]
  carol: [slack:UCAROL, cli:carol]
groups:
  dba: [alice, bob, carol]
rules:
  - id: no-secrets-out
    match: {{tool: send_report, data: {{contains: [SECRET]}}}}
    effect: deny
  - id: report
    match: {{tool: send_report}}
    effect: require_approval
    approval: {{approvers: [dba], allow_edit: true}}
  - id: no-destroy
    match: {{tool: terraform_apply, args: {{destroy: true}}}}
    effect: deny
  - id: apply
    match: {{tool: terraform_apply}}
    effect: require_approval
    approval: {{approvers: [dba], allow_edit: true, require_reason: true}}
  - id: restart
    match: {{tool: restart}}
    effect: require_approval
    approval: {{approvers: [dba]}}
"""
SECRET = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example access key id


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    monkeypatch.setenv("GUARDRAILS_DB", str(tmp_path / "g.db"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    monkeypatch.setenv("GUARDRAILS_POLICY", str(policy))
    store = SQLiteStore(tmp_path / "g.db")
    guard = Guard(Policy.load(policy), store, principal="agent:reporter", on_behalf_of="cli:alice")
    yield guard
    store.close()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def request(guard, tool="send_report", args=None, **kw):
    args = {"to": ["ops@example.org"], "limit": 5} if args is None else args
    return make_request(
        guard.broker, tool, args, principal=Principal("agent:reporter", "cli:alice"), **kw
    )


def test_edit_sets_values_approves_and_the_guard_runs_the_edited_call(env):
    """Issue 14 #11: an agent waits; `edit ID --set` from a second shell changes the arguments,
    approves them, and the tool runs with the edited arguments."""
    guard = env
    ran: list[dict] = []
    outcome: list = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            guard.call(
                "send_report",
                {"to": ["ops@example.org"], "limit": 5},
                lambda a: ran.append(a) or "sent",
                call_id="c1",
            )
        )
    )
    worker.start()
    store = guard.store
    for _ in range(500):
        pending = store.list_requests(Status.PENDING, 10)
        if pending:
            break
        threading.Event().wait(0.01)
    [waiting] = pending
    code, out = run(
        "edit",
        waiting.id[:12],
        "--revision",
        "0",
        "--set",
        "limit=2",
        "--set",
        "to.0=audit@example.org",
    )
    assert code == 0, out
    assert "approved by bob" in out and "revision 1" in out
    worker.join(10)
    assert outcome and outcome[0].allowed, outcome
    assert ran == [{"to": ["audit@example.org"], "limit": 2}]
    edited = [r for r in store.audit_rows() if r.event == Event.REQUEST_EDITED]
    assert edited[0].actor == f"cli:{ME}"
    # The audit row holds the edit masked by the guard's masker, never the typed address.
    assert "audit@example.org" not in json.dumps(edited[0].data["masked_args"])


def test_edit_with_args_json_replaces_the_arguments(env):
    """Issue 14 #11: --args JSON replaces the arguments; --set applies on top."""
    made = request(env)
    code, out = run(
        "edit",
        made.id,
        "--revision",
        "0",
        "--args",
        '{"to": ["a@example.org"]}',
        "--set",
        "limit=1",
        "--json",
    )
    assert code == 0, out
    data = json.loads(out)["request"]
    assert data["edited_args"] == {"to": ["a@example.org"], "limit": 1} and data["revision"] == 1


@pytest.mark.parametrize(
    ("tool", "args", "extra", "expected"),
    [
        # The broker's checks, each as a user meets it from the CLI:
        ("restart", {"service": "api"}, [], "does not allow edits"),
        ("terraform_apply", {"plan": "p1", "destroy": False}, ["--reason", "r"], "no-destroy"),
        ("terraform_apply", {"plan": "p1"}, [], "--reason"),
        # The masker finds the secret in the edit, so the data rule denies it:
        ("send_report", None, [], "no-secrets-out"),
    ],
    ids=["no-edits-rule", "edit-into-deny", "reason-required", "secret-in-edit"],
)
def test_edit_is_refused_by_the_same_broker_checks_as_slack(env, tool, args, extra, expected):
    """Issue 14 #11: rules without edits, edits that land on a deny rule, a missing reason and
    a secret typed into the edit are refused, audited, and the request stays pending."""
    made = request(env, tool, args)
    change = {
        "restart": "service=db",
        "terraform_apply": "destroy=true" if "no-destroy" in expected else "plan=p2",
        "send_report": f"note={SECRET}",
    }[tool]
    code, out = run("edit", made.id, "--revision", "0", "--set", change, *extra)
    assert code == 1 and expected in out, out
    assert env.store.get_request(made.id).status is Status.PENDING
    last = list(env.store.audit_rows())[-1]
    assert last.event == Event.VOTE_REFUSED and last.data["channel"] == "cli"


def test_edit_refuses_self_approval_and_non_approvers(env, monkeypatch):
    """Issue 14 #11: the edit is a vote as cli:<OS account>: self-approval is refused."""
    mine = make_request(
        env.broker, "send_report", {"limit": 1}, principal=Principal("agent:reporter", f"cli:{ME}")
    )
    code, out = run("edit", mine.id, "--revision", "0", "--set", "limit=2")
    assert code == 1 and "no self-approval" in out


def test_edit_needs_a_change_the_policy_and_the_current_revision(env, monkeypatch):
    """Issue 14 #11: edit says what is missing: a change, the policy, the current revision."""
    made = request(env)
    code, out = run("edit", made.id, "--revision", "0")
    assert code == 2 and "--set" in out and "--args" in out
    code, out = run("edit", made.id, "--revision", "0", "--set", "nope.x=1")
    assert code == 2 and "'nope'" in out and "limit, to" in out
    code, out = run("edit", made.id, "--revision", "3", "--set", "limit=1")
    assert code == 1 and "changed since" in out and f"guardrails-plugin show {made.id}" in out
    monkeypatch.delenv("GUARDRAILS_POLICY")
    code, out = run("edit", made.id, "--revision", "0", "--set", "limit=1")
    assert code == 2 and "--policy" in out


@pytest.mark.parametrize(
    ("item", "path", "value"),
    [
        ("limit=10", ["limit"], 10),
        ("to.0=bob@example.org", ["to", "0"], "bob@example.org"),
        ('tags=["a", "b"]', ["tags"], ["a", "b"]),
        ("flag=true", ["flag"], True),
        ("note=", ["note"], ""),
        ("when=2025-01-01", ["when"], "2025-01-01"),
    ],
)
def test_set_values_are_json_or_else_text(item, path, value):
    assert parse_set(item) == (path, value)


def test_set_paths_must_exist_up_to_the_last_key():
    args = {"to": ["a"], "filter": {"limit": 1}}
    assert apply_sets(args, [parse_set("filter.limit=2"), parse_set("filter.new=1")]) == {
        "to": ["a"],
        "filter": {"limit": 2, "new": 1},
    }
    assert args["filter"] == {"limit": 1}  # the request's arguments are not changed in place
    for bad, message in [
        ("to.1=b", "list of 1"),
        ("missing.x=1", "no key 'missing'"),
        ("to.0.x=1", "not an object or a list"),
    ]:
        with pytest.raises(ValueError, match=message):
            apply_sets(args, [parse_set(bad)])
    with pytest.raises(ValueError, match="PATH=VALUE"):
        parse_set("limit")


def test_the_reviewer_broker_hashes_like_the_guard(tmp_path):
    """Review of issue 14: `reviewer_broker` (CLI, Slack, web) built a bare `Masker`, whose
    `hash` strategy draws a random key per process: a value it hashed could not be matched to
    the guard's hash of it. Both now key from the store, so they hash alike."""
    from guardrails_plugin import Guard, Policy
    from guardrails_plugin.cli.voting import reviewer_broker
    from guardrails_plugin.store.sqlite import SQLiteStore
    from guardrails_plugin.types import MaskingSettings

    from .helpers import KEY

    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    policy = Policy.from_string("version: 1\ndefaults: {effect: allow}\n")
    guard = Guard(policy, store, principal="agent:test")
    reviewer = reviewer_broker(store, policy)
    masker = reviewer.scan.__self__  # the masker the reviewer broker scans and masks with
    hashing = MaskingSettings(strategy="hash")
    args = {"to": "ana.lopez@corp-mail.net"}
    by_guard = guard.masker.mask(args, settings=hashing).value
    assert "ana.lopez" not in str(by_guard)
    assert masker.mask(args, settings=hashing).value == by_guard
    store.close()
