"""The identity provider: discovery, its signing keys, and checking the JWTs it signs.

A bearer token counts only if its signature verifies under a key the issuer publishes at its
``jwks_uri`` (fetched over the discovery document the configured issuer serves), and its
``iss``, ``aud`` and ``exp`` are right. Keys are cached; a token naming an unknown ``kid`` makes
one refetch (key rotation), at most every `REFETCH_SECONDS`, so a flood of forged kids cannot
make the service hammer the provider. Keys older than `KEYS_MAX_AGE` are refetched before use,
so a key the provider withdrew (rotated out, or compromised) stops counting within that time
even when no token with a new ``kid`` arrives to trigger a refetch. When the key endpoint keeps
failing, the keys last fetched count for `KEYS_GRACE` more seconds (a provider's hiccup), then
every token is refused until a fetch succeeds: keys nobody can confirm are not trusted forever.
Anything else is an `InvalidToken`, which the API turns into a 401 without saying more than the
kind of failure.

The issuer is compared exactly as the discovery document names it (Auth0's ends in ``/``).
``exp`` must be an integer in a sane range. With ``identity_claim=email`` the provider must say
``email_verified: true`` (the boolean or the string ``"true"``), unless the deployment opts out
for a provider that never sends it; the address then goes through
`policy.directory.canonical_identity` (ASCII only, then lowercased), the one function every
channel's identities are compared by. A bearer token for the API must not be a browser sign-in's
ID token (it carries a ``nonce``) and, when it says its type, must say ``JWT`` or ``at+jwt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from guardrails_plugin.approvals.stepup import SignInEvidence
from guardrails_plugin.errors import ConfigError
from guardrails_plugin.policy.directory import UnusableIdentity, canonical_identity
from guardrails_plugin.web.settings import WebSettings

__all__ = ["ALGORITHMS", "KEYS_GRACE", "KEYS_MAX_AGE", "InvalidToken", "Provider", "SignedIn"]

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
REFETCH_SECONDS = 30.0
KEYS_MAX_AGE = 600.0
KEYS_GRACE = 120.0  # past KEYS_MAX_AGE while refetches fail, before tokens are refused
LEEWAY_SECONDS = 30
MAX_TOKEN = 16 * 1024
MAX_EXP = 2**53  # past this a float loses the second, and no provider means it
# A token that names its type must be an ID token or an RFC 9068 access token, nothing else.
TOKEN_TYPES = {"jwt", "at+jwt", "application/at+jwt"}
# What an identity value may look like once prefixed: no spaces, controls or markup.
_IDENTITY = re.compile(r"[A-Za-z0-9._%+@:|/=-]{1,256}")


class InvalidToken(Exception):
    """The token does not prove who sent it (bad signature, wrong issuer or audience, expired,
    unknown key, malformed). ``str()`` is safe to return to the client."""


class Forbidden(Exception):
    """The token is valid but its holder may not use this service (groups restriction)."""


@dataclass(frozen=True)
class SignedIn:
    """Who a verified token or session speaks for: ``identity`` is ``oidc:<claim value>``."""

    identity: str
    subject: str
    name: str
    expires_at: float
    issuer: str = ""
    token_digest: str = ""
    issued_at: int | None = None

    def evidence(self) -> SignInEvidence:
        """What the broker records with a vote, and needs for a step-up rule."""
        return SignInEvidence(
            identity=self.identity,
            issuer=self.issuer,
            subject=self.subject,
            token_digest=self.token_digest,
            issued_at=self.issued_at,
        )


class Provider:
    """The configured issuer's endpoints and keys (``discover`` reads them once at startup)."""

    def __init__(
        self,
        settings: WebSettings,
        metadata: Mapping[str, Any],
        keys: KeySet,
        *,
        monotonic: Callable[[], float] = time.monotonic,  # tests move it past REFETCH_SECONDS
    ) -> None:
        self.settings = settings
        self.metadata = dict(metadata)
        self._keys = keys
        self._monotonic = monotonic
        self._fetched = monotonic()  # the last attempt (rate limits refetches)
        self._fresh = self._fetched  # the last success (bounds how long keys are trusted)
        self._lock = asyncio.Lock()

    @property
    def issuer(self) -> str:
        """The issuer exactly as the provider names it (``discover`` checked it matches the
        configured one but for a trailing slash): what every token's ``iss`` must equal."""
        named = self.metadata.get("issuer")
        return named if isinstance(named, str) and named else self.settings.issuer

    @property
    def authorization_endpoint(self) -> str:
        return str(self.metadata["authorization_endpoint"])

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])

    @classmethod
    def discover(
        cls,
        settings: WebSettings,
        *,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Provider:
        """Read the issuer's discovery document and keys; a `ConfigError` says what is wrong."""
        url = settings.discovery_url
        try:
            metadata = httpx.get(url, timeout=timeout).raise_for_status().json()
            if not isinstance(metadata, dict):
                raise ValueError("not a JSON object")
            if str(metadata.get("issuer", "")).rstrip("/") != settings.issuer.rstrip("/"):
                raise ValueError(
                    f"it names issuer {metadata.get('issuer')!r}, not {settings.issuer!r}"
                )
            for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(metadata.get(field), str):
                    raise ValueError(f"it has no {field}")
            keys = _fetch_keys(str(metadata["jwks_uri"]), timeout)
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise ConfigError(f"cannot use the OIDC issuer at {url}: {exc}") from None
        return cls(settings, metadata, keys, monotonic=monotonic)

    async def _refetch(self) -> None:
        async with self._lock:
            if self._monotonic() - self._fetched < REFETCH_SECONDS:
                return
            self._fetched = self._monotonic()
            # On failure keep the keys we have, until `_fresh` says they are too old to trust.
            with contextlib.suppress(httpx.HTTPError, ValueError, JoseError):
                self._keys = await asyncio.to_thread(
                    _fetch_keys, str(self.metadata["jwks_uri"]), 10.0
                )
                self._fresh = self._monotonic()

    def _candidates(self, kid: str | None, alg: str) -> list[Any]:
        keys = list(self._keys.keys)
        if kid is not None:
            return [k for k in keys if k.kid == kid]
        return [k for k in keys if k.key_type == {"E": "EC", "O": "OKP"}.get(alg[0], "RSA")]

    async def verify(self, token: str, *, audience: str, nonce: str | None = None) -> SignedIn:
        """The identity ``token`` proves, or `InvalidToken`; `Forbidden` when the groups
        restriction leaves its holder out."""
        if not token or len(token) > MAX_TOKEN:
            raise InvalidToken("malformed token")
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError):
            raise InvalidToken("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS or (kid is not None and not isinstance(kid, str)):
            raise InvalidToken("token signed with an algorithm this service does not accept")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in TOKEN_TYPES):
            raise InvalidToken("token is not an ID or access token (its typ header)")
        if self._monotonic() - self._fresh >= KEYS_MAX_AGE:
            await self._refetch()  # a key the provider withdrew must stop counting
            if self._monotonic() - self._fresh >= KEYS_MAX_AGE + KEYS_GRACE:
                raise InvalidToken(
                    "the issuer's signing keys could not be refreshed; no token is accepted "
                    "until they are"
                )
        candidates = self._candidates(kid, alg)
        if not candidates:
            await self._refetch()  # the provider may have rotated its keys
            candidates = self._candidates(kid, alg)
        claims: dict[str, Any] | None = None
        for key in candidates:
            try:
                claims = dict(jwt.decode(token, key, algorithms=[alg]).claims)
                break
            except (JoseError, ValueError):
                continue
        if claims is None:
            raise InvalidToken("token signature does not verify under the issuer's keys")
        checked = self._check_claims(claims, audience, nonce)
        digest = hashlib.sha256(token.rsplit(".", 1)[-1].encode()).hexdigest()
        return self._identity(checked, digest)

    def _check_claims(
        self, claims: dict[str, Any], audience: str, nonce: str | None
    ) -> dict[str, Any]:
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int) or not 0 < exp < MAX_EXP:
            raise InvalidToken("token rejected: exp is not a usable time")
        for name in ("iat", "nbf"):
            when = claims.get(name)
            if when is not None and not _a_time(when):
                raise InvalidToken(f"token rejected: {name} is not a usable time")
        if nonce is None and "nonce" in claims:
            # An ID token from a browser sign-in (ours or another client's) is not an API token.
            raise InvalidToken("token rejected: a sign-in ID token is not accepted by the API")
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": audience},
            "exp": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        try:
            jwt.JWTClaimsRegistry(leeway=LEEWAY_SECONDS, **options).validate(claims)
        except (JoseError, ValueError, OverflowError, TypeError) as exc:
            if not isinstance(exc, JoseError):
                raise InvalidToken("token rejected: malformed claims") from None
            raise InvalidToken(f"token rejected: {exc.error}") from None
        # OIDC: several audiences need azp naming the client the token was issued to.
        several = isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1
        if several and claims.get("azp") != audience:
            raise InvalidToken("token rejected: several audiences and no matching azp")
        return claims

    def _identity(self, claims: Mapping[str, Any], digest: str = "") -> SignedIn:
        settings = self.settings
        claim = settings.identity_claim
        value = claims.get(claim)
        if not isinstance(value, str) or not value:
            raise InvalidToken(f"token has no {claim!r} claim to identify its holder")
        if claim == "email" and not settings.allow_unverified_email:
            # Only an explicit yes: a missing claim or "false" (string booleans) is not one.
            verified = claims.get("email_verified")
            if verified is not True and verified != "true":
                raise InvalidToken("token's email is not verified by the provider")
        # Check before folding: the raw value must be a plain identity, and an e-mail ASCII,
        # so KELVIN SIGN + "ate@example.com" is refused, never lowercased into kate's address.
        if not _IDENTITY.fullmatch("oidc:" + value):
            raise InvalidToken(f"token's {claim!r} claim is not a usable identity")
        try:
            identity = canonical_identity("oidc:" + value)
        except UnusableIdentity:
            raise InvalidToken(f"token's {claim!r} claim is not a usable identity") from None
        if settings.groups:
            groups = claims.get(settings.groups_claim)
            member = isinstance(groups, list) and bool(settings.groups & {str(g) for g in groups})
            if not member:
                raise Forbidden(f"{identity} is in none of the groups allowed to use this service")
        name = claims.get("name")
        iat = claims.get("iat")
        return SignedIn(
            identity=identity,
            subject=str(claims.get("sub", "")),
            name=name if isinstance(name, str) else value,
            expires_at=float(claims["exp"]),
            issuer=str(claims.get("iss", "")),
            token_digest=digest,
            issued_at=int(iat) if iat is not None and _a_time(iat) else None,
        )


def _a_time(value: Any) -> bool:
    """A NumericDate we can compute with: a finite number of seconds in a sane range."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and 0 <= value < MAX_EXP
    )


def _fetch_keys(url: str, timeout: float) -> KeySet:
    data = httpx.get(url, timeout=timeout).raise_for_status().json()
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("the JWKS document has no keys list")
    usable = [k for k in data["keys"] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    return KeySet.import_key_set({"keys": usable})
