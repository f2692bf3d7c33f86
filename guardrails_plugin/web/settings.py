"""The web service's settings, from flags or the environment, refused when unsafe or incomplete.

Explicit values beat ``GUARDRAILS_OIDC_*``, ``GUARDRAILS_PUBLIC_URL`` and
``GUARDRAILS_SESSION_SECRET``; every missing one is named in one `ConfigError`. Secrets (the
client secret, the session secret) come from the environment only: a command line is visible
to every local user.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from guardrails_plugin.errors import ConfigError

__all__ = ["ENV", "WebSettings"]

ENV = {
    "issuer": "GUARDRAILS_OIDC_ISSUER",
    "client_id": "GUARDRAILS_OIDC_CLIENT_ID",
    "client_secret": "GUARDRAILS_OIDC_CLIENT_SECRET",
    "audience": "GUARDRAILS_OIDC_AUDIENCE",
    "identity_claim": "GUARDRAILS_OIDC_IDENTITY_CLAIM",
    "groups": "GUARDRAILS_OIDC_GROUPS",
    "groups_claim": "GUARDRAILS_OIDC_GROUPS_CLAIM",
    "public_url": "GUARDRAILS_PUBLIC_URL",
    "session_secret": "GUARDRAILS_SESSION_SECRET",
    "allow_unverified_email": "GUARDRAILS_OIDC_ALLOW_UNVERIFIED_EMAIL",
    "trusted_proxies": "GUARDRAILS_TRUSTED_PROXIES",
    "session_seconds": "GUARDRAILS_SESSION_SECONDS",
}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MIN_SECRET = 32
SESSION_SECONDS = (300, 24 * 3600)


def _https_or_loopback(name: str, url: str) -> str | None:
    """Why ``url`` cannot be used (None: it can): plain HTTP only to this machine, since
    tokens, codes and session cookies cross it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name} must be an http(s) URL with a host, got {url!r}"
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        return f"{name} must use https (plain http only for 127.0.0.1/localhost), got {url!r}"
    if parts.query or parts.fragment:
        return f"{name} must have no query or fragment, got {url!r}"
    return None


@dataclass(frozen=True)
class WebSettings:
    issuer: str
    client_id: str
    audience: str
    public_url: str
    session_secret: bytes
    client_secret: str | None = None
    identity_claim: str = "email"
    # Sign-in and API use are limited to members of these groups (by the groups claim) when set.
    groups: frozenset[str] = frozenset()
    groups_claim: str = "groups"
    # The longest a session lives; it also ends when the ID token it came from expires.
    session_seconds: int = 8 * 3600
    # Providers that never send email_verified (Entra ID): accept their emails unverified.
    allow_unverified_email: bool = False
    # Proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips).
    trusted_proxies: str = "127.0.0.1"

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def redirect_uri(self) -> str:
        return self.public_url + "/auth/callback"

    @property
    def secure_cookies(self) -> bool:
        """Always true: browsers keep Secure cookies from http://127.0.0.1 and localhost too."""
        return True

    @classmethod
    def resolve(
        cls,
        *,
        issuer: str | None = None,
        client_id: str | None = None,
        audience: str | None = None,
        public_url: str | None = None,
        identity_claim: str | None = None,
        groups: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> WebSettings:
        env = os.environ if env is None else env
        given = {
            "issuer": issuer,
            "client_id": client_id,
            "audience": audience,
            "public_url": public_url,
            "identity_claim": identity_claim,
            "groups": groups,
        }
        value = {k: (given.get(k) or env.get(v) or "").strip() for k, v in ENV.items()}
        what = {
            "issuer": "the identity provider's issuer URL (--oidc-issuer or "
            "GUARDRAILS_OIDC_ISSUER; its /.well-known/openid-configuration is read)",
            "client_id": "the inbox's OIDC client id (GUARDRAILS_OIDC_CLIENT_ID)",
            "audience": "the audience API tokens are issued for (GUARDRAILS_OIDC_AUDIENCE)",
            "public_url": "the URL reviewers open, for redirect URIs (--public-url or "
            "GUARDRAILS_PUBLIC_URL)",
            "session_secret": "a random secret of 32+ characters for sessions and CSRF tokens "
            "(GUARDRAILS_SESSION_SECRET, in the environment only)",
        }
        problems = [f"missing {text}" for key, text in what.items() if not value[key]]
        for key in ("issuer", "public_url"):
            if value[key] and (why := _https_or_loopback(ENV[key], value[key])) is not None:
                problems.append(why)
        if value["session_secret"] and len(value["session_secret"]) < MIN_SECRET:
            problems.append(
                f"GUARDRAILS_SESSION_SECRET is {len(value['session_secret'])} characters; use "
                f"{MIN_SECRET} or more, e.g. from: python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'"
            )
        flag = value["allow_unverified_email"].lower()
        if flag not in ("", "0", "1", "true", "false", "yes", "no"):
            problems.append(f"{ENV['allow_unverified_email']} must be true or false")
        seconds = value["session_seconds"] or str(8 * 3600)
        low, high = SESSION_SECONDS
        if not (seconds.isascii() and seconds.isdigit() and low <= int(seconds) <= high):
            problems.append(f"{ENV['session_seconds']} must be a number of seconds, {low}-{high}")
        if problems:
            raise ConfigError("cannot start the web service: " + "; ".join(problems))
        return cls(
            # As written: a provider whose issuer ends in "/" puts that slash in every token.
            issuer=value["issuer"],
            client_id=value["client_id"],
            audience=value["audience"],
            public_url=value["public_url"].rstrip("/"),
            session_secret=value["session_secret"].encode(),
            client_secret=value["client_secret"] or None,
            identity_claim=value["identity_claim"] or "email",
            groups=frozenset(g.strip() for g in value["groups"].split(",") if g.strip()),
            groups_claim=value["groups_claim"] or "groups",
            session_seconds=int(seconds),
            allow_unverified_email=flag in ("1", "true", "yes"),
            trusted_proxies=value["trusted_proxies"] or "127.0.0.1",
        )
