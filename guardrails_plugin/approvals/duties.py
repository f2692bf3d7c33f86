"""Separation of duties: who may vote on a request, and as which person.

Identity is matched on exact ids (``slack:U024BE7LH``), never on display names. Quorum and
self-approval count people: every identity of the requester's human is barred, and two clicks
by one person (from Slack and the CLI, say) count once.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails_plugin.errors import NotAnApprover, SelfApproval
from guardrails_plugin.policy.directory import Directory
from guardrails_plugin.store.records import ApprovalRequest
from guardrails_plugin.types import Principal

__all__ = ["Voter", "eligible_people", "requester_identities", "resolve_voter"]


@dataclass(frozen=True)
class Voter:
    identity: str
    person: str


def requester_identities(principal: Principal, directory: Directory | None) -> tuple[str, ...]:
    """Every identity barred from approving a request the principal makes."""
    barred = {principal.agent}
    if principal.on_behalf_of:
        barred.add(principal.on_behalf_of)
    if directory is not None:
        for identity in list(barred):
            person = directory.person_of(identity)
            if person is not None:
                barred |= directory.identities_of(person)
    return tuple(sorted(i for i in barred if i))


def eligible_people(request: ApprovalRequest, directory: Directory | None) -> frozenset[str]:
    """The request's approvers who still qualify now.

    With a current directory, the approver names the rule gave (groups, people) are resolved
    again and intersected with the snapshot taken at request time: someone removed from a group
    since no longer counts, and nobody added since can join.
    """
    snapshot = frozenset(request.approvers)
    if directory is None:
        return snapshot
    current: set[str] = set()
    for name in request.approver_sources or tuple(snapshot):
        if name in directory.groups:
            current |= directory.groups[name]
        elif name in directory.people:
            current.add(name)
    return snapshot & frozenset(current)


def _person_of(identity: str, request: ApprovalRequest, directory: Directory | None) -> str | None:
    if directory is not None:
        return directory.person_of(identity)
    for person, identities in request.approvers.items():
        if identity in identities:
            return person
    return None


def resolve_voter(identity: str, request: ApprovalRequest, directory: Directory | None) -> Voter:
    """The person voting, or `SelfApproval` / `NotAnApprover`."""
    person = _person_of(identity, request, directory)
    barred = set(request.requester_identities) | {request.principal}
    if request.on_behalf_of:
        barred.add(request.on_behalf_of)
    requester_people = {_person_of(i, request, directory) for i in barred} - {None}
    if identity in barred or (person is not None and person in requester_people):
        raise SelfApproval(
            f"{identity} cannot approve this request: it was made by or on behalf of the same "
            "person (no self-approval)",
            request.id,
        )
    who = ", ".join(sorted(request.approvers)) or "nobody"
    if person is None:
        known = "in the policy's people" if directory is not None else "among the approvers"
        raise NotAnApprover(
            f"{identity} is not an approver of this request (not {known}); approvers: {who}",
            request.id,
        )
    if person not in eligible_people(request, directory):
        raise NotAnApprover(
            f"{identity} ({person}) is not an approver of this request; approvers: {who}",
            request.id,
        )
    return Voter(identity, person)
