"""Issue 11 #18: Slack refused long approval messages, and the notification text carried mentions.

Arguments were cut at 2,500 characters *before* escaping, so ``<`` turning into ``&lt;`` pushed the
code block past Slack's 3,000-character section limit, as did a long reason: real Slack answers
``invalid_blocks`` and the request is never posted (it expires, unseen). And the top-level
``text`` (the push notification) held the model-chosen tool name unescaped: a tool named
``<!channel>`` pinged the whole channel. The fake Web API now refuses what Slack refuses.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.notify.slack import SlackSettings, build_app
from guardrails_plugin.notify.slack.blocks import ACTION_EDIT, edit_modal
from guardrails_plugin.notify.slack.mrkdwn import escape, mrkdwn
from guardrails_plugin.notify.slack.testing import FakeSlackAPI, block_kit_errors
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall

from ..helpers import KEY

POLICY = """
version: 1
defaults: {effect: require_approval, approval: {approvers: [ops], allow_edit: true}}
people:
  alice: [slack:UALICE, cli:alice]
  bob: [slack:UBOB, cli:bob]
groups:
  ops: [bob]
"""
MENTIONS = ("<!channel>", "<!here>", "<!everyone>", "<@U0ADMIN>", "<https://evil.example|ok>")
# Every & in text we send starts one of the three entities Slack defines.
BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


class Env:
    def __init__(self, tmp: Path, slack: FakeSlackAPI) -> None:
        self.slack = slack
        self.policy = Policy.from_string(POLICY)
        self.store = SQLiteStore(tmp / "g.db", key=KEY)
        self.broker = ApprovalBroker(self.store, self.policy)
        settings = SlackSettings.resolve(
            bot_token="xoxb-test",
            signing_secret="s" * 32,
            channel="C0APPROVALS",
            api_url=slack.url,
            env={},
        )
        _app, self.outbox = build_app(settings, self.broker)

    def request(
        self, tool: str, args: dict[str, Any], reason: str | None = None, run_id: str = "run-1"
    ) -> Any:
        call = ToolCall(tool, args, None, run_id, Principal("agent:bot", "slack:UALICE"))
        decision = self.policy.evaluate(call)
        if reason is not None:
            decision = dataclasses.replace(decision, reason=reason)
        return self.broker.request(call, decision, masked_args=dict(call.args))

    def messages(self) -> list[dict[str, Any]]:
        return self.slack.calls("chat.postMessage") + self.slack.calls("chat.update")


@pytest.fixture
def env(tmp_path: Path):
    with FakeSlackAPI() as slack:
        yield Env(tmp_path, slack)


def texts(message: dict[str, Any]) -> list[str]:
    """The top-level text and every text object in the blocks."""
    found = [message.get("text") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks"))
    return found


def assert_clean(message: dict[str, Any]) -> None:
    assert block_kit_errors(message["blocks"]) == []
    for text in texts(message):
        for mention in MENTIONS:
            assert mention not in text
        assert not BROKEN_ENTITY.search(text), text


def test_a_long_reason_and_arguments_full_of_markup_are_posted(env):
    reason = "Because <!channel> & friends said so. " * 270  # ~10 KB
    args = {"payload": "<&>" * 4000, "note": "&amp; " * 600, "query": "a < b && c > d"}
    request = env.request("export_table", args, reason=reason)
    env.outbox.sync_once()
    assert env.slack.refused == []
    assert env.broker.get(request.id).notify["slack"]["state"] == "posted"
    [reply] = [m for m in env.slack.calls("chat.postMessage") if "thread_ts" in m]
    assert_clean(reply)
    shown = json.dumps(reply["blocks"])
    assert "truncated" in shown and request.current_hash[-16:] in shown  # a visible marker


def test_a_mention_in_the_tool_name_is_escaped_everywhere(env):
    tool = "deploy<!channel><!here><@U0ADMIN><https://evil.example|ok>"
    request = env.request(tool, {"service": "api"})
    env.outbox.sync_once()
    env.broker.vote(request.id, "cli:bob", "deny", reason="no <!everyone> & no", channel="cli")
    env.outbox.sync_once()
    sent = env.messages()
    assert len(sent) == 3  # thread parent, the request, the update after the decision
    for message in sent:
        assert_clean(message)
    assert "&lt;!channel&gt;" in sent[-1]["text"]


def test_long_names_everywhere_stay_within_the_limits(env):
    long = "x<&>" * 3000
    request = env.request(long, {long: long}, reason=long, run_id="run-" + long)
    env.outbox.sync_once()
    env.broker.vote(request.id, "cli:bob", "deny", reason=long, channel="cli")
    env.outbox.sync_once()
    assert env.slack.refused == []
    for message in env.messages():
        assert_clean(message)


def test_the_edit_modal_of_long_arguments_opens(env):
    small = env.request("restart", {"service": "api"})
    big = env.request("restart", {"blob": "<" * 5000})
    for request in (small, big):
        view = edit_modal(request, json.dumps([request.id, 0, "C", "1.1"]))
        assert block_kit_errors(view, surface="view") == []
    # the small one is editable as before; the big one says why it is not
    assert any(b.get("block_id") == "args" for b in edit_modal(small, "[]")["blocks"])
    big_view = edit_modal(big, "[]")
    assert "too long to edit in Slack" in json.dumps(big_view) and "submit" not in big_view
    assert not any(b.get("type") == "input" for b in big_view["blocks"])
    # ... and its message offers no edit button to begin with
    env.outbox.sync_once()
    posted = {
        m["blocks"][-1]["elements"][-1]["action_id"] for m in env.messages() if "thread_ts" in m
    }
    assert posted == {ACTION_EDIT, "guardrails_deny"}


def test_the_fake_refuses_what_slack_refuses(env):
    """So every Slack test checks the limits: an oversized section is invalid_blocks."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token="xoxb-test", base_url=env.slack.url)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C", text="t", blocks=[section])
    assert info.value.response["error"] == "invalid_blocks"
    assert "json-pointer:/blocks/0/text/text" in info.value.response["errors"][0]
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C", text="t", blocks=[{"type": "divider"}] * 51)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C", text="x" * 40_001)
    client.chat_postMessage(
        channel="C", text="t", blocks=[{**section, "text": {"type": "mrkdwn", "text": "x" * 3000}}]
    )


@given(st.text(alphabet="&<>`a;", max_size=60), st.integers(min_value=1, max_value=80))
def test_a_cut_never_splits_an_entity(raw, limit):
    cut = mrkdwn(raw, limit)
    assert len(cut) <= limit
    assert not BROKEN_ENTITY.search(cut)
    full = escape(raw)
    assert cut == full or (cut.endswith("…") and full.startswith(cut[:-1]))


def test_a_backtick_reads_differently_from_a_quote():
    """Second red team M4: backticks became apostrophes, so `level` and 'level' (different SQL)
    looked identical to the reviewer; they still cannot close the code block."""
    backtick, quote = escape("WHERE level = `level`"), escape("WHERE level = 'level'")
    assert backtick != quote and "`" not in backtick
