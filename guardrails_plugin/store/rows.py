"""How approval requests, votes and audit records map to SQLite rows (JSON columns, booleans,
enums), in both directions. No database access here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Status, Verdict, Vote

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_SELECT",
    "BOOL_COLUMNS",
    "JSON_COLUMNS",
    "REQUEST_FIELDS",
    "dumps",
    "request_row",
    "request_updates",
    "to_audit",
    "to_request",
    "to_vote",
]

JSON_COLUMNS = {
    "masked_args",
    "edited_args",
    "requester_identities",
    "approvers",
    "approver_sources",
    "data_classes",
    "environment",
    "notify",
    "review_args",
}
BOOL_COLUMNS = {"require_reason", "allow_edit"}
_TUPLE_COLUMNS = {"requester_identities", "approver_sources", "data_classes"}
REQUEST_FIELDS = {f.name for f in fields(ApprovalRequest)}


dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def request_row(request: ApprovalRequest) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in REQUEST_FIELDS:
        value = getattr(request, name)
        if name == "approvers":
            value = {p: list(ids) for p, ids in value.items()}
        if name in JSON_COLUMNS and value is not None:
            value = dumps(list(value) if name in _TUPLE_COLUMNS else value)
        elif name in BOOL_COLUMNS:
            value = int(value)
        elif name == "status":
            value = str(value)
        row[name] = value
    return row


def request_updates(changes: Mapping[str, Any], placeholder: str) -> tuple[list[str], list[Any]]:
    """``name = <placeholder>`` assignments and their values for an UPDATE of ``changes``,
    encoded as `request_row` encodes them; the placeholder is the driver's (``?`` or ``%s``)."""
    sets, params = [], []
    for name, value in changes.items():
        if name not in REQUEST_FIELDS or name in ("id", "created_at"):
            raise ValueError(f"cannot update request field {name!r}")
        if name in JSON_COLUMNS and value is not None:
            value = dumps(value)
        elif name in BOOL_COLUMNS:
            value = int(value)
        elif name == "status":
            value = str(value)
        sets.append(f"{name} = {placeholder}")
        params.append(value)
    return sets, params


def to_request(row: Mapping[str, Any]) -> ApprovalRequest:
    values: dict[str, Any] = {}
    for name in REQUEST_FIELDS:
        value = row[name]
        if name in JSON_COLUMNS and value is not None:
            value = json.loads(value)
            if name in _TUPLE_COLUMNS:
                value = tuple(value)
            elif name == "approvers":
                value = {p: tuple(ids) for p, ids in value.items()}
        elif name in BOOL_COLUMNS:
            value = bool(value)
        elif name == "status":
            value = Status(value)
        values[name] = value
    return ApprovalRequest(**values)


def to_vote(row: Mapping[str, Any]) -> Vote:
    return Vote(
        id=row["id"],
        request_id=row["request_id"],
        revision=row["revision"],
        person=row["person"],
        identity=row["identity"],
        channel=row["channel"],
        verdict=Verdict(row["verdict"]),
        reason=row["reason"],
        edited_args=json.loads(row["edited_args"]) if row["edited_args"] else None,
        created_at=row["created_at"],
    )


def to_audit(row: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord(
        seq=row["seq"],
        ts=row["ts"],
        event=row["event"],
        request_id=row["request_id"],
        actor=row["actor"],
        data=json.loads(row["data"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


AUDIT_COLUMNS = ("seq", "ts", "event", "request_id", "actor", "data", "prev_hash", "hash")
AUDIT_SELECT = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit"
