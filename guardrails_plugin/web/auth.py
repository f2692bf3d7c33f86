"""Who is calling: a bearer JWT from the identity provider (API clients), or an inbox session.

Both end as a `Caller` whose identity is ``oidc:<claim>``, the only identities this service
votes as; the policy's ``people:`` maps them to people like ``slack:`` and ``cli:`` ones. There
is no API key: a client proves who it is with a token the provider signed, and a token whose
holder maps to no approver (a machine client) may read but every vote it casts is refused by
the broker. A session may change state only with its CSRF token.

The session cookie is ``__Host-guardrails_session``: browsers accept a ``__Host-`` cookie only
when it is Secure, has Path=/ and no Domain, so a sibling host (``evil.corp.example``) cannot
plant its own session in a reviewer's browser. `still_signed_in` lets a long response (the event
stream) stop when the session ends or the token expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

from guardrails_plugin.approvals.stepup import SignInEvidence
from guardrails_plugin.web.oidc import LEEWAY_SECONDS, Forbidden, InvalidToken, Provider, SignedIn
from guardrails_plugin.web.sessions import Session, Sessions

__all__ = ["SESSION_COOKIE", "Caller", "authenticate", "session_of", "still_signed_in"]

SESSION_COOKIE = "__Host-guardrails_session"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="guardrails", error="invalid_token"'}


@dataclass(frozen=True)
class Caller:
    who: SignedIn
    channel: str  # "api" (bearer token) or "web" (inbox session)
    session: Session | None = None

    @property
    def identity(self) -> str:
        return self.who.identity

    def evidence(self) -> SignInEvidence:
        """The provider's proof behind this caller, for the broker (step-up, audit)."""
        return self.who.evidence()


def session_of(request: Request) -> tuple[str | None, Session | None]:
    sessions: Sessions = request.app.state.sessions
    token = request.cookies.get(SESSION_COOKIE)
    return token, sessions.get(token)


async def authenticate(request: Request) -> Caller:
    """The caller, or 401 (no or bad credentials) / 403 (outside the allowed groups)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "use Authorization: Bearer <access token>", _CHALLENGE)
        provider: Provider = request.app.state.provider
        try:
            who = await provider.verify(token.strip(), audience=request.app.state.settings.audience)
        except InvalidToken as exc:
            raise HTTPException(401, str(exc), _CHALLENGE) from None
        except Forbidden as exc:
            raise HTTPException(403, str(exc)) from None
        return Caller(who, "api")
    _, session = session_of(request)
    if session is not None:
        return Caller(session.who, "web", session)
    raise HTTPException(401, "sign in, or send Authorization: Bearer <access token>", _CHALLENGE)


def still_signed_in(request: Request, caller: Caller) -> bool:
    """False once the caller's session has ended (sign-out, expiry, a new sign-in) or, for a
    bearer token, once the token has expired."""
    if caller.session is not None:
        _, session = session_of(request)
        return session is not None and session.who == caller.who
    return time.time() < caller.who.expires_at + LEEWAY_SECONDS


def require_csrf(caller: Caller, token: str | None) -> None:
    """A session changes state only with its CSRF token; a bearer token is not sent by the
    browser on its own, so it needs none."""
    if caller.session is not None and not caller.session.csrf_ok(token):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")
