"""Durable state: approval requests, votes and the hash-chained audit log.

`Store` is the interface; `SQLiteStore` (imported lazily, it brings sqlite-utils) the default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrails_plugin.store.audit import Checkpoint, VerifyResult, verify_chain
from guardrails_plugin.store.events import Event
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
    from guardrails_plugin.store.sqlite import SQLiteStore

__all__ = [
    "TERMINAL",
    "ApprovalRequest",
    "AuditRecord",
    "Checkpoint",
    "Event",
    "SQLiteStore",
    "Status",
    "Store",
    "StoreTx",
    "Verdict",
    "VerifyResult",
    "Vote",
    "verify_chain",
]


def __getattr__(name: str) -> Any:
    if name == "SQLiteStore":
        from guardrails_plugin.store.sqlite import SQLiteStore

        return SQLiteStore
    raise AttributeError(name)
