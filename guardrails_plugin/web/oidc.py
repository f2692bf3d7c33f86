"""The identity provider: discovery, its signing keys, and checking the JWTs it signs.

A bearer token counts only if its signature verifies under a key the issuer publishes at its
``jwks_uri`` (fetched over the discovery document the configured issuer serves), and its
``iss``, ``aud`` and ``exp`` are right. Keys are cached; a token naming an unknown ``kid`` makes
one refetch (key rotation), at most every `REFETCH_SECONDS`, so a flood of forged kids cannot
make the service hammer the provider. Keys older than `KEYS_MAX_AGE` are refetched before use,
so a key the provider withdrew (rotated out, or compromised) stops counting within that time
even when no token with a new ``kid`` arrives to trigger a refetch. Anything else is an
`InvalidToken`, which the API turns into a 401 without saying more than the kind of failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from guardrails_plugin.errors import ConfigError
from guardrails_plugin.web.settings import WebSettings

__all__ = ["ALGORITHMS", "InvalidToken", "Provider", "SignedIn"]

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
REFETCH_SECONDS = 30.0
KEYS_MAX_AGE = 600.0
LEEWAY_SECONDS = 30
MAX_TOKEN = 16 * 1024
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
        self._fetched = monotonic()
        self._lock = asyncio.Lock()

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
        url = settings.issuer + "/.well-known/openid-configuration"
        try:
            metadata = httpx.get(url, timeout=timeout).raise_for_status().json()
            if not isinstance(metadata, dict):
                raise ValueError("not a JSON object")
            if str(metadata.get("issuer", "")).rstrip("/") != settings.issuer:
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
            # On failure keep the keys we have; the token in hand simply does not verify.
            with contextlib.suppress(httpx.HTTPError, ValueError, JoseError):
                self._keys = await asyncio.to_thread(
                    _fetch_keys, str(self.metadata["jwks_uri"]), 10.0
                )

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
        if self._monotonic() - self._fetched >= KEYS_MAX_AGE:
            await self._refetch()  # a key the provider withdrew must stop counting
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
        return self._identity(self._check_claims(claims, audience, nonce))

    def _check_claims(
        self, claims: dict[str, Any], audience: str, nonce: str | None
    ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.settings.issuer},
            "aud": {"essential": True, "value": audience},
            "exp": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        try:
            jwt.JWTClaimsRegistry(leeway=LEEWAY_SECONDS, **options).validate(claims)
        except JoseError as exc:
            raise InvalidToken(f"token rejected: {exc.error}") from None
        # OIDC: several audiences need azp naming the client the token was issued to.
        several = isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1
        if several and claims.get("azp") != audience:
            raise InvalidToken("token rejected: several audiences and no matching azp")
        return claims

    def _identity(self, claims: Mapping[str, Any]) -> SignedIn:
        settings = self.settings
        claim = settings.identity_claim
        value = claims.get(claim)
        if not isinstance(value, str) or not value:
            raise InvalidToken(f"token has no {claim!r} claim to identify its holder")
        if claim == "email":
            if claims.get("email_verified") is False:
                raise InvalidToken("token's email is not verified by the provider")
            value = value.lower()
        identity = "oidc:" + value
        if not _IDENTITY.fullmatch(identity):
            raise InvalidToken(f"token's {claim!r} claim is not a usable identity")
        if settings.groups:
            groups = claims.get(settings.groups_claim)
            member = isinstance(groups, list) and bool(settings.groups & {str(g) for g in groups})
            if not member:
                raise Forbidden(f"{identity} is in none of the groups allowed to use this service")
        name = claims.get("name")
        return SignedIn(
            identity=identity,
            subject=str(claims.get("sub", "")),
            name=name if isinstance(name, str) else value,
            expires_at=float(claims["exp"]),
        )


def _fetch_keys(url: str, timeout: float) -> KeySet:
    data = httpx.get(url, timeout=timeout).raise_for_status().json()
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("the JWKS document has no keys list")
    usable = [k for k in data["keys"] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    return KeySet.import_key_set({"keys": usable})
