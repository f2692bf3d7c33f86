"""Block Kit for approval requests. Everything here is built from the store's masked record,
never from text the agent wrote about itself, and every piece of untrusted text is escaped so it
cannot create links, mentions or formatting (``<!channel>``, ``<https://evil|good>``)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from guardrails_plugin.store.records import ApprovalRequest, Status, Vote

__all__ = [
    "ACTION_APPROVE",
    "ACTION_DENY",
    "ACTION_EDIT",
    "VIEW_DENY",
    "VIEW_EDIT",
    "deny_modal",
    "edit_modal",
    "escape",
    "request_message",
    "thread_parent",
]

ACTION_APPROVE = "guardrails_approve"
ACTION_DENY = "guardrails_deny"
ACTION_EDIT = "guardrails_edit"
VIEW_DENY = "guardrails_deny_view"
VIEW_EDIT = "guardrails_edit_view"
MAX_ARGS_CHARS = 2500


def escape(text: Any) -> str:
    """Slack mrkdwn control characters, plus backticks so code blocks cannot be closed."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("`", "'")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def button_value(request: ApprovalRequest) -> str:
    """Identifies the request and the revision the reviewer saw; nothing else is trusted."""
    return f"{request.id}:{request.revision}"


def thread_parent(run_id: str, request: ApprovalRequest) -> tuple[str, list[dict[str, Any]]]:
    env = ", ".join(f"{escape(k)}={escape(v)}" for k, v in request.environment.items()) or "-"
    text = (
        f"Agent run {escape(run_id)}: {escape(request.principal)} acting for "
        f"{escape(request.on_behalf_of or '-')}"
    )
    blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*Approval requests for agent run* `{escape(run_id)}`\n"
                f"Agent: {escape(request.principal)}   On behalf of: "
                f"{escape(request.on_behalf_of or '-')}   Environment: {env}",
            },
        }
    ]
    return text, blocks


def request_message(
    request: ApprovalRequest, votes: list[Vote]
) -> tuple[str, list[dict[str, Any]]]:
    """The text and blocks of a request: pending with buttons, or decided without them."""
    args = request.edited_args if request.edited_args is not None else request.masked_args
    shown = json.dumps(args, indent=2, ensure_ascii=False, default=str)
    if len(shown) > MAX_ARGS_CHARS:
        shown = shown[:MAX_ARGS_CHARS] + "\n… (truncated)"
    rule = request.rule_id or "policy default"
    header = f"*{escape(request.tool)}* needs approval (rule `{escape(rule)}`)"
    fields = [
        f"*Reason:* {escape(request.reason)}",
        f"*Requested by:* {escape(request.principal)} for {escape(request.on_behalf_of or '-')}",
        f"*Approvers:* {request.quorum} of {escape(', '.join(sorted(request.approvers)))}",
        f"*Expires:* {_when(request.expires_at)}",
    ]
    if request.data_classes:
        fields.append(f"*Data found:* {escape(', '.join(request.data_classes))}")
    current = [v for v in votes if v.revision == request.revision]
    if current:
        fields.append(
            "*Votes:* " + ", ".join(f"{escape(v.person)} {v.verdict.value}" for v in current)
        )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": header}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(fields)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{escape(shown)}```"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"request `{request.id}` revision {request.revision}, arguments "
                    f"`{request.current_hash[-16:]}`",
                }
            ],
        },
    ]
    if request.status is Status.PENDING:
        value = button_value(request)
        buttons: list[dict[str, Any]] = [
            {
                "type": "button",
                "action_id": ACTION_APPROVE,
                "style": "primary",
                "value": value,
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {
                "type": "button",
                "action_id": ACTION_DENY,
                "style": "danger",
                "value": value,
                "text": {"type": "plain_text", "text": "Deny"},
            },
        ]
        if request.allow_edit:
            buttons.append(
                {
                    "type": "button",
                    "action_id": ACTION_EDIT,
                    "value": value,
                    "text": {"type": "plain_text", "text": "Edit arguments"},
                }
            )
        blocks.append({"type": "actions", "block_id": "guardrails_actions", "elements": buttons})
        text = f"{request.tool} needs approval ({rule})"
    else:
        who = escape(request.decided_by or "system")
        why = f": {escape(request.decision_reason)}" if request.decision_reason else ""
        outcome = f"*{request.status.value.upper()}* by {who}{why}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": outcome}})
        text = f"{request.tool}: {request.status.value} by {request.decided_by or 'system'}"
    return text, blocks


def deny_modal(request: ApprovalRequest, private: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": VIEW_DENY,
        "private_metadata": private,
        "title": {"type": "plain_text", "text": "Deny request"},
        "submit": {"type": "plain_text", "text": "Deny"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "optional": not request.require_reason,
                "label": {"type": "plain_text", "text": "Why? The agent's model reads this."},
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
            }
        ],
    }


def edit_modal(request: ApprovalRequest, private: str) -> dict[str, Any]:
    args = request.edited_args if request.edited_args is not None else request.masked_args
    return {
        "type": "modal",
        "callback_id": VIEW_EDIT,
        "private_metadata": private,
        "title": {"type": "plain_text", "text": "Edit and approve"},
        "submit": {"type": "plain_text", "text": "Approve edited"},
        "blocks": [
            {
                "type": "input",
                "block_id": "args",
                "label": {
                    "type": "plain_text",
                    "text": "Arguments (JSON; placeholders stay placeholders)",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "initial_value": json.dumps(args, indent=2, ensure_ascii=False),
                },
            },
            {
                "type": "input",
                "block_id": "reason",
                "optional": not request.require_reason,
                "label": {"type": "plain_text", "text": "Why?"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
        ],
    }
