"""Inbox sessions and sign-ins in progress, kept in this process's memory.

The browser holds only random tokens; the server keeps what they stand for, keyed by their
SHA-256, so a leaked memory dump or log line of keys cannot be replayed as a cookie. A session
expires after `WebSettings.session_seconds` or when the ID token it came from expires, whichever
is first (so a user the provider disabled or removed from the allowed groups is out when their
token ends: signing in again asks the provider), is replaced by a new one at every sign-in (no
session fixation), and carries its own CSRF token.

Rotation must work in a real browser: the session cookie is SameSite=Strict, so the provider's
redirect to ``/auth/callback`` (a cross-site navigation) does not carry it. ``/auth/login`` is
same-site, so the session it sees is recorded in the sign-in in progress and ended when the
callback starts the new one. A restart signs everyone out, which is the safe
direction. One process serves all requests (``serve`` runs one worker).

A sign-in in progress binds the provider's ``state`` to a cookie of this browser, with the PKCE
verifier and nonce on the server side: a callback carrying a state started in another browser
(login CSRF) or replayed a second time finds nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

from guardrails_plugin.clock import Clock, SystemClock
from guardrails_plugin.web.oidc import SignedIn

__all__ = ["PendingSignIn", "Session", "Sessions"]

SIGNIN_SECONDS = 600.0
MAX_PENDING = 10_000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    who: SignedIn
    csrf: str
    expires_at: float

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


@dataclass(frozen=True)
class PendingSignIn:
    verifier: str
    nonce: str
    next_path: str
    binding: str
    started: float
    replaces: str | None = None  # digest of the session this browser had at /auth/login


class Sessions:
    def __init__(self, seconds: int, *, clock: Clock | None = None) -> None:
        self.seconds = seconds
        self.clock = clock or SystemClock()
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, PendingSignIn] = {}
        self._lock = threading.Lock()

    def create(self, who: SignedIn, replaces: str | None = None) -> tuple[str, Session]:
        """A new session for ``who`` (and the old one, if any, ended): its cookie token."""
        token = secrets.token_urlsafe(32)
        ends = min(self.clock.now() + self.seconds, who.expires_at)
        session = Session(who, secrets.token_urlsafe(32), ends)
        with self._lock:
            self._sweep()
            if replaces:
                self._sessions.pop(_digest(replaces), None)
            self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        with self._lock:
            session = self._sessions.get(_digest(token))
            if session is not None and session.expires_at <= self.clock.now():
                self._sessions.pop(_digest(token), None)
                return None
            return session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def end_digest(self, digest: str | None) -> None:
        if digest:
            with self._lock:
                self._sessions.pop(digest, None)

    def begin_signin(
        self, next_path: str, current: str | None = None
    ) -> tuple[str, str, PendingSignIn]:
        """(state, binding cookie, what the callback needs); ``current`` is the session
        cookie the browser sent to /auth/login, ended when this sign-in completes."""
        state, binding = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        pending = PendingSignIn(
            verifier=secrets.token_urlsafe(48),
            nonce=secrets.token_urlsafe(24),
            next_path=next_path,
            binding=_digest(binding),
            started=self.clock.now(),
            replaces=_digest(current) if current and len(current) <= 128 else None,
        )
        with self._lock:
            self._sweep()
            if len(self._pending) >= MAX_PENDING:
                oldest = min(self._pending, key=lambda k: self._pending[k].started)
                self._pending.pop(oldest)
            self._pending[_digest(state)] = pending
        return state, binding, pending

    def finish_signin(self, state: str, binding: str | None) -> PendingSignIn | None:
        """The sign-in ``state`` started in this browser (one use only), or None."""
        if not state or not binding or len(state) > 128 or len(binding) > 128:
            return None
        with self._lock:
            pending = self._pending.pop(_digest(state), None)
        if pending is None or self.clock.now() - pending.started > SIGNIN_SECONDS:
            return None
        if not hmac.compare_digest(pending.binding, _digest(binding)):
            return None
        return pending

    def _sweep(self) -> None:
        now = self.clock.now()
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
        self._pending = {
            k: p for k, p in self._pending.items() if now - p.started <= SIGNIN_SECONDS
        }
