"""The real Bolt app over real HTTP with real signatures; only Slack's servers are faked."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import ConfigError
from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.notify.slack import SlackServer, SlackSettings, build_app
from guardrails_plugin.notify.slack.blocks import (
    ACTION_APPROVE,
    ACTION_DENY,
    ACTION_EDIT,
    VIEW_DENY,
    VIEW_EDIT,
)
from guardrails_plugin.notify.slack.testing import FakeSlackAPI, block_kit_errors, signed
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event, Status
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall

from ..helpers import KEY

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0001"
POLICY = """
version: 1
defaults: {effect: allow}
people:
  alice: [slack:UALICE, cli:alice]
  bob: [slack:UBOB, cli:bob]
  carol: [slack:UCAROL, cli:carol]
  mallory: [slack:UMAL]
groups:
  dba: [alice, bob, carol]
rules:
  - id: export
    match: {tool: export_table}
    effect: require_approval
    approval: {approvers: [dba], quorum: 2}
  - id: restart
    match: {tool: restart}
    effect: require_approval
    approval: {approvers: [dba], require_reason: true, allow_edit: true}
"""


class Env:
    def __init__(self, tmp: Path, slack: FakeSlackAPI) -> None:
        self.slack = slack
        self.policy = Policy.from_string(POLICY)
        self.store = SQLiteStore(tmp / "g.db", key=KEY)
        self.broker = ApprovalBroker(self.store, self.policy)
        self.settings = SlackSettings.resolve(
            bot_token="xoxb-test",
            signing_secret=SECRET,
            channel="C0APPROVALS",
            api_url=slack.url,
            team_id=TEAM,
            env={},
        )
        self.start()

    def start(self) -> None:
        self.app, self.outbox = build_app(self.settings, self.broker, process_before_response=True)
        self.server = SlackServer(self.app, self.outbox, port=0, sync_interval=None).start()

    def restart(self) -> None:
        self.server.stop()
        self.start()

    def request(
        self,
        tool: str = "export_table",
        args: dict[str, Any] | None = None,
        run_id: str = "run-1",
        call_id: str | None = None,
    ) -> Any:
        call = ToolCall(
            tool,
            args or {"table": "customers"},
            call_id,
            run_id,
            Principal("agent:bot", "slack:UALICE"),
        )
        return self.broker.request(call, self.policy.evaluate(call), masked_args=dict(call.args))

    def posted(self, request_id: str) -> dict[str, Any]:
        return dict(self.broker.get(request_id).notify["slack"])

    def post(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.server.port}/slack/events",
            data=body.encode(),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def click(
        self,
        request_id: str,
        user: str,
        action: str = ACTION_APPROVE,
        *,
        value: str | None = None,
        where: dict[str, Any] | None = None,
        timestamp: int | None = None,
        team: str = TEAM,
    ) -> tuple[int, str]:
        posted = where or self.posted(request_id)
        request = self.broker.get(request_id)
        payload = {
            "type": "block_actions",
            "team": {"id": team},
            "user": {"id": user, "team_id": team},
            "api_app_id": "A1",
            "token": "legacy",
            "trigger_id": f"trigger-{user}-{time.time()}",
            "channel": {"id": posted["channel"]},
            "container": {
                "type": "message",
                "message_ts": posted["ts"],
                "channel_id": posted["channel"],
            },
            "message": {"ts": posted["ts"], "text": "request"},
            "actions": [
                {
                    "action_id": action,
                    "block_id": "guardrails_actions",
                    "type": "button",
                    "value": value or f"{request_id}:{request.revision}",
                    "action_ts": str(time.time()),
                }
            ],
            "response_url": "https://hooks.example/response",
        }
        return self.post(*signed(payload, SECRET, timestamp=timestamp))

    def submit(
        self, callback_id: str, user: str, private: str, values: dict[str, str]
    ) -> tuple[int, str]:
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A1",
            "token": "legacy",
            "trigger_id": "t",
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private,
                "team_id": TEAM,
                "state": {
                    "values": {
                        block: {"value": {"type": "plain_text_input", "value": text}}
                        for block, text in values.items()
                    }
                },
            },
        }
        return self.post(*signed(payload, SECRET))

    def payload(self, request_id: str, user: str) -> dict[str, Any]:
        """A minimal signed-click payload for ``request_id``'s posted message."""
        posted = self.posted(request_id)
        return {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM},
            "trigger_id": "t",
            "channel": {"id": posted["channel"]},
            "message": {"ts": posted["ts"]},
            "actions": [
                {
                    "action_id": ACTION_APPROVE,
                    "value": f"{request_id}:0",
                    "type": "button",
                    "block_id": "b",
                    "action_ts": "1",
                }
            ],
        }

    def ephemerals(self) -> list[str]:
        return [c["text"] for c in self.slack.calls("chat.postEphemeral")]


