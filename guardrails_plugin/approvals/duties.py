"""Separation of duties: who may vote on a request, and as which person.

Identity is matched on ids (``slack:U024BE7LH``), never on display names, and always in the
canonical form `policy.directory.canonical_identity` gives (e-mail-shaped ids lowercased, ASCII
only): ``oidc:Ana@Example.com`` and ``oidc:ana@example.com`` are one account here, as they are
to the web. Barring is looser still: a voter whose id merely *looks like* one of the requester's
(NFKC + casefold) is barred. Quorum and self-approval count people: every identity of the
requester's human is barred, and two clicks by one person (from Slack and the CLI, say) count
once.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails_plugin.errors import NotAnApprover, SelfApproval
from guardrails_plugin.policy.directory import (
    Directory,
    UnusableIdentity,
    canonical_identity,
    canonical_or_none,
    same_account_skeleton,
)
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
    # Recorded canonical where possible (and as given, too, so a look-alike stays barred).
    barred |= {c for c in map(canonical_or_none, list(barred)) if c is not None}
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


def resolve_voter(identity: str, request: ApprovalRequest, directory: Directory | None) -> Voter:
    """The person voting, or `SelfApproval` / `NotAnApprover`.

    Who may vote comes from the request itself: the approvers (person -> identities) and the
    requester's identities recorded when the policy in force created it. A ``directory`` (the
    policy a channel has loaded now) can only narrow that: an identity it no longer gives to the
    same person, or a person no longer in the rule's groups, does not count. It never adds
    anyone, so a voter cannot pass a policy of their own that makes them an approver.
    """
    try:
        identity = canonical_identity(identity)
    except UnusableIdentity as exc:
        raise NotAnApprover(f"{exc}; this identity cannot vote", request.id) from None
    barred = set(request.requester_identities) | {request.principal}
    if request.on_behalf_of:
        barred.add(request.on_behalf_of)
    barred_keys = {same_account_skeleton(i) for i in barred}
    people = sorted(
        p for p, ids in request.approvers.items() if identity in map(canonical_or_none, ids)
    )
    requester_people = {
        p
        for p, ids in request.approvers.items()
        if barred_keys & {same_account_skeleton(i) for i in ids}
    }
    current = directory.person_of(identity) if directory is not None else None
    if directory is not None:
        requester_people |= {directory.person_of(i) for i in barred} - {None}  # type: ignore[arg-type]
    if same_account_skeleton(identity) in barred_keys or requester_people & (
        {*people, current} - {None}
    ):
        raise SelfApproval(
            f"{identity} cannot approve this request: it was made by or on behalf of the same "
            "person (no self-approval)",
            request.id,
        )
    who = ", ".join(sorted(request.approvers)) or "nobody"
    if not people:
        raise NotAnApprover(
            f"{identity} is not an approver of this request (approvers recorded with it: {who})",
            request.id,
        )
    if len(people) > 1:
        raise NotAnApprover(
            f"{identity} belongs to several approvers ({', '.join(people)}); an ambiguous "
            "identity never counts",
            request.id,
        )
    person = people[0]
    if directory is not None and current != person:
        raise NotAnApprover(
            f"{identity} no longer belongs to {person} in the current policy; approvers: {who}",
            request.id,
        )
    if person not in eligible_people(request, directory):
        raise NotAnApprover(
            f"{identity} ({person}) is no longer an approver of this request; approvers: {who}",
            request.id,
        )
    return Voter(identity, person)
