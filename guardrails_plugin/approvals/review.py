"""What a reviewer sees of a call's arguments: the rule's ``approval.reviewer_view``.

A reviewer who reads ``"to": "<EMAIL_1>"`` cannot tell a customer from an attacker's mailbox,
so a rule chooses what its reviewers see of the values the masker found:

- ``masked``: what the model sees (placeholders, hashes, ...);
- ``partial`` (the default): contact data partly shown, by the ``partial`` strategy
  (``a***@example.org``, ``****0199``), everything else masked;
- ``clear``: personal data as it is (names, addresses, emails, phones...).

Whatever the view, classes `data_classes.never_clear` names (secrets, card and bank numbers,
national ids, and any class not under PII) are shown masked, exactly as the model sees them.

The view is computed once, by the guard in the agent's process, from the real arguments and the
run's vault (`reviewer_args`), and stored with the request; every face shows it through
`shown_args`: the CLI's ``show``/``pending``, the Slack message, and the ``request.created``
audit row. It shows what will run: a placeholder the model passed on shows the value it will be
restored to, or itself when the rule does not restore placeholders (the tool then gets the
placeholder). Nothing else the model writes (its reasons, tool descriptions) feeds the view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from guardrails_plugin import data_classes
from guardrails_plugin.approvals.duties import resolve_voter
from guardrails_plugin.errors import NotAnApprover, SelfApproval
from guardrails_plugin.masking.strategies import replacement
from guardrails_plugin.masking.vault import PLACEHOLDER, Vault
from guardrails_plugin.store.records import ApprovalRequest
from guardrails_plugin.types import MaskingSettings

if TYPE_CHECKING:
    from guardrails_plugin.masking.masker import Analysis
    from guardrails_plugin.policy.directory import Directory

__all__ = [
    "CONTACT",
    "DEFAULT_VIEW",
    "REVIEWER_VIEWS",
    "may_review",
    "reviewer_args",
    "shown_args",
    "view_name",
]

REVIEWER_VIEWS = ("masked", "partial", "clear")
DEFAULT_VIEW = "partial"
# What `partial` reveals partly: the data a reviewer needs to recognise a recipient.
CONTACT = ("EMAIL", "PHONE")


def reviewer_args(analysis: Analysis, view: str, *, settings: MaskingSettings, vault: Vault) -> Any:
    """The call's arguments as reviewers of a rule with reviewer view ``view`` see them.

    ``settings`` and ``vault`` are the ones the model's copy was masked with, so every value
    shown masked reads exactly as the model's copy (same placeholder, same hash)."""
    if view not in REVIEWER_VIEWS:
        raise ValueError(f"unknown reviewer view {view!r}; use one of {', '.join(REVIEWER_VIEWS)}")
    contact = data_classes.expand(CONTACT)

    def shown(label: str, text: str) -> str:
        masked = replacement(label, text, settings.strategy_for(label), vault, analysis.key)
        if view == "masked" or data_classes.never_clear(label):
            return masked
        value = _executed(label, text, settings, vault)
        if value is None:
            return text  # a placeholder the tool gets as it is: that is what runs
        if view == "clear":
            return value
        if label in contact:
            return replacement(label, value, "partial", Vault(), analysis.key)
        return masked

    return analysis.rewrite(shown, only_changed=True)


def _executed(label: str, text: str, settings: MaskingSettings, vault: Vault) -> str | None:
    """The value the tool will get for ``text``: itself, or the real value behind a placeholder
    this run issued when the rule restores placeholders (None: the placeholder stays)."""
    minted = PLACEHOLDER.fullmatch(text)
    if minted is None or minted.group("label") != label:
        return text
    if not settings.restore_placeholders:
        return None
    return vault.lookup(text)


def shown_args(request: ApprovalRequest) -> Mapping[str, Any]:
    """What every reviewer face shows of ``request``'s current revision: a reviewer's edit as
    it was written (placeholders stay placeholders), else the stored reviewer view, else (a
    request made without a guard, or before views existed) the masked arguments.

    A stored view counts only with its name: ``review_args`` alone (a request made without a
    view, filled in the file afterwards) is not shown; the masked arguments are."""
    if request.edited_args is not None:
        return request.edited_args
    if request.review_args is not None and request.reviewer_view is not None:
        return request.review_args
    return request.masked_args


def view_name(request: ApprovalRequest) -> str:
    """How `shown_args` shows the arguments, in a few words for a heading."""
    if request.edited_args is not None:
        return "as edited"
    if request.review_args is not None and request.reviewer_view is not None:
        return f"reviewer view: {request.reviewer_view}"
    return "masked"


def may_review(identity: str, request: ApprovalRequest, directory: Directory | None) -> bool:
    """Whether ``identity`` reads ``request`` as its reviewers do (`shown_args`, votes with
    their reasons and edits): exactly when it could vote on it now (an approver recorded with
    the request whom the current policy still counts, and not its requester). Everyone else
    who may read at all (another reviewer, the person served, a machine client) gets the
    masked arguments, the model's own copy: the rule's reviewer view is for its approvers."""
    try:
        resolve_voter(identity, request, directory)
    except (NotAnApprover, SelfApproval):
        return False
    return True
