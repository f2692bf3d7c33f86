"""The outbox: agent processes only write requests to SQLite; this posts them to Slack.

Each pending request is posted once, as a reply in its agent run's thread (the run's first
request opens the thread); claims in the store make that hold with two app instances or a
restart. Messages of decided or expired requests are updated in place, whoever decided (Slack,
the CLI, expiry). A Slack failure leaves the claim to go stale and be retried; the request stays
pending and, if Slack never comes back, expires, which denies.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.notify.slack.blocks import request_message, thread_parent
from guardrails_plugin.notify.slack.settings import SlackSettings
from guardrails_plugin.store.records import ApprovalRequest, Status

__all__ = ["KIND", "SlackOutbox"]

log = logging.getLogger(__name__)

KIND = "slack"


class SlackOutbox:
    def __init__(self, client: Any, broker: ApprovalBroker, settings: SlackSettings) -> None:
        self.client = client
        self.broker = broker
        self.store: Any = broker.store
        self.settings = settings
        self.owner = f"slack-app-{uuid.uuid4().hex[:8]}"

    def sync_once(self) -> None:
        """Post new requests, record expiries, and bring decided messages up to date."""
        self.broker.expire_due()
        for request in reversed(self.store.list_requests(Status.PENDING, limit=500)):
            if KIND not in request.notify or request.notify[KIND].get("state") == "posting":
                self._post(request)
        for request in self.store.list_requests(None, limit=500):
            shown = request.notify.get(KIND, {})
            if shown.get("state") == "posted" and shown.get("shown") != _signature(
                request, self._votes(request)
            ):
                self.refresh(request.id)

    def _votes(self, request: ApprovalRequest) -> list[Any]:
        return list(self.store.votes(request.id))

    def _thread(self, request: ApprovalRequest, channel: str) -> str | None:
        run = request.run_id or request.id
        found = self.store.thread(KIND, run)
        if found is not None:
            return str(found[1])
        now = self.broker.clock.now()
        if not self.store.claim_thread(KIND, run, now):
            return None  # another instance is opening it; try again on the next pass
        text, blocks = thread_parent(run, request)
        try:
            response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except Exception:
            self.store.release_thread(KIND, run)
            raise
        self.store.set_thread(KIND, run, response["channel"], response["ts"])
        return str(response["ts"])

    def _post(self, request: ApprovalRequest) -> None:
        channel = self.settings.channel_for(request.rule_id)
        now = self.broker.clock.now()
        try:
            thread_ts = self._thread(request, channel)
            if thread_ts is None:
                return
            if not self.store.claim_notification(request.id, KIND, self.owner, now):
                return
            votes = self._votes(request)
            text, blocks = request_message(request, votes)
            try:
                response = self.client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts, text=text, blocks=blocks
                )
            except Exception:
                self.store.release_notification(request.id, KIND, self.owner)
                raise
            self.store.set_notification(
                request.id,
                KIND,
                {
                    "state": "posted",
                    "channel": response["channel"],
                    "ts": response["ts"],
                    "thread_ts": thread_ts,
                    "shown": _signature(request, votes),
                },
            )
        except Exception as exc:  # noqa: BLE001 - retried later; the request expires if never
            log.error("could not post approval request %s to Slack: %s", request.id, exc)

    def refresh(self, request_id: str) -> None:
        """Re-render a posted request (after a vote, an edit, a decision or expiry)."""
        try:
            request = self.broker.get(request_id)
            posted = dict(request.notify.get(KIND, {}))
            if posted.get("state") != "posted":
                return
            votes = self._votes(request)
            text, blocks = request_message(request, votes)
            self.client.chat_update(
                channel=posted["channel"], ts=posted["ts"], text=text, blocks=blocks
            )
            self.store.set_notification(
                request_id, KIND, {**posted, "shown": _signature(request, votes)}
            )
        except Exception as exc:  # noqa: BLE001 - the next sync retries
            log.error("could not update Slack message of %s: %s", request_id, exc)


def _signature(request: ApprovalRequest, votes: list[Any]) -> str:
    """What a message shows: status, revision and votes. A change means an update is due."""
    return f"{request.status.value}:{request.revision}:{len(votes)}"
