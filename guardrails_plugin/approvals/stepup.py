"""Step-up for high-risk rules: ``approval: {authentication: oidc}``.

Such a request takes votes only from identities signed in through the identity provider
(``oidc:…``: the web inbox or the HTTP API of ``guardrails-plugin serve``, which verify the
provider's signature). A Slack user id or an OS account proves less, so the broker refuses
their votes on it, with the inbox link when ``GUARDRAILS_PUBLIC_URL`` says where it is. The
requirement is part of the request's keyed terms: clearing the column in the file does not
let a Slack vote through (the request then takes no vote at all).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from guardrails_plugin.errors import StepUpRequired
from guardrails_plugin.store.records import ApprovalRequest

__all__ = ["OIDC", "PUBLIC_URL_ENV", "check", "inbox_url", "needs_sign_in"]

OIDC = "oidc"
PUBLIC_URL_ENV = "GUARDRAILS_PUBLIC_URL"


def needs_sign_in(request: ApprovalRequest) -> bool:
    return request.authentication == OIDC


def inbox_url(request_id: str, env: Mapping[str, str] | None = None) -> str | None:
    """The request's page in the web inbox, when the service's public URL is known."""
    base = (os.environ if env is None else env).get(PUBLIC_URL_ENV, "").strip().rstrip("/")
    return f"{base}/inbox/requests/{request_id}" if base else None


def check(request: ApprovalRequest, identity: str) -> None:
    """Refuse ``identity``'s vote when ``request`` asks for a signed-in reviewer."""
    if request.authentication is None:
        return
    if request.authentication != OIDC:
        # A value this version does not know: no channel can satisfy it, so nobody votes.
        raise StepUpRequired(
            f"request {request.id} asks for authentication {request.authentication!r}, which "
            "this version of guardrails-plugin does not know; refusing every vote",
            request.id,
        )
    if identity.startswith("oidc:"):
        return
    link = inbox_url(request.id)
    where = (
        f"review it in the web inbox: {link}"
        if link
        else ("review it in the web inbox (guardrails-plugin serve)")
    )
    raise StepUpRequired(
        f"rule '{request.rule_id}' takes votes only from reviewers signed in through the "
        f"identity provider, not from {identity.split(':', 1)[0]}: {where}",
        request.id,
    )
