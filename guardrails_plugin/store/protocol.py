"""The store interface the broker and CLI use. SQLite implements it today; a server database
can implement it later without touching the broker.

Writes happen in a unit of work (`Store.transaction`) that a backend runs as one serialised
write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT ... FOR UPDATE``), so a
decision and its audit rows commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from guardrails_plugin.store.audit import Checkpoint, VerifyResult
from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Status, Vote

__all__ = ["ChangeNotifier", "Store", "StoreTx", "real_time_waits"]


class StoreTx(Protocol):
    def get_request(self, request_id: str) -> ApprovalRequest | None: ...

    def find_request(self, idempotency_key: str) -> ApprovalRequest | None: ...

    def insert_request(self, request: ApprovalRequest) -> None: ...

    def update_request(self, request_id: str, expect: Status, **changes: Any) -> bool:
        """Apply ``changes`` only if the status is still ``expect``; True if a row changed."""
        ...

    def count_pending(self, principal: str) -> int: ...

    def votes(self, request_id: str) -> list[Vote]: ...

    def insert_vote(self, vote: Vote) -> None: ...

    def request_events(self, request_id: str) -> list[AuditRecord]:
        """Every audit row of the request, oldest first (an indexed lookup, no chain walk)."""
        ...

    def authentic(self, record: AuditRecord) -> bool:
        """True if the row's hash is a valid keyed MAC of its content and previous hash: it was
        written by a holder of the store's key, not by someone who can only write the file."""
        ...

    def append_audit(
        self,
        event: str,
        *,
        request_id: str | None = None,
        actor: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> AuditRecord: ...


class Store(Protocol):
    @property
    def path(self) -> object:
        """Where the store lives, for messages: a file's path, or a URL with its password
        masked."""
        ...

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[StoreTx]: ...

    def keyed_hash(self, value: Any) -> str:
        """HMAC of a value under the store's key (kept outside the database)."""
        ...

    def derived_key(self, label: str) -> bytes:
        """A 32-byte key for ``label``'s purpose derived from the store's key, in a domain no
        `keyed_hash` can reach: nothing the store writes can equal it (`HashKey.derive`)."""
        ...

    def get_request(self, request_id: str) -> ApprovalRequest | None: ...

    def resolve_id(self, prefix: str) -> str:
        """The full id of the one request whose id starts with ``prefix``."""
        ...

    def list_requests(
        self, status: Status | None = None, limit: int = 100
    ) -> list[ApprovalRequest]: ...

    def votes(self, request_id: str) -> list[Vote]: ...

    def statuses(self, request_ids: list[str]) -> dict[str, Status]: ...

    def settled(self, request_ids: list[str]) -> dict[str, ApprovalRequest]:
        """The requests among ``request_ids`` that are no longer pending, whole, read in one
        query (the async watcher's wake: a round trip per decided request was its tail)."""
        ...

    def change_token(self) -> int:
        """Changes whenever another connection commits; cheap enough to poll every 10 ms."""
        ...

    def record_event(
        self,
        event: str,
        *,
        request_id: str | None = None,
        actor: str | None = None,
        data: Mapping[str, Any] | None = None,
        durable: bool = True,
    ) -> AuditRecord:
        """Append one audit row in its own transaction. ``durable=False`` may skip the fsync
        (the row survives a crash of the process, not of the machine)."""
        ...

    def record_events(
        self,
        events: Sequence[tuple[str, str | None, str | None, Mapping[str, Any]]],
        *,
        durable: bool = True,
    ) -> list[AuditRecord]:
        """Append several ``(event, request_id, actor, data)`` rows in one transaction."""
        ...

    def audit_rows(self, since_seq: int = 0) -> Iterator[AuditRecord]: ...

    def audit_head(self) -> Checkpoint | None: ...

    def verify_audit(
        self,
        checkpoints: Iterable[Checkpoint] = (),
        *,
        observe: Callable[[AuditRecord], None] | None = None,
    ) -> VerifyResult:
        """Recompute the whole chain under the store's key; ``observe`` sees every row read."""
        ...

    def iter_requests(self) -> Iterator[ApprovalRequest]: ...

    def iter_votes(self) -> Iterator[Vote]: ...

    def close(self) -> None: ...


@runtime_checkable
class ChangeNotifier(Protocol):
    """A store that can say when something changed, so waiters block instead of polling
    (PostgreSQL: LISTEN/NOTIFY). Waiters still re-check at their own deadlines."""

    def wait_for_change(self, token: int, timeout: float) -> int:
        """Block until `Store.change_token` may differ from ``token``, or ``timeout`` seconds
        pass; returns the current token."""
        ...

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from another thread) on every change; returns unsubscribe."""
        ...


def real_time_waits(store: object, clock: object) -> ChangeNotifier | None:
    """The store's notifier when a waiter may block on it: only under the system clock. An
    injected clock moves only when slept on, so blocking in real time would stop it."""
    from guardrails_plugin.clock import SystemClock

    if isinstance(store, ChangeNotifier) and isinstance(clock, SystemClock):
        return store
    return None
