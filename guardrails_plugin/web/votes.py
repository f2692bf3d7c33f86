"""Casting a vote from the web: the API and the inbox both come here, and here only to
`ApprovalBroker.vote`, which applies the same duties as Slack and the CLI (approver set,
no self-approval, quorum, revision, reason, edits judged again, step-up).

A refusal becomes an HTTP status the client can act on: 403 (not yours to decide), 404 (no
such request), 409 (decided, or changed since you looked), 422 (a reason is needed, or the edit
is refused). The broker audits every refusal before this maps it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from guardrails_plugin.approvals.broker import ApprovalBroker, VoteResult
from guardrails_plugin.errors import (
    AlreadyDecided,
    ApprovalError,
    NotAnApprover,
    ReasonRequired,
    RequestChanged,
    SelfApproval,
    StepUpRequired,
)
from guardrails_plugin.store.records import Verdict
from guardrails_plugin.web.auth import Caller

__all__ = ["MAX_REASON", "REQUEST_ID", "VERDICTS", "cast_vote", "parse_vote"]

REQUEST_ID = re.compile(r"req_[0-9a-zA-Z_-]{1,64}")
VERDICTS = ("approve", "deny", "edit")
MAX_REASON = 2000


def parse_vote(body: Mapping[str, Any]) -> tuple[str, str | None, int | None, Any]:
    """(verdict, reason, revision, edited args) from a vote body, or 400/422 naming the field."""
    unknown = sorted(set(body) - {"verdict", "reason", "revision", "args"})
    if unknown:
        raise HTTPException(400, f"unknown field(s) {', '.join(map(repr, unknown))}")
    verdict = body.get("verdict")
    if verdict not in VERDICTS:
        raise HTTPException(400, "verdict must be one of approve, deny, edit")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise HTTPException(400, f"reason must be text of at most {MAX_REASON} characters")
    revision = body.get("revision")
    if revision is not None and (
        isinstance(revision, bool) or not isinstance(revision, int) or revision < 0
    ):
        raise HTTPException(400, "revision must be a non-negative integer")
    if verdict in ("approve", "edit") and revision is None:
        raise HTTPException(400, "an approval or edit must name the revision you reviewed")
    args = body.get("args")
    if verdict == "edit" and not isinstance(args, dict):
        raise HTTPException(400, "an edit needs args: the new arguments as a JSON object")
    if verdict != "edit" and args is not None:
        raise HTTPException(400, "args only go with verdict edit")
    if verdict == "deny" and not (reason or "").strip():
        raise HTTPException(422, "a deny needs a reason: the agent's model reads it")
    return verdict, reason, revision, args


def _status(exc: ApprovalError) -> int:
    if isinstance(exc, NotAnApprover | SelfApproval | StepUpRequired):
        return 403
    if isinstance(exc, AlreadyDecided | RequestChanged):
        return 409
    if isinstance(exc, ReasonRequired):
        return 422
    return 422


async def cast_vote(
    broker: ApprovalBroker,
    caller: Caller,
    request_id: str,
    verdict: str,
    reason: str | None,
    revision: int | None,
    args: Mapping[str, Any] | None,
) -> VoteResult:
    if not REQUEST_ID.fullmatch(request_id):
        raise HTTPException(404, "no such approval request")
    if await run_in_threadpool(broker.store.get_request, request_id) is None:
        raise HTTPException(404, f"no approval request {request_id}")
    try:
        return await run_in_threadpool(
            lambda: broker.vote(
                request_id,
                caller.identity,
                Verdict.DENY if verdict == "deny" else Verdict.APPROVE,
                reason=reason,
                edited_args=dict(args) if verdict == "edit" and args is not None else None,
                channel=caller.channel,
                revision=revision,
                # Only this path builds the evidence: what step-up rules need, and what the
                # vote's audit row keeps of the provider's token.
                sign_in=caller.evidence(),
            )
        )
    except ApprovalError as exc:
        raise HTTPException(_status(exc), str(exc)) from None
