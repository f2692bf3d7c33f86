"""Block Kit for approval requests. Everything here is built from the store's masked record,
never from text the agent wrote about itself, and every piece of untrusted text is escaped so it
cannot create links, mentions or formatting (``<!channel>``, ``<https://evil|good>``), then cut
to fit Slack's limits (a message Slack refuses is never seen, and the request expires unseen).

Budgets, in characters after escaping: each section's text stays under Slack's 3,000, the
notification text under 700 (Slack's hard limit is 40,000). A cut is marked with ``…``; cut
arguments also name the hash of the full arguments, which ``guardrails-plugin show`` prints.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from guardrails_plugin.approvals import stepup
from guardrails_plugin.approvals.review import shown_args, view_name
from guardrails_plugin.notify.slack.mrkdwn import escape, mrkdwn
from guardrails_plugin.store.records import ApprovalRequest, Status, Vote

__all__ = [
    "ACTION_APPROVE",
    "ACTION_DENY",
    "ACTION_EDIT",
    "ACTION_INBOX",
    "VIEW_DENY",
    "VIEW_EDIT",
    "deny_modal",
    "edit_modal",
    "editable",
    "escape",
    "request_message",
    "shown_whole",
    "thread_parent",
]

ACTION_APPROVE = "guardrails_approve"
ACTION_INBOX = "guardrails_inbox"  # a link button: Slack still sends the click, acked only
ACTION_DENY = "guardrails_deny"
ACTION_EDIT = "guardrails_edit"
VIEW_DENY = "guardrails_deny_view"
VIEW_EDIT = "guardrails_edit_view"

SECTION_CHARS = 3000  # Slack's limit for a section's text
INPUT_CHARS = 3000  # the most a plain_text_input holds
# Per-item budgets inside a section; they add up to less than SECTION_CHARS.
TOOL_CHARS = 150
RULE_CHARS = 130
NAME_CHARS = 200
LIST_CHARS = 300
REASON_CHARS = 1200
OUTCOME_REASON_CHARS = 2400


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def button_value(request: ApprovalRequest) -> str:
    """Identifies the request and the revision the reviewer saw; nothing else is trusted."""
    return f"{request.id}:{request.revision}"


def _section(text: str) -> dict[str, Any]:
    # The budgets keep every section under the limit; this is the backstop if one is changed.
    if len(text) > SECTION_CHARS:
        raise ValueError(f"section text of {len(text)} characters exceeds Slack's limit")
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def thread_parent(run_id: str, request: ApprovalRequest) -> tuple[str, list[dict[str, Any]]]:
    run = mrkdwn(run_id, NAME_CHARS)
    agent = mrkdwn(request.principal, NAME_CHARS)
    human = mrkdwn(request.on_behalf_of or "-", NAME_CHARS)
    text = f"Agent run {run}: {agent} acting for {human}"
    blocks = [
        _section(
            f"*Approval requests for agent run* `{run}`\n"
            f"Agent: {agent}   On behalf of: {human}   Environment: {_labels(request)}"
        )
    ]
    return text, blocks


def _labels(request: ApprovalRequest) -> str:
    shown: list[str] = []
    used = 0
    for key, value in request.environment.items():
        label = f"{mrkdwn(key, 60)}={mrkdwn(value, 100)}"
        if used + len(label) > LIST_CHARS:
            shown.append("…")
            break
        shown.append(label)
        used += len(label) + 2
    return ", ".join(shown) or "-"


def editable(request: ApprovalRequest) -> bool:
    """Whether the arguments fit the edit modal's text input."""
    return len(_edit_json(request)) <= INPUT_CHARS


def _edit_json(request: ApprovalRequest) -> str:
    """What an edit starts from: the arguments as the tool's call is bound (placeholders, not
    the reviewer view, whose ``a***@example.org`` would be sent to the tool as written)."""
    args = request.edited_args if request.edited_args is not None else request.masked_args
    return _json(args)


def _shown_json(request: ApprovalRequest) -> str:
    """The arguments as reviewers see them: the same view as `show` and the audit log."""
    return _json(shown_args(request))


def _json(args: Any) -> str:
    return json.dumps(args, indent=2, ensure_ascii=False, default=str)


def shown_whole(request: ApprovalRequest) -> bool:
    """Whether the arguments fit the message uncut. A reviewer approves only what they saw, so
    a request whose arguments are cut has no Approve button (review it with `show`)."""
    return len(escape(_shown_json(request))) <= SECTION_CHARS - 6


