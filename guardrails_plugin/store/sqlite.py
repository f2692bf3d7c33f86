"""The SQLite store (via sqlite-utils): the only module that imports sqlite_utils.

One file shared by every agent process and the Slack app on a host. Settings chosen for a
decision record: WAL (readers never block the writer), ``synchronous=FULL`` (a commit survives
power loss), a busy timeout, and write transactions that start ``IMMEDIATE`` so the busy timeout
applies instead of failing on a lock upgrade. Each thread gets its own connection.

The store's key (`HashKey`, kept outside the database) keys the audit chain; `keying.py` holds
what the database records about it. Before each write transaction the store checks that its
path still names the file it opened (`identity.py`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlite_utils

from guardrails_plugin.clock import Clock, SystemClock
from guardrails_plugin.errors import SchemaVersionError, StoreError
from guardrails_plugin.store.audit import (
    GENESIS,
    Checkpoint,
    canonical_text,
    row_hash,
)
from guardrails_plugin.store.identity import FileIdentity
from guardrails_plugin.store.keyed_log import KeyedLogMixin
from guardrails_plugin.store.keying import Keying, adopt_key, load_keying
from guardrails_plugin.store.keys import HashKey
from guardrails_plugin.store.migrations import KEYED, MIGRATIONS
from guardrails_plugin.store.notify_state import NotifyMixin
from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Status, Vote
from guardrails_plugin.store.rows import (
    AUDIT_COLUMNS,
    AUDIT_SELECT,
    dumps,
    request_row,
    request_updates,
    to_audit,
    to_request,
    to_vote,
)
from guardrails_plugin.store.urls import DB_ENV, DEFAULT_DB, mask_url, resolve_target

__all__ = ["DB_ENV", "DEFAULT_DB", "SQLiteStore", "resolve_db_path"]

log = logging.getLogger(__name__)

# Host parameters per IN (...) list: far below SQLite's limit (999 before 3.32).
_IN_CHUNK = 500


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Explicit argument > ``GUARDRAILS_DB`` > ``./guardrails.db`` (``sqlite:///…`` too)."""
    where = resolve_target(path or None)
    if not isinstance(where, Path):
        raise StoreError(
            f"{mask_url(where)} is a PostgreSQL URL, not a SQLite file: open it with "
            "guardrails_plugin.store.open_store"
        )
    return where


