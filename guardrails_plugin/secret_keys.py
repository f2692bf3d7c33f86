"""How a secret key is written down, for both of the library's keys (the store's audit key and
the masker's `hash` key): hex or base64 of at least 32 random bytes.

One parser and one refusal, so both keys accept the same forms and a short key is refused with
the same sentence: what was given, what is expected, how to make one. A passphrase is not a key
(its bytes are far from random), so text that is neither hex nor base64 is refused too.
"""

from __future__ import annotations

import base64

from guardrails_plugin.errors import ConfigError

__all__ = ["GENERATE_KEY", "MIN_KEY_BYTES", "decode_key", "require_key_length"]

MIN_KEY_BYTES = 32
GENERATE_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"
_EXPECTED = (
    f"a key is random data of at least {MIN_KEY_BYTES} bytes, written as 64 hex characters "
    f"(or base64); generate one with: {GENERATE_KEY}"
)


def decode_key(text: str, source: str) -> bytes:
    """The key written as ``text`` (hex, else base64), refused when short; ``source`` names
    where it came from (``$GUARDRAILS_AUDIT_KEY``, ``key file x.key``)."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raise ConfigError(f"{source} is not written as hex or base64: {_EXPECTED}") from None
    return require_key_length(raw, source)


def require_key_length(key: bytes, source: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"{source} is {len(key)} bytes, too short: {_EXPECTED}")
    return key