def request_message(
    request: ApprovalRequest, votes: list[Vote]
) -> tuple[str, list[dict[str, Any]]]:
    """The text and blocks of a request: pending with buttons, or decided without them."""
    digest = request.current_hash[-16:]
    tool = mrkdwn(request.tool, TOOL_CHARS)
    rule = mrkdwn(request.rule_id or "policy default", RULE_CHARS)
    fields = [
        f"*Reason:* {mrkdwn(request.reason, REASON_CHARS)}",
        f"*Requested by:* {mrkdwn(request.principal, NAME_CHARS)} for "
        f"{mrkdwn(request.on_behalf_of or '-', NAME_CHARS)}",
        f"*Approvers:* {request.quorum} of "
        f"{mrkdwn(', '.join(sorted(request.approvers)), LIST_CHARS)}",
        f"*Expires:* {_when(request.expires_at)}",
    ]
    if request.data_classes:
        fields.append(f"*Data found:* {mrkdwn(', '.join(request.data_classes), LIST_CHARS)}")
    current = [v for v in votes if v.revision == request.revision]
    if current:
        shown_votes = ", ".join(f"{v.person} {v.verdict.value}" for v in current)
        fields.append(f"*Votes:* {mrkdwn(shown_votes, LIST_CHARS)}")
    marker = f"\n… (truncated; full arguments have hash {digest})"
    blocks: list[dict[str, Any]] = [
        _section(f"*{tool}* needs approval (rule `{rule}`)"),
        _section("\n".join(fields)),
        _section(f"```{mrkdwn(_shown_json(request), SECTION_CHARS - 6, marker)}```"),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"request `{request.id}` revision {request.revision}, arguments "
                    f"`{digest}` ({view_name(request)})",
                }
            ],
        },
    ]
    if request.status is Status.PENDING and stepup.needs_sign_in(request):
        blocks += _sign_in_only(request)
        text = f"{tool} needs approval in the inbox ({rule})"
    elif request.status is Status.PENDING:
        whole = shown_whole(request)
        if not whole:
            blocks.append(
                _section(
                    "The arguments are too long to show here, so they cannot be approved from "
                    f"Slack: review them with `guardrails-plugin show {request.id}` and approve "
                    "there, or deny here."
                )
            )
        blocks.append(_buttons(request, approvable=whole))
        text = f"{tool} needs approval ({rule})"
    else:
        who = mrkdwn(request.decided_by or "system", NAME_CHARS)
        why = (
            f": {mrkdwn(request.decision_reason, OUTCOME_REASON_CHARS)}"
            if request.decision_reason
            else ""
        )
        blocks.append(_section(f"*{request.status.value.upper()}* by {who}{why}"))
        text = f"{tool}: {request.status.value} by {who}"
    return text, blocks


def _sign_in_only(request: ApprovalRequest) -> list[dict[str, Any]]:
    """A step-up rule (``authentication: oidc``) takes no vote from Slack: no Approve, Deny or
    Edit buttons, only the way to the inbox, where reviewers sign in through the provider."""
    note = _section(
        "This rule takes votes only from reviewers signed in through the identity provider: "
        "review it in the web inbox."
    )
    url = stepup.inbox_url(request.id)
    if url is None:
        return [
            note,
            _section(
                f"Open request `{request.id}` in the web inbox (`guardrails-plugin serve`; "
                "set GUARDRAILS_PUBLIC_URL for the Slack app to link it here)."
            ),
        ]
    button = {
        "type": "button",
        "action_id": ACTION_INBOX,
        "style": "primary",
        "url": url,
        "text": {"type": "plain_text", "text": "Review in the inbox"},
    }
    return [note, {"type": "actions", "block_id": "guardrails_actions", "elements": [button]}]


def _buttons(request: ApprovalRequest, *, approvable: bool = True) -> dict[str, Any]:
    value = button_value(request)
    buttons: list[dict[str, Any]] = []
    if approvable:
        buttons.append(
            {
                "type": "button",
                "action_id": ACTION_APPROVE,
                "style": "primary",
                "value": value,
                "text": {"type": "plain_text", "text": "Approve"},
            }
        )
    buttons += [
        {
            "type": "button",
            "action_id": ACTION_DENY,
            "style": "danger",
            "value": value,
            "text": {"type": "plain_text", "text": "Deny"},
        },
    ]
    if request.allow_edit and editable(request):
        buttons.append(
            {
                "type": "button",
                "action_id": ACTION_EDIT,
                "value": value,
                "text": {"type": "plain_text", "text": "Edit arguments"},
            }
        )
    return {"type": "actions", "block_id": "guardrails_actions", "elements": buttons}


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
    shown = _edit_json(request)
    if len(shown) > INPUT_CHARS:
        # Slack's text input holds 3,000 characters: a cut copy would be an edit nobody meant.
        return {
            "type": "modal",
            "callback_id": VIEW_EDIT,
            "private_metadata": private,
            "title": {"type": "plain_text", "text": "Edit arguments"},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [
                _section(
                    f"These arguments are too long to edit in Slack ({len(shown):,} characters; "
                    f"a text field holds {INPUT_CHARS:,}). Approve or deny them as they are; "
                    f"`guardrails-plugin show {request.id}` prints them in full."
                )
            ],
        }
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
                    "initial_value": shown,
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
