"""How a found value is replaced: placeholder, partial, hash, redact, or block."""

from __future__ import annotations

import hashlib
import hmac
import re

from guardrails_plugin.masking.vault import PLACEHOLDER, Vault

__all__ = ["STRATEGIES", "replacement"]

STRATEGIES = ("placeholder", "partial", "hash", "redact", "block")


def _partial(label: str, value: str) -> str:
    if label == "EMAIL" and "@" in value:
        local, domain = value.split("@", 1)
        return f"{local[:1]}***@{domain}"
    alnum = re.sub(r"[^A-Za-z0-9]", "", value)
    if len(alnum) >= 8 and label in ("CREDIT_CARD", "IBAN", "PHONE", "NATIONAL_ID"):
        return "****" + alnum[-4:]
    return "****"


def replacement(label: str, value: str, strategy: str, vault: Vault, key: bytes) -> str:
    """The text that replaces ``value``. ``block`` redacts too; the caller denies the call.

    ``value`` may be a placeholder of ``label`` the model passed on: it stays itself under the
    placeholder strategy, and the others apply to the real value behind it when the vault has it.
    """
    minted = PLACEHOLDER.fullmatch(value)
    if minted is not None and minted.group("label") == label:
        if strategy == "placeholder":
            return value
        value = vault.lookup(value) or value
    if strategy == "placeholder":
        return vault.placeholder(label, value)
    if strategy == "partial":
        return _partial(label, value)
    if strategy == "hash":
        digest = hmac.new(
            key, f"{label}\x00{value}".encode("utf-8", "surrogatepass"), hashlib.sha256
        )
        return f"<{label}:{digest.hexdigest()[:12]}>"
    if strategy in ("redact", "block"):
        return f"<{label}>"
    raise ValueError(f"unknown masking strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
