"""One reviewer-facing service: ``guardrails-plugin serve`` with Slack configured also serves the
real Bolt app at ``/slack/events`` and runs its outbox, beside the API and the inbox.

Real pieces: the service under uvicorn in a subprocess, the Bolt app checking real Slack
signatures (``SLACK_SIGNING_SECRET``), the real ``WebClient`` posting to the local fake of
Slack's Web API (`notify.slack.testing.FakeSlackAPI`), a guarded agent in another process, and
a SQLite store all of them share. Holds: a request is posted to the channel once; a signed
button click approves through the broker and the agent's tool runs once; an unsigned, wrongly
signed, old (replay window) or malformed request changes nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from guardrails_plugin.notify.slack.blocks import ACTION_APPROVE
from guardrails_plugin.notify.slack.testing import FakeSlackAPI, signed
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY
from .harness import Agent, Service, identity_provider, provider_token, wait_for_pending

pytestmark = pytest.mark.timeout(240)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0APPROVALS"


@pytest.fixture(scope="module")
def slack():
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def idp():
    with identity_provider() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def service(idp, slack, tmp_path_factory):
    running = Service(
        tmp_path_factory.mktemp("web-slack"),
        idp,
        env={
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "GUARDRAILS_SLACK_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.url,
        },
    )
    yield running
    running.stop()


def _posted(service: Service, request_id: str) -> dict[str, Any]:
    """The request's Slack message as the outbox recorded it, once it has posted it."""
    deadline = time.monotonic() + 60
    store = SQLiteStore(service.db, key=KEY)
    try:
        while True:
            shown = dict(store.get_request(request_id).notify.get("slack", {}))
            if shown.get("state") == "posted":
                return shown
            assert time.monotonic() < deadline, "the outbox never posted " + request_id
            time.sleep(0.1)
    finally:
        store.close()


def _click(request_id: str, posted: dict[str, Any], user: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": user, "team_id": "T0001"},
        "api_app_id": "A1",
        "trigger_id": f"trigger-{user}",
        "channel": {"id": posted["channel"]},
        "container": {"type": "message", "message_ts": posted["ts"]},
        "message": {"ts": posted["ts"], "text": "request"},
        "actions": [
            {
                "action_id": ACTION_APPROVE,
                "block_id": "guardrails_actions",
                "type": "button",
                "value": f"{request_id}:0",
                "action_ts": str(time.time()),
            }
        ],
    }


def _replies_for(slack: FakeSlackAPI, request_id: str) -> list[dict[str, Any]]:
    return [
        call
        for call in slack.calls("chat.postMessage")
        if "thread_ts" in call and request_id in json.dumps(call.get("blocks"))
    ]


def test_serve_posts_to_slack_once_and_a_signed_click_approves(service, idp, slack):
    """The agent's request reaches the channel once, from the same service that serves the
    API; only a request Slack signed with the signing secret counts, and alice's click
    approves through the broker: the tool runs once, the message shows the decision."""
    args = {"to": "x@example.org", "body": "quarterly numbers"}
    agent = Agent(service, "send_email", args, "slack-approve")
    with service.client(provider_token(idp, "bob")) as client:
        [request] = [
            r
            for r in wait_for_pending(client, "send_email")
            if r["args"]["body"] == "quarterly numbers"
        ]
    posted = _posted(service, request["id"])
    assert posted["channel"] == CHANNEL
    events = service.url + "/slack/events"
    body, headers = signed(_click(request["id"], posted, "UALICE"), SECRET)
    click = _click(request["id"], posted, "UALICE")
    forged = signed(click, "x" * 32)[1]
    stale = signed(click, SECRET, timestamp=int(time.time()) - 600)
    plain = {"content-type": headers["Content-Type"]}
    refused = {
        "unsigned": httpx.post(events, content=body, headers=plain),
        "wrong secret": httpx.post(events, content=body, headers=forged),
        "old timestamp": httpx.post(events, content=stale[0], headers=stale[1]),
    }
    for why, answer in refused.items():
        assert answer.status_code == 401, (why, answer.status_code, answer.text)
    not_utf8 = httpx.post(events, content=b"payload=\xff\xfe", headers=headers)
    too_big = httpx.post(events, content=b"x" * (1024 * 1024 + 1), headers=headers)
    assert (not_utf8.status_code, too_big.status_code) == (400, 413)
    with service.client(provider_token(idp, "bob")) as client:
        still = client.get(f"/api/v1/requests/{request['id']}").json()
    assert still["status"] == "pending" and still["votes"] == []

    clicked = httpx.post(events, content=body, headers=headers)
    assert clicked.status_code == 200, clicked.text
    result = agent.result()
    assert result["allowed"] and result["ran"] == [args]
    with service.client(provider_token(idp, "bob")) as client:
        decided = client.get(f"/api/v1/requests/{request['id']}").json()
    [vote] = decided["votes"]
    assert vote["identity"] == "slack:UALICE" and vote["channel"] == "slack"
    deadline = time.monotonic() + 30
    while not any(
        "APPROVED" in json.dumps(c.get("blocks")) and c.get("ts") == posted["ts"]
        for c in slack.calls("chat.update")
    ):
        assert time.monotonic() < deadline, "the message never showed the decision"
        time.sleep(0.1)
    assert len(_replies_for(slack, request["id"])) == 1  # posted once, however many passes


def test_serve_with_slack_half_configured_does_not_start(tmp_path, monkeypatch):
    """SLACK_BOT_TOKEN set without the signing secret or channel: `serve` names what is missing
    (with its own option names) and does not start, rather than serve Slack clicks it cannot
    verify or silently leave Slack out; --no-slack is the way to serve without Slack."""
    from click.testing import CliRunner

    from guardrails_plugin.cli import cli

    from ..test_cli_hints import _check_hint

    for name in ("SLACK_SIGNING_SECRET", "GUARDRAILS_SLACK_CHANNEL", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "GUARDRAILS_AUDIT_KEY": KEY.hex(),
        "GUARDRAILS_OIDC_ISSUER": "http://127.0.0.1:9",
        "GUARDRAILS_OIDC_CLIENT_ID": "inbox",
        "GUARDRAILS_OIDC_AUDIENCE": "api",
        "GUARDRAILS_PUBLIC_URL": "http://127.0.0.1:8080",
        "GUARDRAILS_SESSION_SECRET": "s" * 40,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    SQLiteStore(tmp_path / "g.db", key=KEY).close()
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ndefaults: {effect: allow}\n")
    args = ["serve", "--policy", str(policy), "--db", str(tmp_path / "g.db")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "SLACK_SIGNING_SECRET" in result.output and "--slack-channel" in result.output
    assert "--no-slack" in result.output and not _check_hint(result.output, ("serve",))
