"""Step-up for high-risk rules: ``approval: {authentication: oidc}``.

Such a request takes votes only from reviewers signed in through the identity provider: the
web inbox or the HTTP API of ``guardrails-plugin serve``, which verify the provider's signature.
A Slack user id or an OS account proves less, so the broker refuses their votes on it, with the
inbox link when ``GUARDRAILS_PUBLIC_URL`` says where it is. The requirement is part of the
request's keyed terms: clearing the column in the file does not let a Slack vote through (the
request then takes no vote at all), and an edit never moves a request to a weaker requirement
(`edits._takeover` keeps it).

What counts is the channel that authenticated, not the spelling of the identity: a vote
satisfies step-up only when it arrives on a signed-in channel (``web``/``api``) *with* the
`SignInEvidence` that channel builds from the verified token (issuer, subject, a digest of the
token's signature), for the same ``oidc:`` identity. The evidence goes into the vote's audit
row, so a provider-backed vote can be told from one a script wrote. This binds channels inside
the process; anyone who runs their own code with the store key can still write such rows
(docs/security.md, W3).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from guardrails_plugin.errors import StepUpRequired
from guardrails_plugin.policy.directory import canonical_or_none
from guardrails_plugin.store.records import ApprovalRequest

__all__ = [
    "OIDC",
    "PUBLIC_URL_ENV",
    "SIGNED_IN_CHANNELS",
    "SignInEvidence",
    "check",
    "inbox_url",
    "needs_sign_in",
]

OIDC = "oidc"
PUBLIC_URL_ENV = "GUARDRAILS_PUBLIC_URL"
# The channels of `guardrails-plugin serve`: the inbox (a session from an ID token) and the API
# (a bearer token verified on every call).
SIGNED_IN_CHANNELS = frozenset({"web", "api"})


@dataclass(frozen=True)
class SignInEvidence:
    """What the provider proved for one vote: built only by the web service after it verified
    the token's signature, issuer, audience and expiry."""

    identity: str
    issuer: str
    subject: str
    token_digest: str  # SHA-256 of the token's signature segment: ties the vote to one token
    issued_at: int | None = None

    def audit(self) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "sub": self.subject,
            "token_sha256": self.token_digest,
            "iat": self.issued_at,
        }


def needs_sign_in(request: ApprovalRequest) -> bool:
    return request.authentication == OIDC


def inbox_url(request_id: str, env: Mapping[str, str] | None = None) -> str | None:
    """The request's page in the web inbox, when the service's public URL is known."""
    base = (os.environ if env is None else env).get(PUBLIC_URL_ENV, "").strip().rstrip("/")
    return f"{base}/inbox/requests/{request_id}" if base else None


def signed_in(identity: str, channel: str, evidence: SignInEvidence | None) -> bool:
    """True when the vote came through a channel that verified a provider token for exactly
    ``identity``."""
    return (
        identity.startswith("oidc:")
        and channel in SIGNED_IN_CHANNELS
        and isinstance(evidence, SignInEvidence)
        and canonical_or_none(evidence.identity) == identity
        and bool(evidence.issuer and evidence.token_digest)
    )


def check(
    request: ApprovalRequest,
    identity: str,
    channel: str = "cli",
    evidence: SignInEvidence | None = None,
) -> None:
    """Refuse ``identity``'s vote when ``request`` asks for a signed-in reviewer and the vote
    did not come through a channel that verified one."""
    if request.authentication is None:
        return
    if request.authentication != OIDC:
        # A value this version does not know: no channel can satisfy it, so nobody votes.
        raise StepUpRequired(
            f"request {request.id} asks for authentication {request.authentication!r}, which "
            "this version of guardrails-plugin does not know; refusing every vote",
            request.id,
        )
    if signed_in(identity, channel, evidence):
        return
    link = inbox_url(request.id)
    where = (
        f"review it in the web inbox: {link}"
        if link
        else ("review it in the web inbox (guardrails-plugin serve)")
    )
    how = (
        f"channel {channel!r} did not sign {identity} in"
        if identity.startswith("oidc:")
        else f"not from {identity.split(':', 1)[0]}"
    )
    raise StepUpRequired(
        f"rule '{request.rule_id}' takes votes only from reviewers signed in through the "
        f"identity provider, {how}: {where}",
        request.id,
    )
