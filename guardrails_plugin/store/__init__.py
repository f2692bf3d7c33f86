"""Durable state: approval requests, votes and the hash-chained audit log.

`Store` is the interface; `SQLiteStore` (imported lazily, it brings sqlite-utils) the default;
`PostgresStore` (imported lazily, it needs the ``postgres`` extra) the store for many hosts.
`open_store` picks one from a path or URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrails_plugin.store.audit import Checkpoint, VerifyResult, verify_chain
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.factory import open_store
from guardrails_plugin.store.protocol import Store, StoreTx
from guardrails_plugin.store.records import (
    TERMINAL,
    ApprovalRequest,
    AuditRecord,
    Status,
    Verdict,
    Vote,
)

if TYPE_CHECKING:
    from guardrails_plugin.store.postgres import PostgresStore
    from guardrails_plugin.store.sqlite import SQLiteStore

__all__ = [
    "TERMINAL",
    "ApprovalRequest",
    "AuditRecord",
    "Checkpoint",
    "Event",
    "PostgresStore",
    "SQLiteStore",
    "Status",
    "Store",
    "StoreTx",
    "Verdict",
    "VerifyResult",
    "Vote",
    "open_store",
    "verify_chain",
]


def __getattr__(name: str) -> Any:
    if name == "SQLiteStore":
        from guardrails_plugin.store.sqlite import SQLiteStore

        return SQLiteStore
    if name == "PostgresStore":
        from guardrails_plugin.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(name)
