"""The store's key, as the database knows it: the meta table, and which audit rows are keyed.

`adopt_key` is the data step of migration 3 (it needs the key, which never enters the database):
it records the key's fingerprint and the first keyed row, marks that row in an upgraded store,
and re-keys the idempotency keys of existing requests. `load_keying` checks both at every open.

What the meta table gives someone holding only the file: the fingerprint (an HMAC of a fixed
label) is no help in guessing a 256-bit key; ``keyed_from`` carries an HMAC, so moving it (to pass
off forged rows as pre-upgrade ones) is refused at open; deleting the meta table makes the store
refuse to open. Resetting the schema version so that the upgrade runs again is refused when the
newest audit row is already keyed; after cutting every keyed row it would push ``keyed_from``
forward, which an exported checkpoint catches, and neither execution claims nor votes trust what
the upgrade writes from columns (see docs/operations.md).
"""

from __future__ import annotations

import hmac
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from guardrails_plugin.errors import ConfigError, StoreError
from guardrails_plugin.store.audit import record_hash
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.keys import KEY_ENV, HashKey, call_key
from guardrails_plugin.store.records import AuditRecord
from guardrails_plugin.store.rows import AUDIT_COLUMNS, AUDIT_SELECT, to_audit

__all__ = ["REKEY_WINDOW", "Keying", "adopt_key", "check_meta", "keying_meta", "load_keying"]

_KEYED_FROM_LABEL = b"guardrails-plugin/meta/keyed_from\x00"

# append(event, request_id, data): append a keyed audit row in the migration's transaction.
Append = Callable[[str, str | None, dict[str, object]], object]


@dataclass(frozen=True)
class Keying:
    """The store's key and the first audit row hashed with it (1 unless the store was upgraded
    from an unkeyed chain)."""

    key: HashKey
    keyed_from: int

    def authentic(self, row: AuditRecord) -> bool:
        """True if the row was written by a holder of the key: its hash is the HMAC of its
        content and its recorded previous hash. Needs no walk of the chain."""
        if row.seq < self.keyed_from:
            return False
        return hmac.compare_digest(record_hash(row, row.prev_hash, self.key), row.hash)


def _keyed_from_mac(key: HashKey, keyed_from: int) -> str:
    return key.mac(_KEYED_FROM_LABEL + str(keyed_from).encode("ascii"))


def adopt_key(conn: sqlite3.Connection, key: HashKey, append: Append, now: float) -> Keying:
    """Migration 3's data step, inside its transaction.

    Refuses a store whose newest audit row is already keyed under this key: its schema version
    or meta table were reset (the file was tampered with), and running the upgrade again would
    write keyed rows from columns someone may have edited."""
    row = conn.execute(f"{AUDIT_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
    if row is not None:
        newest = to_audit(dict(zip(AUDIT_COLUMNS, row, strict=True)))
        if Keying(key, 1).authentic(newest):
            raise StoreError(
                "this approval store's audit log is already keyed under this key, but its "
                "schema version or meta table say it was never upgraded: the file was tampered "
                "with; restore it from a backup"
            )
    unkeyed = row[0] if row else 0
    keying = Keying(key, unkeyed + 1)
    conn.executemany(
        "INSERT INTO meta (name, value) VALUES (?, ?)", keying_meta(key, keying.keyed_from)
    )
    if unkeyed:
        append(
            Event.AUDIT_KEYED,
            None,
            {
                "keyed_from": keying.keyed_from,
                "unkeyed_rows": unkeyed,
                "key_fingerprint": key.fingerprint[:16],
            },
        )
    _rekey_requests(conn, key, append, now)
    return keying


# Requests older than this lose their idempotency key at the upgrade: runs are resumed within
# hours, and a keyed row for every request ever made would only pad the log.
REKEY_WINDOW = 30 * 86400.0


def _rekey_requests(conn: sqlite3.Connection, key: HashKey, append: Append, now: float) -> None:
    """Existing requests were found by call id alone. Give each recent or still open one the
    scoped key a replay of the same call (same principal, run, call id, tool and arguments) now
    looks up, and a keyed request.rekeyed row recording it (as request.created does for new
    requests), so a resumed run finds its request and gets its decision, or "already ran"."""
    rows = conn.execute(
        "SELECT id, idempotency_key, principal, on_behalf_of, run_id, tool, args_hash, status, "
        "created_at FROM requests WHERE idempotency_key IS NOT NULL ORDER BY created_at, id"
    ).fetchall()
    for request_id, call_id, agent, on_behalf_of, run_id, tool, args_hash, status, made in rows:
        if status != "pending" and made < now - REKEY_WINDOW:
            conn.execute("UPDATE requests SET idempotency_key = NULL WHERE id = ?", (request_id,))
            continue
        scoped = call_key(
            key.digest,
            agent=agent,
            on_behalf_of=on_behalf_of,
            run_id=run_id,
            call_id=call_id,
            tool=tool,
            args_hash=args_hash,
        )
        conn.execute("UPDATE requests SET idempotency_key = ? WHERE id = ?", (scoped, request_id))
        # No voting terms: copying them from columns into a keyed row would let whoever edited
        # the file before this upgrade (or reset the schema version to re-run it) have forged
        # approvers signed. Votes need terms from a keyed row, so requests open at the upgrade
        # take no more votes and expire; the run asks again.
        append(
            Event.REQUEST_REKEYED,
            request_id,
            {"call_key": scoped, "tool": tool, "args_hmac": args_hash},
        )


def keying_meta(key: HashKey, keyed_from: int) -> list[tuple[str, str]]:
    """The meta rows that record the key and where keyed rows begin (any backend)."""
    return [
        ("key_fingerprint", key.fingerprint),
        ("keyed_from", str(keyed_from)),
        ("keyed_from_mac", _keyed_from_mac(key, keyed_from)),
    ]


def load_keying(conn: sqlite3.Connection, key: HashKey, path: Path, key_file: Path) -> Keying:
    """Check the key against the store's fingerprint, and read where keyed rows begin."""
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    return check_meta(meta, key, str(path), key_file)


def check_meta(meta: dict[str, str], key: HashKey, where: str, key_file: Path | None) -> Keying:
    """`load_keying` for any backend: ``meta`` is the meta table's rows, ``where`` names the
    store in messages (a PostgreSQL URL already masked)."""
    stored = meta.get("key_fingerprint")
    if stored is None:
        raise StoreError(
            f"approval store {where}: its meta table has no key fingerprint, though its schema "
            "is keyed: the file was damaged or tampered with; restore it from a backup"
        )
    if not hmac.compare_digest(str(stored), key.fingerprint):
        restore = f"restore {key_file} from this store's backup, or " if key_file else ""
        raise ConfigError(
            f"approval store {where} was created with a different audit key: the key from "
            f"{key.source} has fingerprint {key.fingerprint[:16]}, but the store's meta table "
            f"records {str(stored)[:16]} (written when the store was created or upgraded). Use "
            f"the store's own key: {restore}set {KEY_ENV} to it."
        )
    text = str(meta.get("keyed_from", ""))
    mac = str(meta.get("keyed_from_mac", ""))
    if not text.isdigit() or not hmac.compare_digest(mac, _keyed_from_mac(key, int(text))):
        raise StoreError(
            f"approval store {where}: the meta table's keyed_from ({text or 'missing'}) was "
            "changed without the store's key; restore the store from a backup"
        )
    return Keying(key, int(text))
