"""What the store keeps: approval requests, votes and audit records, as plain frozen values."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from guardrails_plugin.store.canonical import canonical_json

__all__ = ["TERMINAL", "ApprovalRequest", "AuditRecord", "Status", "Verdict", "Vote"]


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Status.APPROVED, Status.DENIED, Status.EXPIRED, Status.CANCELLED})


class Verdict(enum.StrEnum):
    APPROVE = "approve"
    DENY = "deny"


@dataclass(frozen=True)
class ApprovalRequest:
    """A tool call waiting for (or past) a human decision. Holds masked arguments only.

    ``args_hash`` binds the request to the call's real arguments (keyed HMAC of their canonical
    JSON); ``current_hash`` is what an approval binds to: the same, or the hash of a reviewer's
    edit (``edited_args``, in the masked form the reviewer saw). ``revision`` grows with every
    edit, so an approval of an older revision no longer counts. ``review_args`` is what
    reviewers are shown of the original arguments (partly or fully revealed contact data, never
    a secret; see `approvals.review`).
    """

    id: str
    tool: str
    masked_args: Mapping[str, Any]
    args_hash: str
    principal: str
    created_at: float
    expires_at: float
    approvers: Mapping[str, tuple[str, ...]]
    quorum: int = 1
    status: Status = Status.PENDING
    idempotency_key: str | None = None
    run_id: str | None = None
    rule_id: str | None = None
    reason: str = ""
    on_behalf_of: str | None = None
    requester_identities: tuple[str, ...] = ()
    approver_sources: tuple[str, ...] = ()
    require_reason: bool = False
    allow_edit: bool = False
    revision: int = 0
    current_hash: str = ""
    edited_args: Mapping[str, Any] | None = None
    data_classes: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    decided_at: float | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    execute_by: float | None = None
    executed_at: float | None = None
    notify: Mapping[str, Any] = field(default_factory=dict)
    vault_id: str | None = None
    # What reviewers see of the original arguments (`approvals.review`): the rule's reviewer
    # view and the arguments as it shows them. None: the masked arguments.
    reviewer_view: str | None = None
    review_args: Mapping[str, Any] | None = None
    # "oidc": only votes from identities signed in through the identity provider count.
    authentication: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def terms(self) -> dict[str, Any]:
        """What a vote on this request is judged by, and what its reviewers see (as a digest),
        as JSON: written into the keyed audit rows that create or change the request, and
        compared with the columns before any vote counts, so changing a column (an approver's
        identities, the quorum, the requester's identities, the arguments shown) in the file
        changes nothing without the store's key."""
        return {
            "tool": self.tool,
            "rule_id": self.rule_id,
            "principal": self.principal,
            "on_behalf_of": self.on_behalf_of,
            "requester_identities": sorted(self.requester_identities),
            "approvers": {p: sorted(ids) for p, ids in sorted(self.approvers.items())},
            "approver_sources": list(self.approver_sources),
            "quorum": self.quorum,
            "require_reason": self.require_reason,
            "allow_edit": self.allow_edit,
            "expires_at": self.expires_at,
            "revision": self.revision,
            "current_hash": self.current_hash,
            "vault_id": self.vault_id,
            # Only when set, so requests made before the column keep their terms; a step-up
            # cleared in the file no longer matches the audit log, and the request takes no vote.
            **({"authentication": self.authentication} if self.authentication else {}),
            # What reviewers are shown, by digest (all of it masked already): a request whose
            # display was rewritten in the file takes no votes.
            "view": hashlib.sha256(
                canonical_json(
                    {
                        "masked_args": self.masked_args,
                        "edited_args": self.edited_args,
                        "data_classes": list(self.data_classes),
                        "reason": self.reason,
                        "environment": self.environment,
                        "run_id": self.run_id,
                        # When either is set, so requests made before the columns (both
                        # NULL) keep their digest, and a review_args written into a request
                        # made without a view changes it.
                        **(
                            {"reviewer_view": self.reviewer_view, "review_args": self.review_args}
                            if self.reviewer_view is not None or self.review_args is not None
                            else {}
                        ),
                    }
                )
            ).hexdigest(),
        }


@dataclass(frozen=True)
class Vote:
    request_id: str
    revision: int
    person: str
    identity: str
    channel: str
    verdict: Verdict
    created_at: float
    reason: str | None = None
    edited_args: Mapping[str, Any] | None = None
    id: int | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One row of the hash-chained audit log. ``data`` never holds raw sensitive values."""

    seq: int
    ts: float
    event: str
    request_id: str | None
    actor: str | None
    data: Mapping[str, Any]
    prev_hash: str
    hash: str
