"""What every store does the same way on top of its own transactions and audit reads: keyed
hashes and derived keys from the store's key, appending events, verifying the chain.

A backend provides ``transaction()``, ``audit_rows()``, ``_key`` (`HashKey`) and ``_keying``
(`Keying`); SQL stays in the backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from guardrails_plugin.store.audit import Checkpoint, VerifyResult, verify_chain
from guardrails_plugin.store.keying import Keying
from guardrails_plugin.store.keys import HashKey
from guardrails_plugin.store.protocol import StoreTx
from guardrails_plugin.store.records import AuditRecord

__all__ = ["KeyedLogMixin"]


class KeyedLogMixin:
    _key: HashKey
    _keying: Keying

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[StoreTx]:
        raise NotImplementedError

    def audit_rows(self, since_seq: int = 0) -> Iterator[AuditRecord]:
        raise NotImplementedError

    def keyed_hash(self, value: Any) -> str:
        return self._key.digest(value)

    def derived_key(self, label: str) -> bytes:
        return self._key.derive(label)

    def record_event(
        self,
        event: str,
        *,
        request_id: str | None = None,
        actor: str | None = None,
        data: Mapping[str, Any] | None = None,
        durable: bool = True,
    ) -> AuditRecord:
        with self.transaction(durable=durable) as tx:
            return tx.append_audit(event, request_id=request_id, actor=actor, data=data)

    def record_events(
        self,
        events: Sequence[tuple[str, str | None, str | None, Mapping[str, Any]]],
        *,
        durable: bool = True,
    ) -> list[AuditRecord]:
        """Append several ``(event, request_id, actor, data)`` rows in one transaction."""
        with self.transaction(durable=durable) as tx:
            return [
                tx.append_audit(event, request_id=request_id, actor=actor, data=data)
                for event, request_id, actor, data in events
            ]

    def verify_audit(
        self,
        checkpoints: Iterable[Checkpoint] = (),
        *,
        observe: Callable[[AuditRecord], None] | None = None,
    ) -> VerifyResult:
        """Recompute the chain under this store's key (see `verify_chain`); ``observe`` sees
        every row read, so a caller can check more in the same pass."""
        rows: Iterable[AuditRecord] = self.audit_rows()
        if observe is not None:
            rows = _tap(rows, observe)
        return verify_chain(
            rows, list(checkpoints), key=self._key, keyed_from=self._keying.keyed_from
        )


def _tap(
    rows: Iterable[AuditRecord], observe: Callable[[AuditRecord], None]
) -> Iterator[AuditRecord]:
    for row in rows:
        observe(row)
        yield row
