"""Inbox sign-in: OpenID Connect authorization code with PKCE (authlib), then a session.

``/auth/login`` remembers the page to return to (an inbox path only: no open redirect), binds
the sign-in to this browser with a short-lived cookie, and sends the browser to the provider
with a PKCE S256 challenge, a state and a nonce. ``/auth/callback`` accepts only the state this
browser started (once), exchanges the code with the verifier, verifies the ID token (signature
under the provider's keys, issuer, audience = our client id, expiry, nonce), then starts a new
session (SameSite=Strict, HttpOnly, Secure) and continues to the page by a same-site step.

Why that step: a Strict cookie is not sent on a navigation that a cross-site page (the
provider) started, redirects included; a small page of ours that refreshes to the inbox makes
the next navigation same-site, so the reviewer arrives signed in, without any script.
"""

from __future__ import annotations

import logging
import re
import time

from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from guardrails_plugin.web.auth import SESSION_COOKIE, require_csrf, session_of
from guardrails_plugin.web.oidc import Forbidden, InvalidToken, Provider
from guardrails_plugin.web.pages import render
from guardrails_plugin.web.sessions import SIGNIN_SECONDS, Sessions
from guardrails_plugin.web.settings import WebSettings

__all__ = ["SIGNIN_COOKIE", "routes", "safe_next"]

log = logging.getLogger(__name__)

# __Secure-: browsers take it only from a secure origin with Secure set (its Path=/auth rules
# out __Host-).
SIGNIN_COOKIE = "__Secure-guardrails_signin"
_NEXT = re.compile(r"/inbox(/requests/req_[0-9a-zA-Z_-]{1,64}|/audit)?")


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: an inbox page named exactly, else the inbox. Never another
    host, scheme or path (``//evil.example``, ``/\\evil``, ``https://…`` all become /inbox)."""
    return value if value and _NEXT.fullmatch(value) else "/inbox"


def _client(settings: WebSettings) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        token_endpoint_auth_method="client_secret_post" if settings.client_secret else "none",
        scope="openid email profile",
        redirect_uri=settings.redirect_uri,
        code_challenge_method="S256",
        timeout=15.0,
    )


def _client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login(request: Request) -> Response:
    request.app.state.login_limit.hit(_client_key(request))
    settings: WebSettings = request.app.state.settings
    provider: Provider = request.app.state.provider
    sessions: Sessions = request.app.state.sessions
    # This navigation is same-site, so the Strict session cookie (if any) is here; the callback,
    # reached from the provider, will not see it. Remember it to end it there.
    current, _ = session_of(request)
    state, binding, pending = sessions.begin_signin(
        safe_next(request.query_params.get("next")), current
    )
    async with _client(settings) as client:
        url, _ = client.create_authorization_url(
            provider.authorization_endpoint,
            state=state,
            code_verifier=pending.verifier,
            nonce=pending.nonce,
        )
    response = RedirectResponse(url, status_code=303)
    # Lax, not Strict: it must come back on the provider's redirect (a cross-site navigation).
    response.set_cookie(
        SIGNIN_COOKIE,
        binding,
        max_age=int(SIGNIN_SECONDS),
        path="/auth",
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


def _refused(request: Request, status: int, message: str) -> Response:
    return render(request, "message.html", {"title": "Sign-in failed", "message": message}, status)


async def callback(request: Request) -> Response:
    request.app.state.callback_limit.hit(_client_key(request))
    settings: WebSettings = request.app.state.settings
    provider: Provider = request.app.state.provider
    sessions: Sessions = request.app.state.sessions
    params = request.query_params
    if params.get("error"):
        return _refused(request, 400, "The identity provider did not sign you in.")
    code, state = params.get("code"), params.get("state")
    if not code or not state or len(code) > 2048:
        return _refused(request, 400, "The sign-in answer is incomplete; start again.")
    pending = sessions.finish_signin(state, request.cookies.get(SIGNIN_COOKIE))
    if pending is None:
        return _refused(
            request, 400, "This sign-in was not started in this browser, or was used already."
        )
    try:
        async with _client(settings) as client:
            token = await client.fetch_token(
                provider.token_endpoint, code=code, code_verifier=pending.verifier
            )
        who = await provider.verify(
            str(token.get("id_token", "")), audience=settings.client_id, nonce=pending.nonce
        )
    except InvalidToken as exc:
        log.warning("sign-in refused: %s", exc)
        return _refused(request, 401, f"The identity provider's answer was refused: {exc}.")
    except Forbidden as exc:
        return _refused(request, 403, str(exc))
    except (OAuth2Error, OSError, ValueError) as exc:
        log.warning("sign-in code exchange failed: %s", exc)
        return _refused(request, 502, "The identity provider did not accept the sign-in code.")
    old, _ = session_of(request)
    sessions.end_digest(pending.replaces)
    cookie, session = sessions.create(who, replaces=old)
    response = render(
        request, "continue.html", {"next": pending.next_path, "who": who.identity}, 200
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/auth", secure=True, httponly=True)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max(1, int(session.expires_at - time.time())),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


async def logout(request: Request) -> Response:
    token, session = session_of(request)
    if session is None:
        return RedirectResponse("/inbox", status_code=303)
    form = await request.form(max_files=0, max_fields=5)
    from guardrails_plugin.web.auth import Caller

    require_csrf(Caller(session.who, "web", session), str(form.get("csrf") or ""))
    request.app.state.sessions.end(token)
    response = RedirectResponse("/inbox", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/auth/login", login, methods=["GET"]),
        Route("/auth/callback", callback, methods=["GET"]),
        Route("/auth/logout", logout, methods=["POST"]),
    ]