@pytest.fixture
def env(tmp_path: Path):
    with FakeSlackAPI(team_id=TEAM) as slack:
        e = Env(tmp_path, slack)
        yield e
        e.server.stop()
        e.store.close()


def test_each_request_is_posted_once_in_its_runs_thread(env):
    first = env.request(call_id="c1", args={"table": "customers <!channel> `x`"})
    second = env.request(call_id="c2", args={"table": "orders"})
    other = env.request(call_id="c3", run_id="run-2")
    env.outbox.sync_once()
    env.outbox.sync_once()
    another_instance = build_app(env.settings, env.broker)[1]
    another_instance.sync_once()
    posts = env.slack.calls("chat.postMessage")
    parents = [p for p in posts if "thread_ts" not in p]
    replies = [p for p in posts if "thread_ts" in p]
    assert len(parents) == 2 and len(replies) == 3
    thread_of = {env.posted(r.id)["thread_ts"] for r in (first, second)}
    assert len(thread_of) == 1 and env.posted(other.id)["thread_ts"] not in thread_of
    text = json.dumps(replies[0]["blocks"])
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text  # escaped, no mention
    assert ACTION_APPROVE in text and ACTION_DENY in text


def test_approval_by_two_people_in_slack(env):
    request = env.request(call_id="c1")
    env.outbox.sync_once()
    assert env.click(request.id, "UBOB")[0] == 200
    assert env.broker.get(request.id).status is Status.PENDING
    assert "bob approve" in json.dumps(env.slack.calls("chat.update")[-1]["blocks"])
    assert env.click(request.id, "UCAROL")[0] == 200
    decided = env.broker.get(request.id)
    assert decided.status is Status.APPROVED and decided.decided_by == "bob,carol"
    final = json.dumps(env.slack.calls("chat.update")[-1]["blocks"])
    assert "APPROVED" in final and ACTION_APPROVE not in final  # buttons removed


@pytest.mark.parametrize(
    ("user", "why"),
    [("UALICE", "self-approval"), ("UMAL", "not an approver"), ("UNOBODY", "not an approver")],
)
def test_refused_voters_are_told_why(env, user, why):
    request = env.request(call_id="c1")
    env.outbox.sync_once()
    assert env.click(request.id, user)[0] == 200
    assert env.broker.get(request.id).status is Status.PENDING
    assert any(why in text for text in env.ephemerals())
    assert Event.VOTE_REFUSED in [r.event for r in env.store.audit_rows()]


def test_double_click_and_replay(env):
    request = env.request("restart", {"service": "api"}, call_id="c1")
    env.outbox.sync_once()
    status, _ = env.click(request.id, "UBOB", ACTION_APPROVE)
    assert status == 200
    # require_reason: approve with no reason is refused and the user told
    assert any("requires a reason" in t for t in env.ephemerals())
    status, _ = env.click(request.id, "UBOB", ACTION_APPROVE)
    assert status == 200  # a second click is harmless


def test_a_replayed_signed_request_changes_nothing(env):
    request = env.request(call_id="c1")
    env.outbox.sync_once()
    payload = env.payload(request.id, "UBOB")
    body, headers = signed(payload, SECRET)
    assert env.post(body, headers)[0] == 200
    assert env.post(body, headers)[0] == 409
    assert len(env.store.votes(request.id)) == 1


def test_slack_retries_are_processed_once(env):
    request = env.request(call_id="c1")
    env.outbox.sync_once()
    payload = env.payload(request.id, "UBOB")
    body, headers = signed(payload, SECRET)
    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert env.post(body, retry)[0] == 200
    assert env.store.votes(request.id) == []


