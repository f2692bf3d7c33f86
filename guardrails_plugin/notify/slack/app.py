"""The Bolt app: buttons and modals that vote through the broker.

Trust comes from the store, not the payload: the button's value only names the request and the
revision the reviewer saw, the click must come from the message the app posted for that request
(channel and ts as stored), the voter is the clicking Slack user id mapped to a person by the
policy, and the broker refuses self-approval, non-approvers and double votes. Bolt verifies
each request's signature and timestamp; a replay of the same signed request inside Slack's
5-minute window, and Slack's retries, change nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import ApprovalError
from guardrails_plugin.notify.slack.blocks import (
    ACTION_APPROVE,
    ACTION_DENY,
    ACTION_EDIT,
    ACTION_INBOX,
    VIEW_DENY,
    VIEW_EDIT,
    deny_modal,
    edit_modal,
    shown_whole,
)
from guardrails_plugin.notify.slack.mrkdwn import mrkdwn
from guardrails_plugin.notify.slack.outbox import KIND, SlackOutbox
from guardrails_plugin.notify.slack.settings import SlackSettings
from guardrails_plugin.store.events import Event

__all__ = ["build_app"]

log = logging.getLogger(__name__)

REPLAY_WINDOW = 310.0  # Slack's 5 minutes, and a little clock skew


def build_app(
    settings: SlackSettings,
    broker: ApprovalBroker,
    *,
    process_before_response: bool = False,
) -> tuple[App, SlackOutbox]:
    """The Bolt app and its outbox, sharing one ``WebClient`` pointed at ``settings.api_url``."""
    client = WebClient(token=settings.bot_token, base_url=settings.api_url)
    app = App(
        client=client,
        signing_secret=settings.signing_secret or "",
        request_verification_enabled=not settings.socket,
        process_before_response=process_before_response,
    )
    outbox = SlackOutbox(client, broker, settings)
    store: Any = broker.store

    @app.middleware
    def once(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> Any:
        if settings.socket:
            return next()
        if req.headers.get("x-slack-retry-num"):
            return BoltResponse(status=200, body="")  # a retry of something already handled
        signature = (req.headers.get("x-slack-signature") or [""])[0]
        timestamp = (req.headers.get("x-slack-request-timestamp") or [""])[0]
        key = hashlib.sha256(f"slack:{timestamp}:{signature}".encode()).hexdigest()
        if not store.first_delivery(key, broker.clock.now(), REPLAY_WINDOW):
            return BoltResponse(status=409, body="duplicate request")
        return next()

    voter = _Voter(settings, broker, outbox, client)
    app.action(ACTION_APPROVE)(voter.approve)
    app.action(ACTION_INBOX)(lambda ack: ack())  # a link: the browser opens it, nothing to do
    app.action(ACTION_DENY)(voter.open_deny)
    app.action(ACTION_EDIT)(voter.open_edit)
    app.view(VIEW_DENY)(voter.submit_deny)
    app.view(VIEW_EDIT)(voter.submit_edit)
    return app, outbox


class _Voter:
    def __init__(
        self,
        settings: SlackSettings,
        broker: ApprovalBroker,
        outbox: SlackOutbox,
        client: WebClient,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.outbox = outbox
        self.client = client

    # --- buttons -------------------------------------------------------------------------------

    def approve(self, ack: Callable[..., Any], body: dict[str, Any]) -> None:
        ack()
        where = self._where(body)
        if where is None:
            return
        if not shown_whole(self.broker.get(where[0])):
            self._refuse(
                body,
                where[0],
                "its arguments are too long to show in Slack, so they cannot be approved here: "
                f"review them with `guardrails-plugin show {where[0]}`",
                where[2],
            )
            return
        self._vote(body, where, "approve")

    def open_deny(self, ack: Callable[..., Any], body: dict[str, Any]) -> None:
        ack()
        self._open(body, deny_modal)

    def open_edit(self, ack: Callable[..., Any], body: dict[str, Any]) -> None:
        ack()
        self._open(body, edit_modal)

    def _open(self, body: dict[str, Any], modal: Callable[..., dict[str, Any]]) -> None:
        where = self._where(body)
        if where is None:
            return
        request_id, _revision, _channel, _ts = where
        request = self.broker.get(request_id)
        self.client.views_open(
            trigger_id=body["trigger_id"], view=modal(request, json.dumps(list(where)))
        )

    # --- modals --------------------------------------------------------------------------------

    def submit_deny(
        self, ack: Callable[..., Any], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        where = self._private(view)
        reason = _field(view, "reason")
        if where is None:
            ack()
            return
        request = self.broker.get(where[0])
        if request.require_reason and not reason:
            ack(response_action="errors", errors={"reason": "This rule requires a reason."})
            return
        ack()
        self._vote(body, where, "deny", reason=reason or "denied in Slack")

    def submit_edit(
        self, ack: Callable[..., Any], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        where = self._private(view)
        text = _field(view, "args") or ""
        try:
            edited = json.loads(text)
            if not isinstance(edited, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            ack(response_action="errors", errors={"args": f"Not a JSON object: {exc}"})
            return
        ack()
        if where is not None:
            self._vote(body, where, "approve", reason=_field(view, "reason"), edited=edited)

    # --- shared --------------------------------------------------------------------------------

    def _where(self, body: dict[str, Any]) -> tuple[str, int, str, str] | None:
        """(request id, revision, channel, ts) of a button click, checked against the store."""
        try:
            value = str(body["actions"][0]["value"])
            request_id, _, revision = value.rpartition(":")
            channel, ts = str(body["channel"]["id"]), str(body["message"]["ts"])
            where = (request_id, int(revision), channel, ts)
        except (KeyError, IndexError, TypeError, ValueError):
            self._refuse(body, None, "this button's payload is malformed")
            return None
        try:
            posted = self.broker.get(request_id).notify.get(KIND, {})
        except ApprovalError:
            self._refuse(body, None, f"there is no approval request {request_id}")
            return None
        if (posted.get("channel"), posted.get("ts")) != (channel, ts):
            self._refuse(body, request_id, "this button does not belong to that request's message")
            return None
        return where

    def _private(self, view: dict[str, Any]) -> tuple[str, int, str, str] | None:
        try:
            request_id, revision, channel, ts = json.loads(view["private_metadata"])
            posted = self.broker.get(request_id).notify.get(KIND, {})
        except (KeyError, TypeError, ValueError, ApprovalError):
            return None
        if (posted.get("channel"), posted.get("ts")) != (channel, ts):
            return None
        return str(request_id), int(revision), str(channel), str(ts)

    def _vote(
        self,
        body: dict[str, Any],
        where: tuple[str, int, str, str],
        verdict: str,
        *,
        reason: str | None = None,
        edited: dict[str, Any] | None = None,
    ) -> None:
        request_id, revision, channel, _ts = where
        user = str(body.get("user", {}).get("id", ""))
        team = body.get("team", {}).get("id") or body.get("user", {}).get("team_id")
        if self.settings.team_id and team != self.settings.team_id:
            self._refuse(
                body, request_id, "votes from another Slack workspace do not count", channel
            )
            return
        try:
            self.broker.vote(
                request_id,
                f"slack:{user}",
                verdict,
                reason=reason,
                edited_args=edited,
                channel="slack",
                revision=revision,
            )
        except ApprovalError as exc:
            self._ephemeral(channel, user, f"Your vote was not counted: {exc}")
        self.outbox.refresh(request_id)

    def _refuse(
        self, body: dict[str, Any], request_id: str | None, why: str, channel: str | None = None
    ) -> None:
        user = str(body.get("user", {}).get("id", ""))
        try:
            self.broker.store.record_event(
                Event.VOTE_REFUSED,
                request_id=request_id,
                actor=f"slack:{user}",
                data={"channel": "slack", "why": why},
            )
        except Exception as exc:  # noqa: BLE001 - still tell the user
            log.error("could not audit a refused Slack click: %s", exc)
        where = channel or (body.get("channel") or {}).get("id")
        if where and user:
            self._ephemeral(where, user, f"Your vote was not counted: {why}.")

    def _ephemeral(self, channel: str, user: str, text: str) -> None:
        try:
            # Error texts can quote stored values; Slack must not read them as mentions.
            self.client.chat_postEphemeral(channel=channel, user=user, text=mrkdwn(text, 3000))
        except Exception as exc:  # noqa: BLE001 - best effort
            log.error("could not tell %s why their vote failed: %s", user, exc)


def _field(view: dict[str, Any], block: str) -> str | None:
    try:
        value = view["state"]["values"][block]["value"]["value"]
    except (KeyError, TypeError):
        return None
    return str(value).strip() or None if value is not None else None
