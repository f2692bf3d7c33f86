"""The audit hash chain, keyed hashes of sensitive values, and chain verification.

Each row's hash covers a domain tag, the previous row's hash and the canonical JSON of the row
(sequence number, time, event, request, actor, data), so editing, deleting, reordering or
inserting a row breaks the chain at that row. Dropping the tail leaves a valid shorter chain;
only a checkpoint (sequence number + head hash) kept outside the database catches that, so
`verify` compares against one when given.

Values that must be matchable later but not readable (the arguments of a call) are stored as a
keyed HMAC-SHA256: a plain SHA-256 of a PIN or an email address is reversed by brute force.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrails_plugin.errors import ConfigError
from guardrails_plugin.store.records import AuditRecord

__all__ = [
    "GENESIS",
    "KEY_ENV",
    "Checkpoint",
    "HashKey",
    "VerifyResult",
    "canonical_json",
    "canonical_text",
    "row_hash",
    "verify_chain",
]

GENESIS = "0" * 64
KEY_ENV = "GUARDRAILS_AUDIT_KEY"
_DOMAIN = b"guardrails-plugin/audit/v1\x00"


def _normalize(value: Any, depth: int = 0) -> Any:
    """JSON-safe form of tool arguments: deterministic, and refuses what cannot be made so."""
    if depth > 200:
        raise ValueError("arguments nested deeper than 200 levels")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return {"$float": repr(value)}
        return value
    if isinstance(value, Mapping):
        return {str(k): _normalize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, set | frozenset):
        return sorted((_normalize(v, depth + 1) for v in value), key=repr)
    return {"$repr": f"{type(value).__name__}:{value}"}


# Built once: json.dumps with non-default options builds a new encoder on every call, which
# showed up in the per-call profile of the allow path (two audit rows per call).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
_scalar = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def canonical_text(value: Any) -> str:
    """Sorted keys, no whitespace, no NaN: one value, one form.

    Plain JSON values take json's C encoder directly; anything else (bytes, sets, NaN, custom
    objects) is normalised first. A given value always takes the same path.
    """
    try:
        return _CANONICAL(value)
    except (TypeError, ValueError):
        return _CANONICAL(_normalize(value))


def canonical_json(value: Any) -> bytes:
    """`canonical_text` as UTF-8 (lone surrogates escaped)."""
    return canonical_text(value).encode("utf-8", "backslashreplace")


def row_hash(
    prev_hash: str,
    seq: int,
    ts: float,
    event: str,
    request_id: str | None,
    actor: str | None,
    data: Mapping[str, Any],
    *,
    data_text: str | None = None,
) -> str:
    """The row's hash: a domain tag, the previous hash and the canonical JSON of the row.

    ``data_text`` is ``canonical_text(data)`` when the caller has it already (it stores it).
    """
    body_data = data_text if data_text is not None else canonical_text(data)
    # The canonical form of {"actor", "data", "event", "request_id", "seq", "ts"}, keys sorted.
    body = (
        f'{{"actor":{_scalar(actor)},"data":{body_data},"event":{_scalar(event)},'
        f'"request_id":{_scalar(request_id)},"seq":{_scalar(seq)},"ts":{_scalar(ts)}}}'
    ).encode("utf-8", "backslashreplace")
    return hashlib.sha256(_DOMAIN + prev_hash.encode("ascii") + b"\x00" + body).hexdigest()


class HashKey:
    """The key for keyed hashes. Never stored in the database.

    Resolution: explicit bytes > ``GUARDRAILS_AUDIT_KEY`` (hex or base64, at least 32 bytes) >
    a key file (default ``<db>.key``), created with mode 0600 on first use.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ConfigError("the audit key must be at least 32 bytes")
        self._key = key

    @classmethod
    def resolve(cls, key: bytes | None = None, key_file: Path | None = None) -> HashKey:
        if key is not None:
            return cls(key)
        env = os.environ.get(KEY_ENV)
        if env:
            return cls(_decode_key(env))
        if key_file is None:
            raise ConfigError(f"no audit key: set {KEY_ENV} or give a key file")
        return cls(_key_from_file(key_file))

    def digest(self, value: Any) -> str:
        """Keyed HMAC-SHA256 of the value's canonical JSON, hex, prefixed with its scheme."""
        mac = hmac.new(self._key, canonical_json(value), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{mac}"


def _decode_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raise ConfigError(f"{KEY_ENV} must be hex or base64") from None
    if len(raw) < 32:
        raise ConfigError(f"{KEY_ENV} must decode to at least 32 bytes, got {len(raw)}")
    return raw


def _key_from_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot create audit key file {path}: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    try:
        return _decode_key(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read audit key file {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class Checkpoint:
    """An exported head: keep it somewhere the database cannot rewrite."""

    seq: int
    hash: str

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash})

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        try:
            data = json.loads(text)
            seq, digest = int(data["seq"]), str(data["hash"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                'a checkpoint is JSON like {"seq": 42, "hash": "..."} as printed by '
                "`guardrails-plugin audit checkpoint`"
            ) from None
        if seq < 0 or len(digest) != 64:
            raise ValueError("checkpoint seq must be >= 0 and hash 64 hex characters")
        return cls(seq, digest)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head: Checkpoint | None
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(rows: Iterable[AuditRecord], checkpoint: Checkpoint | None = None) -> VerifyResult:
    """Recompute the chain; report the first broken row, or a head older than ``checkpoint``."""
    prev = GENESIS
    expected_seq = 1
    checked = 0
    last: AuditRecord | None = None
    seen_checkpoint = checkpoint is None or checkpoint.seq == 0
    for row in rows:
        if row.seq != expected_seq:
            what = "missing" if row.seq > expected_seq else "out of order"
            return VerifyResult(
                False,
                checked,
                _head(last),
                expected_seq,
                f"row {expected_seq} is {what} (next row is {row.seq})",
            )
        if row.prev_hash != prev:
            return VerifyResult(
                False,
                checked,
                _head(last),
                row.seq,
                f"row {row.seq} does not link to row {row.seq - 1}",
            )
        digest = row_hash(prev, row.seq, row.ts, row.event, row.request_id, row.actor, row.data)
        if not hmac.compare_digest(digest, row.hash):
            return VerifyResult(
                False, checked, _head(last), row.seq, f"row {row.seq} was modified (hash mismatch)"
            )
        if checkpoint is not None and row.seq == checkpoint.seq:
            if row.hash != checkpoint.hash:
                return VerifyResult(
                    False,
                    checked,
                    _head(row),
                    row.seq,
                    f"row {row.seq} differs from the checkpoint",
                )
            seen_checkpoint = True
        prev = row.hash
        expected_seq += 1
        checked += 1
        last = row
    if not seen_checkpoint and checkpoint is not None:
        return VerifyResult(
            False,
            checked,
            _head(last),
            checked + 1,
            f"the log ends at row {checked} but the checkpoint is at row "
            f"{checkpoint.seq}: rows were removed from the end",
        )
    return VerifyResult(True, checked, _head(last))


def _head(row: AuditRecord | None) -> Checkpoint | None:
    return Checkpoint(row.seq, row.hash) if row is not None else None