@pytest.mark.parametrize(
    "case",
    [
        "bad signature",
        "stale",
        "future",
        "no headers",
        "v1",
        "upper",
        "non-numeric ts",
        "resigned",
        "empty",
    ],
)
def test_unsigned_or_tampered_requests_are_refused(env, case):
    request = env.request(call_id="c1")
    env.outbox.sync_once()
    payload = env.payload(request.id, "UBOB")
    now = int(time.time())
    body, headers = signed(
        payload,
        SECRET,
        timestamp=now - 400 if case == "stale" else now + 400 if case == "future" else now,
    )
    if case == "bad signature":
        good = headers["X-Slack-Signature"]
        headers["X-Slack-Signature"] = good[:-1] + ("0" if good[-1] != "0" else "1")
    elif case == "no headers":
        headers = {"Content-Type": headers["Content-Type"]}
    elif case == "v1":
        headers["X-Slack-Signature"] = "v1=" + headers["X-Slack-Signature"][3:]
    elif case == "upper":
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"].upper()
    elif case == "non-numeric ts":
        headers["X-Slack-Request-Timestamp"] = "yesterday"
    elif case == "resigned":
        body = body.replace("UBOB", "UCAROL")  # one changed field, old signature
    elif case == "empty":
        body = ""
    status, _ = env.post(body, headers)
    assert 400 <= status < 500, status
    assert env.store.votes(request.id) == []


def test_malformed_and_oversized_bodies_are_4xx(env):
    body, headers = signed({}, SECRET)
    body = "payload=%7Bnot-json"
    from slack_sdk.signature import SignatureVerifier

    headers["X-Slack-Signature"] = SignatureVerifier(SECRET).generate_signature(
        timestamp=headers["X-Slack-Request-Timestamp"], body=body
    )
    status, _ = env.post(body, headers)
    assert 400 <= status < 500
    big = "payload=" + "x" * (1024 * 1024 + 10)
    assert env.post(big, headers)[0] == 413


def test_a_button_from_another_message_is_refused(env):
    request = env.request(call_id="c1")
    other = env.request(call_id="c2", args={"table": "orders"})
    env.outbox.sync_once()
    status, _ = env.click(request.id, "UBOB", where=env.posted(other.id))
    assert status == 200 and env.store.votes(request.id) == []
    assert any("does not belong" in t for t in env.ephemerals())


def test_another_workspace_is_refused(env):
    request = env.request(call_id="c1")
    env.outbox.sync_once()
    env.click(request.id, "UBOB", team="T9999")
    assert env.store.votes(request.id) == []


def test_deny_with_a_reason_through_the_modal(env):
    request = env.request("restart", {"service": "api"}, call_id="c1")
    env.outbox.sync_once()
    assert env.click(request.id, "UCAROL", ACTION_DENY)[0] == 200
    [opened] = env.slack.calls("views.open")
    private = opened["view"]["private_metadata"]
    status, body = env.submit(VIEW_DENY, "UCAROL", private, {"reason": ""})
    assert status == 200 and "requires a reason" in body  # response_action: errors
    assert env.submit(VIEW_DENY, "UCAROL", private, {"reason": "freeze until Monday"})[0] == 200
    decided = env.broker.get(request.id)
    assert decided.status is Status.DENIED and decided.decision_reason == "freeze until Monday"


def test_edit_through_the_modal(env):
    request = env.request("restart", {"service": "api", "force": True}, call_id="c1")
    env.outbox.sync_once()
    env.click(request.id, "UBOB", ACTION_EDIT)
    [opened] = env.slack.calls("views.open")
    assert json.loads(opened["view"]["blocks"][0]["element"]["initial_value"]) == {
        "service": "api",
        "force": True,
    }
    private = opened["view"]["private_metadata"]
    _, body = env.submit(VIEW_EDIT, "UBOB", private, {"args": "{oops", "reason": "x"})
    assert "Not a JSON object" in body
    env.submit(
        VIEW_EDIT,
        "UBOB",
        private,
        {"args": '{"service": "api", "force": false}', "reason": "no force"},
    )
    decided = env.broker.get(request.id)
    assert decided.status is Status.APPROVED and decided.edited_args == {
        "service": "api",
        "force": False,
    }


def test_a_decision_from_the_cli_updates_the_slack_message(env):
    request = env.request("restart", {"service": "api"}, call_id="c1")
    env.outbox.sync_once()
    env.broker.vote(request.id, "cli:bob", "deny", reason="from the terminal", channel="cli")
    env.outbox.sync_once()
    final = json.dumps(env.slack.calls("chat.update")[-1]["blocks"])
    assert "DENIED" in final and "from the terminal" in final


def test_a_slack_outage_leaves_the_request_pending_then_posts(env):
    request = env.request(call_id="c1")
    env.slack.fail_with["chat.postMessage"] = "service_unavailable"
    env.outbox.sync_once()
    assert env.broker.get(request.id).status is Status.PENDING
    del env.slack.fail_with["chat.postMessage"]
    env.outbox.sync_once()
    assert env.posted(request.id)["state"] == "posted"


