"""The store's secret key: where it comes from, how its file is guarded, what it is used for.

The key never enters the database. It makes three things that someone holding only the database
file cannot compute: the keyed hashes of sensitive values (a plain SHA-256 of a PIN is reversed by
brute force), the audit chain's row hashes (HMACs, so rows cannot be forged or rewritten), and the
scoped idempotency keys of requests. The database records only the key's fingerprint, an HMAC of
a fixed label under the key, so a wrong key is refused at open with a clear error; the fingerprint
says nothing about the key that the row hashes do not already say.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guardrails_plugin.errors import ConfigError
from guardrails_plugin.secret_keys import decode_key, require_key_length
from guardrails_plugin.store.canonical import canonical_json

__all__ = ["KEY_ENV", "HashKey", "call_key"]

KEY_ENV = "GUARDRAILS_AUDIT_KEY"
_FINGERPRINT_LABEL = b"guardrails-plugin/key-fingerprint/v1"
# Derived keys are HMACs of this prefix and a label. `digest` HMACs canonical JSON, which starts
# with one of `{["-0123456789tfn`, never with "g"; the fingerprint and `mac`'s messages
# (audit rows, keyed_from) have prefixes of their own. So no value the store writes, and nothing
# a model can have hashed into it (its arguments), is ever equal to a derived key.
_DERIVE_PREFIX = b"guardrails-plugin/derived-key/v1\x00"
_PRIVATE_ONLY = 0o077  # any permission bit for group or others


class HashKey:
    """The key for keyed hashes and the audit chain. Never stored in the database.

    Resolution: explicit bytes > ``GUARDRAILS_AUDIT_KEY`` (hex or base64, at least 32 bytes) >
    a key file (default ``<db>.key``). The file must be private to its owner (mode 0600); it is
    created only when asked to (``create=True``: a brand-new store), never for an existing one,
    whose hashes a new key could not match.
    """

    def __init__(self, key: bytes, source: str = "the key passed to SQLiteStore") -> None:
        self._key = require_key_length(key, f"the audit key ({source})")
        self.source = source
        self.fingerprint = hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never the key itself
        return f"HashKey(fingerprint={self.fingerprint[:16]}, source={self.source!r})"

    @classmethod
    def resolve(
        cls, key: bytes | None = None, key_file: Path | None = None, *, create: bool = False
    ) -> HashKey:
        if key is not None:
            return cls(key)
        env = os.environ.get(KEY_ENV)
        if env:
            return cls(decode_key(env, f"${KEY_ENV}"), f"${KEY_ENV}")
        if key_file is None:
            raise ConfigError(f"no audit key: set {KEY_ENV} or give a key file")
        return cls(_key_from_file(key_file, create), f"key file {key_file}")

    def digest(self, value: Any) -> str:
        """Keyed HMAC-SHA256 of the value's canonical JSON, hex, prefixed with its scheme."""
        mac = hmac.new(self._key, canonical_json(value), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{mac}"

    def derive(self, label: str) -> bytes:
        """A 32-byte key for another purpose (``label``, e.g. ``masking/hash-key``), computed
        from this one and never stored: it reveals nothing about this key, and no `digest`,
        `mac` or fingerprint, hence nothing in the database, can equal it."""
        if not label or "\x00" in label:
            raise ValueError("a derived key's label is non-empty text without NUL")
        return hmac.digest(self._key, _DERIVE_PREFIX + label.encode("utf-8"), "sha256")

    def mac(self, message: bytes) -> str:
        """HMAC-SHA256 of raw bytes, hex (the audit chain's row hashes)."""
        return hmac.digest(self._key, message, "sha256").hex()


def call_key(
    keyed_hash: Callable[[Any], str],
    *,
    agent: str,
    on_behalf_of: str | None,
    run_id: str | None,
    call_id: str,
    tool: str,
    args_hash: str,
) -> str:
    """The idempotency key of a request: one tool call of one principal in one run, bound to
    its tool and arguments. Keyed, so the stored value reveals nothing and cannot be computed
    (to point it at another request) without the key."""
    return keyed_hash(
        {
            "scope": "request/v1",
            "agent": agent,
            "on_behalf_of": on_behalf_of,
            "run": run_id,
            "call": call_id,
            "tool": tool,
            "args": args_hash,
        }
    )


def _key_from_file(path: Path, create: bool) -> bytes:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if not create:
            raise ConfigError(
                f"the audit key of this store is missing: {path} does not exist and {KEY_ENV} is "
                f"not set. The key was created beside the database with the store; restore it "
                f"from your backup (then `chmod 600 {path}`), or set {KEY_ENV} to it. A new key "
                "could not verify this store, so none is created."
            ) from None
        return _create_key_file(path)
    except OSError as exc:
        raise ConfigError(f"cannot read audit key file {path}: {exc.strerror}") from None
    if os.name == "posix" and info.st_mode & _PRIVATE_ONLY:
        raise ConfigError(
            f"audit key file {path} is readable by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}): anyone who reads it can forge audit rows and "
            f"approvals. Run `chmod 600 {path}` (and replace the key if others may have read it)."
        )
    try:
        return decode_key(path.read_text(encoding="ascii"), f"audit key file {path}")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read audit key file {path}: {exc}") from None


def _create_key_file(path: Path) -> bytes:
    """Write a new key to a private temporary file, then link it into place: a racing process
    either wins or reads the complete key of the winner, never a half-written file."""
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _key_from_file(path, create=False)
    except OSError as exc:
        raise ConfigError(f"cannot create audit key file {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _fsync_dir(path.parent)
    return key


def _fsync_dir(folder: Path) -> None:
    # A key lost in a power cut makes every hash in the store unverifiable.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
