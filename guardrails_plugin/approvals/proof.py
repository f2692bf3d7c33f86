"""What the audit log proves about a request, as opposed to what its columns claim.

A process that can write the SQLite file can set any column (``status = 'approved'``), insert
votes and copy rows. It cannot write an audit row that is authentic under the store's key. So the
execution claim takes the approval from the request's keyed ``request.approved`` row (tool, bound
arguments hash, revision, quorum, execution window) and counts the keyed ``vote.recorded`` rows
behind it; `audit verify` cross-checks every request's columns against the chain the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import StoreTx
from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Status, Vote

__all__ = [
    "DECISION_EVENTS",
    "NotProven",
    "ProvenApproval",
    "RequestChecker",
    "prove_approval",
    "terms_refusal",
]

_DECISIONS = {
    Event.APPROVED: Status.APPROVED,
    Event.DENIED: Status.DENIED,
    Event.EXPIRED: Status.EXPIRED,
    Event.CANCELLED: Status.CANCELLED,
}


DECISION_EVENTS = frozenset(_DECISIONS)


class NotProven(Exception):
    """The audit rows do not prove an approval; the message says what is missing."""


@dataclass(frozen=True)
class ProvenApproval:
    seq: int
    tool: str
    bound_hash: str
    revision: int
    quorum: int
    approvers: frozenset[str]
    execute_by: float | None


def prove_approval(events: Sequence[AuditRecord]) -> ProvenApproval:
    """The approval that ``events`` (one request's rows, oldest first, already known to be
    authentic) prove, or `NotProven`.

    Needs exactly one decision row, a ``request.approved`` one, naming its tool, bound hash and
    revision, and at least ``quorum`` approve votes of that revision, recorded before it, from
    distinct people the decision names.
    """
    decisions = [r for r in events if r.event in _DECISIONS]
    approved = [r for r in decisions if r.event == Event.APPROVED]
    if not approved:
        raise NotProven("no request.approved row")
    if len(decisions) > 1:
        raise NotProven(f"{len(decisions)} decision rows")
    row = approved[0]
    data = row.data
    tool, bound, revision = data.get("tool"), data.get("bound_hash"), data.get("revision")
    quorum = data.get("quorum", _created_quorum(events))
    people = data.get("approved_by")
    execute_by = data.get("execute_by")
    if not (isinstance(tool, str) and isinstance(bound, str) and isinstance(revision, int)):
        raise NotProven(f"row {row.seq} lacks the tool, bound hash or revision")
    if not isinstance(quorum, int) or quorum < 1 or not isinstance(people, list):
        raise NotProven(f"row {row.seq} lacks the quorum or the approvers")
    if execute_by is not None and not isinstance(execute_by, int | float):
        raise NotProven(f"row {row.seq} has a malformed execution window")
    voters = {
        r.data.get("person")
        for r in events
        if r.event == Event.VOTE_RECORDED
        and r.seq < row.seq
        and r.data.get("verdict") == "approve"
        and r.data.get("revision") == revision
    }
    counted = frozenset(p for p in voters & set(people) if isinstance(p, str))
    if len(counted) < quorum:
        raise NotProven(
            f"{len(counted)} recorded approval(s) of revision {revision}, quorum {quorum}"
        )
    return ProvenApproval(row.seq, tool, bound, revision, quorum, counted, execute_by)


# Rows that record a request's terms (`ApprovalRequest.terms`): its creation, and each edit.
_TERMS = (Event.REQUEST_CREATED, Event.REQUEST_EDITED, Event.REQUEST_REKEYED)


def terms_refusal(tx: StoreTx, request: ApprovalRequest) -> str | None:
    """Why the request's columns cannot be trusted for a vote (None: they match the terms in
    its latest authentic audit row that records them).

    A vote is judged by the approvers, quorum and requester identities the request holds; if
    someone who can write the file changed them, the broker would otherwise write an authentic
    approval for an ineligible voter.
    """
    recorded = [
        r.data["terms"]
        for r in tx.request_events(request.id)
        if r.event in _TERMS and isinstance(r.data.get("terms"), Mapping) and tx.authentic(r)
    ]
    if not recorded:
        return "no authentic audit row records its terms"
    expected, actual = recorded[-1], request.terms()
    changed = sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))
    return f"changed: {', '.join(changed)}" if changed else None


def _created_quorum(events: Iterable[AuditRecord]) -> object:
    # Approvals recorded before the quorum was written into request.approved (older stores).
    for r in events:
        if r.event == Event.REQUEST_CREATED:
            return r.data.get("quorum")
    return None


@dataclass
class _Seen:
    rows: list[AuditRecord] = field(default_factory=list)
    votes: Counter[tuple[object, object, object]] = field(default_factory=Counter)


_KEPT = {
    Event.REQUEST_CREATED,
    Event.REQUEST_EDITED,
    Event.REQUEST_REKEYED,
    Event.VOTE_RECORDED,
    Event.TOOL_EXECUTING,
    Event.TOOL_SUSPENDED,
    *_DECISIONS,
}


class RequestChecker:
    """`audit verify`'s cross-check of the requests and votes tables against the chain.

    Feed it every audit row (`observe`, during the chain walk), then the requests and votes;
    `problems` lists ``(request_id, problem)`` for every state the chain does not show.
    """

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}
        self.checked = 0

    def observe(self, row: AuditRecord) -> None:
        if row.request_id is None or row.event not in _KEPT:
            return
        seen = self._seen.setdefault(row.request_id, _Seen())
        if row.event == Event.VOTE_RECORDED:
            d = row.data
            seen.votes[(d.get("person"), d.get("verdict"), d.get("revision"))] += 1
        seen.rows.append(row)

    def problems(
        self, requests: Iterable[ApprovalRequest], votes: Iterable[Vote]
    ) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        known: set[str] = set()
        for request in requests:
            self.checked += 1
            known.add(request.id)
            seen = self._seen.get(request.id, _Seen())
            found += [(request.id, p) for p in _request_problems(request, seen.rows)]
        table: dict[str, Counter[tuple[object, object, object]]] = {}
        for v in votes:
            table.setdefault(v.request_id, Counter())[(v.person, v.verdict.value, v.revision)] += 1
        for request_id in sorted(set(table) | {r for r, s in self._seen.items() if s.votes}):
            chain = self._seen.get(request_id, _Seen()).votes
            found += [(request_id, p) for p in _vote_problems(table.get(request_id), chain)]
        for request_id in sorted(set(self._seen) - known):
            found.append((request_id, "the audit log has rows for it but no request row exists"))
        return found


def _request_problems(request: ApprovalRequest, rows: Sequence[AuditRecord]) -> Iterable[str]:
    created = [r for r in rows if r.event == Event.REQUEST_CREATED]
    if not created:
        yield "no request.created row in the audit log"
    elif created[0].data.get("args_hmac") != request.args_hash:
        yield "its args_hash differs from the request.created row"
    if (request.reviewer_view is None) != (request.review_args is None):
        yield "it has one of reviewer_view and review_args without the other"
    terms = [r.data["terms"] for r in rows if r.event in _TERMS and "terms" in r.data]
    if terms and terms[-1] != request.terms():
        current = request.terms()
        changed = sorted(
            k for k in set(terms[-1]) | set(current) if terms[-1].get(k) != current.get(k)
        )
        yield f"its columns differ from the terms the audit log records: {', '.join(changed)}"
    decisions = [r for r in rows if r.event in _DECISIONS]
    shown = [_DECISIONS[r.event].value for r in decisions]
    status = request.status
    if status is Status.PENDING and shown:
        yield f"status is pending but the audit log shows it {', '.join(shown)}"
    elif status is Status.APPROVED:
        try:
            approval = prove_approval(rows)
        except NotProven as exc:
            yield f"status is approved but the audit log does not prove it ({exc})"
        else:
            if approval.bound_hash != request.current_hash:
                yield "its current_hash differs from the hash the approval was bound to"
    elif status is not Status.PENDING and shown != [status.value]:
        yield (
            f"status is {status.value} but the audit log shows {', '.join(shown) or 'no decision'}"
        )
    executing = [r for r in rows if r.event == Event.TOOL_EXECUTING]
    # A claim given back when the framework suspended the call mid-way (see execution.py).
    open_claims = len(executing) - sum(1 for r in rows if r.event == Event.TOOL_SUSPENDED)
    if request.executed_at is not None and open_claims < 1:
        yield "executed_at is set but the audit log has no tool.executing row"
    if open_claims > 0 and request.executed_at is None:
        yield "the audit log shows it executing but executed_at is empty"
    if open_claims > 1 or open_claims < 0:
        yield f"the audit log shows {len(executing)} executions"


def _vote_problems(
    table: Mapping[tuple[object, object, object], int] | None,
    chain: Mapping[tuple[object, object, object], int],
) -> Iterable[str]:
    for (person, verdict, revision), n in sorted((table or {}).items(), key=str):
        if chain.get((person, verdict, revision), 0) < n:
            yield (
                f"vote by {person} ({verdict}, revision {revision}) has no vote.recorded row in "
                "the audit log"
            )
    for (person, verdict, revision), n in sorted(chain.items(), key=str):
        if (table or {}).get((person, verdict, revision), 0) < n:
            yield (
                f"vote.recorded by {person} ({verdict}, revision {revision}) is missing from "
                "the votes table"
            )