def test_end_to_end_a_guarded_call_waits_for_a_slack_click(env, tmp_path):
    guard = Guard(
        env.policy,
        env.store,
        principal="agent:bot",
        on_behalf_of="slack:UALICE",
        masker=Masker(ner=False),
        broker=env.broker,
    )
    ran: list[dict[str, Any]] = []
    outcomes: list[Any] = []

    def agent() -> None:
        outcomes.append(
            guard.call(
                "restart",
                {"service": "billing"},
                lambda a: ran.append(a) or "restarted",
                call_id="call-9",
            )
        )

    thread = threading.Thread(target=agent)
    thread.start()
    deadline = time.monotonic() + 30
    while not env.store.list_requests(Status.PENDING) and time.monotonic() < deadline:
        time.sleep(0.02)
    env.outbox.sync_once()
    [request] = env.store.list_requests(Status.PENDING)
    env.restart()  # the app restarts between posting and the click
    env.click(request.id, "UCAROL", ACTION_DENY)
    private = env.slack.calls("views.open")[-1]["view"]["private_metadata"]
    env.submit(VIEW_DENY, "UCAROL", private, {"reason": "not during business hours"})
    thread.join(timeout=30)
    assert ran == [] and not outcomes[0].allowed
    assert "not during business hours" in outcomes[0].message


def test_settings_name_what_is_missing():
    with pytest.raises(ConfigError) as info:
        SlackSettings.resolve(env={})
    message = str(info.value)
    assert "SLACK_BOT_TOKEN" in message and "SLACK_SIGNING_SECRET" in message
    assert "GUARDRAILS_SLACK_CHANNEL" in message
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        SlackSettings.resolve(bot_token="x", channel="C", socket=True, env={})
    settings = SlackSettings.resolve(
        env={
            "SLACK_BOT_TOKEN": "x",
            "SLACK_SIGNING_SECRET": "s",
            "GUARDRAILS_SLACK_CHANNEL": "C1",
            "SLACK_API_URL": "http://h/api",
        },
        rule_channels={"export": "C2"},
    )
    assert settings.api_url == "http://h/api/" and settings.channel_for("export") == "C2"


def test_arguments_cut_to_fit_cannot_be_approved_from_slack(env):
    """Red-team F10: with 3,200 characters of padding first, the dangerous part of the
    arguments was past the cut, and Approve was still offered. A reviewer approves what they
    saw: a cut request has no Approve button, and an approve click on it is refused."""
    request = env.request(args={"padding": "x" * 3200, "query": "DROP TABLE customers"})
    env.outbox.sync_once()
    [message] = [m for m in env.slack.calls("chat.postMessage") if "thread_ts" in m]
    actions = [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert ACTION_APPROVE not in actions and "guardrails_deny" in actions
    assert f"guardrails-plugin show {request.id}" in json.dumps(message["blocks"])
    assert env.click(request.id, "UBOB")[0] == 200
    assert env.broker.get(request.id).status is Status.PENDING
    assert any("too long to show in Slack" in text for text in env.ephemerals())


def test_a_step_up_rule_shows_review_in_the_inbox_and_refuses_slack_votes(
    env, tmp_path, monkeypatch
):
    """Issue 16: a rule with approval: {authentication: oidc} is posted with "Review in the
    inbox" (a link to the request's inbox page) and no Approve/Deny/Edit; a forged approve
    click from an approver is refused and the reviewer is told to use the inbox."""
    monkeypatch.setenv("GUARDRAILS_PUBLIC_URL", "https://guard.example.com")
    env.policy = Policy.from_string(
        POLICY.replace(
            "approval: {approvers: [dba], quorum: 2}",
            "approval: {approvers: [dba], authentication: oidc}",
        )
    )
    env.broker = ApprovalBroker(env.store, env.policy)
    env.restart()
    request = env.request(call_id="c1")
    env.outbox.sync_once()
    [message] = [m for m in env.slack.calls("chat.postMessage") if "thread_ts" in m]
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    [button] = actions["elements"]
    assert button["text"]["text"] == "Review in the inbox"
    assert button["url"] == f"https://guard.example.com/inbox/requests/{request.id}"
    assert not block_kit_errors(message["blocks"])
    assert env.click(request.id, "UBOB")[0] == 200
    assert env.broker.get(request.id).status is Status.PENDING
    assert any("signed in through the identity provider" in t for t in env.ephemerals())
    assert any(f"/inbox/requests/{request.id}" in t for t in env.ephemerals())
