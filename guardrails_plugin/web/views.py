"""Requests, votes and audit rows as the API returns them: masked arguments per the rule's
reviewer view (`approvals.review.shown_args`, the one function every face shows them through).

The reviewer view is for the request's approvers (`approvals.review.may_review`). Any other
reader gets the *reader* view: the masked arguments (the model's copy), no edited arguments,
votes and decision without reasons or edits, and audit rows of that request without the
``shown_args``, reasons, edits and ``terms`` (whose ``view`` digest would let a reader test
guesses of the clear values) they record (the row is marked ``"withheld"``, so its hash no
longer recomputes from the export; ``/api/v1/audit/verify`` checks the chain on the server)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from guardrails_plugin.approvals import stepup
from guardrails_plugin.cli.approvals import iso, request_json
from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Vote

__all__ = [
    "READER_VIEW",
    "WITHHELD",
    "audit_csv",
    "audit_json",
    "audit_jsonl",
    "reader_view",
    "request_view",
    "vote_json",
]

WITHHELD = "[withheld: the reviewer view is shown to this request's approvers only]"
READER_VIEW = "masked (the reviewer view is for this request's approvers)"


def reader_view(
    r: ApprovalRequest, votes: Iterable[Vote] = ()
) -> tuple[ApprovalRequest, list[Vote]]:
    """The request and its votes as a reader who is not one of its approvers sees them, in the
    API and the inbox alike: no reviewer view and no edits (so `shown_args` gives the masked
    arguments, the model's copy), and no reasons (a reviewer's words may quote what the view
    showed)."""
    hidden = dataclasses.replace(
        r, edited_args=None, decision_reason=None, review_args=None, reviewer_view=None
    )
    return hidden, [dataclasses.replace(v, reason=None, edited_args=None) for v in votes]


def vote_json(v: Vote) -> dict[str, Any]:
    return {
        "person": v.person,
        "identity": v.identity,
        "channel": v.channel,
        "verdict": v.verdict.value,
        "revision": v.revision,
        "reason": v.reason,
        "edited_args": dict(v.edited_args) if v.edited_args is not None else None,
        "at": iso(v.created_at),
    }


def request_view(
    r: ApprovalRequest, votes: Iterable[Vote] | None = None, *, full: bool = True
) -> dict[str, Any]:
    """The request as the API returns it; ``full`` (the caller may review it) shows the
    reviewer view, else the reader view (`reader_view`)."""
    authentication, sign_in = r.authentication, stepup.needs_sign_in(r)
    if not full:
        r, hidden = reader_view(r, votes or ())
        votes = hidden if votes is not None else None
    out = request_json(r)  # the CLI's --json shape: one shape for every machine reader
    if not full:
        out["args_shown"] = READER_VIEW
    out["approver_identities"] = {p: list(ids) for p, ids in sorted(r.approvers.items())}
    out["authentication"] = authentication
    out["needs_sign_in"] = sign_in
    if votes is not None:
        out["votes"] = [vote_json(v) for v in votes]
    return out


def audit_json(r: AuditRecord, full: bool = True) -> dict[str, Any]:
    data = dict(r.data)
    out: dict[str, Any] = {
        "seq": r.seq,
        "ts": iso(r.ts),
        "event": r.event,
        "request_id": r.request_id,
        "actor": r.actor,
        "data": data,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }
    if not full:
        # ``terms`` too: its ``view`` digest is an unkeyed hash over what the reader sees and the
        # clear reviewer view, so a reader could test guesses of the clear values against it.
        for key in ("shown_args", "reason", "edited_args", "terms"):
            if key in data:
                data[key] = WITHHELD
        out["withheld"] = True
    return out


def audit_jsonl(
    rows: Iterable[AuditRecord], full: Callable[[AuditRecord], bool] | None = None
) -> str:
    return "".join(
        json.dumps(audit_json(r, full(r) if full else True), ensure_ascii=False) + "\n"
        for r in rows
    )


_COLUMNS = ["seq", "ts", "event", "request_id", "actor", "data", "prev_hash", "hash"]


def audit_csv(
    rows: Iterable[AuditRecord], full: Callable[[AuditRecord], bool] | None = None
) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_COLUMNS)
    writer.writeheader()
    for r in rows:
        row = audit_json(r, full(r) if full else True)
        row.pop("withheld", None)
        row["data"] = json.dumps(row["data"], ensure_ascii=False)
        # A spreadsheet runs a cell that starts with = + - @ as a formula: quote it as text.
        writer.writerow(
            {
                k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v)
                for k, v in row.items()
            }
        )
    return out.getvalue()


def parse_since(value: str | None) -> float:
    """Seconds since the epoch from an ISO time or a duration ago (``24h``); ValueError else."""
    from guardrails_plugin.policy.schema import parse_duration

    if not value:
        return 0.0
    try:
        return dt.datetime.now(dt.UTC).timestamp() - parse_duration(value)
    except ValueError:
        pass
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
