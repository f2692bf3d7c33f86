"""The audit hash chain, checkpoints, and chain verification.

Each row's hash covers a domain tag, the previous row's hash and the canonical JSON of the row
(sequence number, time, event, request, actor, data), so editing, deleting, reordering or
inserting a row breaks the chain at that row. The hash is an HMAC under the store's key (kept
outside the database): someone who can write the file but cannot read the key can neither forge
a row nor recompute the chain after rewriting one. A store created before the chain was keyed
keeps its older rows as plain SHA-256; ``keyed_from`` (recorded in the store's meta table under
the key) says where the keyed rows begin.

Dropping the tail leaves a valid shorter chain; only checkpoints (sequence number + head hash)
kept outside the database catch that, so `verify_chain` compares against them when given.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from guardrails_plugin.store.canonical import canonical_json, canonical_text
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.keys import KEY_ENV, HashKey
from guardrails_plugin.store.records import AuditRecord

__all__ = [
    "GENESIS",
    "KEY_ENV",
    "Checkpoint",
    "HashKey",
    "VerifyResult",
    "canonical_json",
    "canonical_text",
    "parse_checkpoints",
    "record_hash",
    "row_hash",
    "verify_chain",
]

GENESIS = "0" * 64
_DOMAIN = b"guardrails-plugin/audit/v1\x00"
_KEYED_DOMAIN = b"guardrails-plugin/audit/v2-hmac\x00"
_scalar = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


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
    key: HashKey | None = None,
) -> str:
    """The row's hash: an HMAC under ``key`` (or, for rows older than the keyed chain, a plain
    SHA-256) of a domain tag, the previous hash and the canonical JSON of the row.

    ``data_text`` is ``canonical_text(data)`` when the caller has it already (it stores it).
    """
    body_data = data_text if data_text is not None else canonical_text(data)
    # The canonical form of {"actor", "data", "event", "request_id", "seq", "ts"}, keys sorted.
    body = (
        f'{{"actor":{_scalar(actor)},"data":{body_data},"event":{_scalar(event)},'
        f'"request_id":{_scalar(request_id)},"seq":{_scalar(seq)},"ts":{_scalar(ts)}}}'
    ).encode("utf-8", "backslashreplace")
    if key is not None:
        return key.mac(_KEYED_DOMAIN + prev_hash.encode("ascii") + b"\x00" + body)
    return hashlib.sha256(_DOMAIN + prev_hash.encode("ascii") + b"\x00" + body).hexdigest()


def record_hash(row: AuditRecord, prev_hash: str, key: HashKey | None) -> str:
    """`row_hash` of a stored row, as if it followed ``prev_hash``."""
    return row_hash(
        prev_hash, row.seq, row.ts, row.event, row.request_id, row.actor, row.data, key=key
    )


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


def parse_checkpoints(text: str, source: str) -> list[Checkpoint]:
    """The checkpoints of a file that ``audit checkpoint -o FILE`` appended to (one JSON object
    per line; blank lines are skipped). A malformed line is a ValueError naming ``source:line``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(Checkpoint.parse(line))
        except ValueError as exc:
            raise ValueError(f"{source}:{number}: {exc}") from None
    if not found:
        raise ValueError(f"{source}: no checkpoint in it")
    return found


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head: Checkpoint | None
    first_bad_seq: int | None = None
    problem: str | None = None
    keyed_from: int | None = None  # rows before this one are plain SHA-256 (an older store)
    checkpoints: int = 0


class _Broken(Exception):
    def __init__(self, seq: int, problem: str, head: Checkpoint | None) -> None:
        super().__init__(problem)
        self.seq, self.problem, self.head = seq, problem, head


def verify_chain(
    rows: Iterable[AuditRecord],
    checkpoints: Checkpoint | Iterable[Checkpoint] | None = None,
    *,
    key: HashKey | None = None,
    keyed_from: int | None = None,
) -> VerifyResult:
    """Recompute the chain; report the first broken row, or a head older than a checkpoint.

    With ``key``, rows from ``keyed_from`` (default 1: all) on must be HMACs under it; without,
    every row is checked as plain SHA-256. Every checkpoint must match its row; the newest one
    also catches a truncated tail.
    """
    if key is None and keyed_from is not None:
        raise ValueError("keyed_from needs the key")
    start = (keyed_from or 1) if key is not None else None
    anchors: dict[int, set[str]] = {}
    if isinstance(checkpoints, Checkpoint):
        checkpoints = [checkpoints]
    for cp in checkpoints or ():
        anchors.setdefault(cp.seq, set()).add(cp.hash)
    count = sum(len(v) for v in anchors.values())
    try:
        checked, last = _walk(rows, anchors, key, start)
    except _Broken as broken:
        # Every row before the broken one verified.
        return VerifyResult(
            False, broken.seq - 1, broken.head, broken.seq, broken.problem, start, count
        )
    newest = max(anchors, default=0)
    if newest > checked:
        return VerifyResult(
            False,
            checked,
            _head(last),
            checked + 1,
            f"the log ends at row {checked} but a checkpoint is at row {newest}: rows were "
            "removed from the end",
            start,
            count,
        )
    return VerifyResult(True, checked, _head(last), keyed_from=start, checkpoints=count)


def _walk(
    rows: Iterable[AuditRecord],
    anchors: Mapping[int, set[str]],
    key: HashKey | None,
    keyed_from: int | None,
) -> tuple[int, AuditRecord | None]:
    prev, expected, last = GENESIS, 1, None
    for row in rows:
        head = _head(last)
        if row.seq != expected:
            what = "missing" if row.seq > expected else "out of order"
            raise _Broken(expected, f"row {expected} is {what} (next row is {row.seq})", head)
        if row.prev_hash != prev:
            raise _Broken(row.seq, f"row {row.seq} does not link to row {row.seq - 1}", head)
        keyed = keyed_from is not None and row.seq >= keyed_from
        digest = record_hash(row, prev, key if keyed else None)
        if not hmac.compare_digest(digest, row.hash):
            why = "modified, or written without the store's key" if keyed else "modified"
            raise _Broken(row.seq, f"row {row.seq} was {why} (hash mismatch)", head)
        marks = row.event == Event.AUDIT_KEYED and row.data.get("keyed_from") == keyed_from
        if keyed_from is not None and keyed_from > 1 and row.seq == keyed_from and not marks:
            raise _Broken(row.seq, f"row {row.seq} should mark where the keyed chain begins", head)
        for digest in anchors.get(row.seq, ()):
            if digest != row.hash:
                raise _Broken(row.seq, f"row {row.seq} differs from the checkpoint", _head(row))
        prev, expected, last = row.hash, expected + 1, row
    return expected - 1, last


def _head(row: AuditRecord | None) -> Checkpoint | None:
    return Checkpoint(row.seq, row.hash) if row is not None else None