class _Tx:
    """One IMMEDIATE write transaction. Implements `StoreTx`."""

    def __init__(self, db: sqlite_utils.Database, clock: Clock, keying: Keying) -> None:
        self.db = db
        self.clock = clock
        self.keying = keying

    def _one(self, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        cursor = self.db.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cursor.description], row, strict=True))

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        row = self._one("SELECT * FROM requests WHERE id = ?", (request_id,))
        return to_request(row) if row else None

    def find_request(self, idempotency_key: str) -> ApprovalRequest | None:
        row = self._one("SELECT * FROM requests WHERE idempotency_key = ?", (idempotency_key,))
        return to_request(row) if row else None

    def insert_request(self, request: ApprovalRequest) -> None:
        self.db.table("requests").insert(request_row(request))

    def update_request(self, request_id: str, expect: Status, **changes: Any) -> bool:
        sets, params = request_updates(changes, "?")
        cursor = self.db.execute(
            f"UPDATE requests SET {', '.join(sets)} WHERE id = ? AND status = ?",
            (*params, request_id, str(expect)),
        )
        return cursor.rowcount == 1

    def count_pending(self, principal: str) -> int:
        row = self._one(
            "SELECT count(*) AS n FROM requests WHERE principal = ? AND status = 'pending'",
            (principal,),
        )
        return int(row["n"]) if row else 0

    def votes(self, request_id: str) -> list[Vote]:
        return _votes(self.db, request_id)

    def request_events(self, request_id: str) -> list[AuditRecord]:
        cursor = self.db.conn.execute(
            f"{AUDIT_SELECT} WHERE request_id = ? ORDER BY seq", (request_id,)
        )
        return [to_audit(dict(zip(AUDIT_COLUMNS, row, strict=True))) for row in cursor]

    def authentic(self, record: AuditRecord) -> bool:
        return self.keying.authentic(record)

    def insert_vote(self, vote: Vote) -> None:
        self.db.table("votes").insert(
            {
                "request_id": vote.request_id,
                "revision": vote.revision,
                "person": vote.person,
                "identity": vote.identity,
                "channel": vote.channel,
                "verdict": str(vote.verdict),
                "reason": vote.reason,
                "edited_args": dumps(vote.edited_args) if vote.edited_args is not None else None,
                "created_at": vote.created_at,
            }
        )

    def append_audit(
        self,
        event: str,
        *,
        request_id: str | None = None,
        actor: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        conn = self.db.conn
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq = (last[0] if last else 0) + 1
        prev = last[1] if last else GENESIS
        ts = self.clock.now()
        body = dict(data or {})
        text = canonical_text(body)  # stored as is, and hashed
        if seq < self.keying.keyed_from:  # the log was cut back below the keyed boundary
            raise StoreError(
                f"audit row {seq} would precede the keyed chain, which begins at row "
                f"{self.keying.keyed_from}: the log was truncated; restore it from a backup"
            )
        digest = row_hash(
            prev, seq, ts, event, request_id, actor, body, data_text=text, key=self.keying.key
        )
        conn.execute(
            "INSERT INTO audit (seq, ts, event, request_id, actor, data, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, event, request_id, actor, text, prev, digest),
        )
        return AuditRecord(seq, ts, event, request_id, actor, body, prev, digest)


def _votes(db: sqlite_utils.Database, request_id: str) -> list[Vote]:
    return [
        to_vote(r)
        for r in db.query("SELECT * FROM votes WHERE request_id = ? ORDER BY id", (request_id,))
    ]


class SQLiteStore(NotifyMixin, KeyedLogMixin):
    """The default `Store`. ``SQLiteStore()`` opens ``$GUARDRAILS_DB`` or ``./guardrails.db``.

    The key comes from ``key``, else ``GUARDRAILS_AUDIT_KEY``, else ``<db>.key`` beside the
    database (never inside it). A key file is created, with mode 0600, only for a new store and
    only when ``create`` is true; read-only tools pass ``create=False``. A key whose fingerprint
    differs from the one the store recorded is refused. A store whose audit log predates the
    keyed chain is upgraded only when asked (``upgrade=True``, `guardrails-plugin audit
    upgrade`): done silently, a file reset to look old would have its history signed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        key: bytes | None = None,
        key_file: str | os.PathLike[str] | None = None,
        busy_timeout: float = 5.0,
        clock: Clock | None = None,
        create: bool = True,
        upgrade: bool = False,
    ) -> None:
        self.path = resolve_db_path(path)
        self._upgrade = upgrade
        if not create and not self.path.is_file():
            raise StoreError(
                f"no approval store at {self.path}; pass --db or set {DB_ENV} to its path"
            )
        self.clock: Clock = clock or SystemClock()
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._local_commits = 0
        self._identity: FileIdentity | None = None
        self.key_file = Path(key_file) if key_file else Path(f"{self.path}.key")
        try:
            with self._errors("open"):
                version = self._db().execute("PRAGMA user_version").fetchone()[0]
            # A key is made only with a brand-new store: an existing store's hashes were made
            # with its own key, which a new one could never match (a restored backup).
            self._key = HashKey.resolve(key, self.key_file, create=create and version == 0)
            with self._errors("open"):
                self._keying = self._migrate()
            self._identity = FileIdentity.capture(self.path)
        except BaseException:
            self.close()
            raise

    # --- connections ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            log.error("store %s failed on %s: %s", what, self.path, exc)
            raise StoreError(f"approval store {self.path}: {what} failed: {exc}") from exc

    def _db(self, *, durable: bool = True) -> sqlite_utils.Database:
        """This thread's connection. Non-durable writes get their own connection with
        ``synchronous=NORMAL``, so switching costs nothing per transaction."""
        name = "db" if durable else "fast_db"
        db: sqlite_utils.Database | None = getattr(self._local, name, None)
        if db is not None:
            return db
        if not self.path.parent.exists():
            raise StoreError(f"approval store folder {self.path.parent} does not exist")
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise StoreError(
                f"{self.path}: SQLite refused WAL mode (got {mode!r}); put the database on a "
                "local filesystem"
            )
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        setattr(self._local, name, db)
        with self._lock:
            self._connections.append(conn)
        return db

    def _migrate(self) -> Keying:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise SchemaVersionError(
                    f"{self.path} has schema version {version}, newer than this guardrails-plugin "
                    f"understands ({len(MIGRATIONS)}); upgrade guardrails-plugin"
                )
            if 0 < version < KEYED and not self._upgrade:
                self._refuse_silent_upgrade(db, version)
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _split_sql(script):
                    db.execute(statement)
                if number == KEYED:
                    self._adopt_key(db)
                db.execute(f"PRAGMA user_version = {number}")
            keying = load_keying(db.conn, self._key, self.path, self.key_file)
            db.execute("COMMIT")
        except BaseException:
            db.conn.rollback()
            raise
        # A real write probe: some filesystems report WAL and then fail on the first write.
        db.execute("BEGIN IMMEDIATE")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS _probe (x)")
        db.execute("ROLLBACK")
        return keying

    def _refuse_silent_upgrade(self, db: sqlite_utils.Database, version: int) -> None:
        """An unkeyed store with history is keyed on purpose, once. Anyone who can write the
        file can make it look unkeyed (rewrite every row as plain SHA-256, reset the schema
        version), and an upgrade at the next open would sign that history."""
        if db.execute("SELECT 1 FROM audit LIMIT 1").fetchone() is None:
            return  # nothing recorded yet: nothing to sign
        raise StoreError(
            f"approval store {self.path} has schema version {version}: its audit log predates "
            "the keyed chain. Upgrade it once, on purpose: `guardrails-plugin audit upgrade "
            f"--db {self.path}` (or SQLiteStore(..., upgrade=True)). If it was upgraded before, "
            "someone has reset it: restore it from a backup instead."
        )

    def _adopt_key(self, db: sqlite_utils.Database) -> None:
        tx = _Tx(db, self.clock, Keying(self._key, 1))

        def append(event: str, request_id: str | None, data: dict[str, object]) -> object:
            return tx.append_audit(event, request_id=request_id, data=data)

        adopt_key(db.conn, self._key, append, self.clock.now())

    def _check_identity(self) -> None:
        with self._lock:
            if self._identity is None:  # reopened after close(): this is the file now
                self._identity = FileIdentity.capture(self.path)
            identity = self._identity
        identity.check(self.path)

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[_Tx]:
        """A write transaction, started IMMEDIATE; commits on success, rolls back on error.

        ``durable=False`` commits without fsync (``synchronous=NORMAL`` in WAL): the rows survive
        a crash of the process but not a power cut. Decisions always use the default.
        """
        with self._errors("write"):
            db = self._db(durable=durable)
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                self._check_identity()
                yield _Tx(db, self.clock, self._keying)
            except BaseException:
                if db.conn.in_transaction:
                    db.conn.execute("ROLLBACK")
                raise
            db.conn.execute("COMMIT")
            with self._lock:
                self._local_commits += 1

    # --- reads ---------------------------------------------------------------------------------

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        with self._errors("read"):
            rows = list(self._db().query("SELECT * FROM requests WHERE id = ?", (request_id,)))
        return to_request(rows[0]) if rows else None

    def resolve_id(self, prefix: str) -> str:
        if not prefix:
            raise KeyError("give a request id (or a unique prefix of one)")
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._errors("read"):
            rows = list(
                self._db().query(
                    "SELECT id FROM requests WHERE id LIKE ? ESCAPE '\\' LIMIT 2", (pattern,)
                )
            )
        if not rows:
            raise KeyError(f"no request id starts with {prefix!r}")
        if len(rows) > 1:
            raise KeyError(f"{prefix!r} matches several requests; give more characters")
        return str(rows[0]["id"])

    def list_requests(
        self, status: Status | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        with self._errors("read"):
            if status is None:
                rows = self._db().query(
                    "SELECT * FROM requests ORDER BY created_at DESC LIMIT ?", (limit,)
                )
            else:
                rows = self._db().query(
                    "SELECT * FROM requests WHERE status = ? ORDER BY created_at DESC LIMIT ?",
                    (str(status), limit),
                )
            return [to_request(r) for r in rows]

    def votes(self, request_id: str) -> list[Vote]:
        with self._errors("read"):
            return _votes(self._db(), request_id)

    def statuses(self, request_ids: list[str]) -> dict[str, Status]:
        if not request_ids:
            return {}
        with self._errors("read"):
            marks = ",".join("?" * len(request_ids))
            cursor = self._db().conn.execute(
                f"SELECT id, status FROM requests WHERE id IN ({marks})", request_ids
            )
            return {row[0]: Status(row[1]) for row in cursor}

    def settled(self, request_ids: list[str]) -> dict[str, ApprovalRequest]:
        found: dict[str, ApprovalRequest] = {}
        with self._errors("read"):
            for start in range(0, len(request_ids), _IN_CHUNK):
                chunk = request_ids[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db().query(
                    f"SELECT * FROM requests WHERE id IN ({marks}) AND status != 'pending'", chunk
                )
                found.update((row["id"], to_request(row)) for row in rows)
        return found

    def change_token(self) -> int:
        with self._errors("poll"):
            version = self._db().conn.execute("PRAGMA data_version").fetchone()[0]
        # data_version ignores this connection's own commits; count those ourselves.
        return int(version) + (self._local_commits << 32)

    def audit_rows(self, since_seq: int = 0) -> Iterator[AuditRecord]:
        with self._errors("read audit"):
            cursor = self._db().conn.execute(
                f"{AUDIT_SELECT} WHERE seq > ? ORDER BY seq", (since_seq,)
            )
            for row in cursor:
                yield to_audit(dict(zip(AUDIT_COLUMNS, row, strict=True)))

    def iter_requests(self) -> Iterator[ApprovalRequest]:
        with self._errors("read"):
            for row in self._db().query("SELECT * FROM requests ORDER BY created_at, id"):
                yield to_request(row)

    def iter_votes(self) -> Iterator[Vote]:
        with self._errors("read"):
            for row in self._db().query("SELECT * FROM votes ORDER BY id"):
                yield to_vote(row)

    def audit_head(self) -> Checkpoint | None:
        with self._errors("read audit"):
            row = (
                self._db()
                .conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
                .fetchone()
            )
        return Checkpoint(row[0], row[1]) if row else None

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
            self._identity = None
        self._local = threading.local()


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script; triggers keep their inner semicolons."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
