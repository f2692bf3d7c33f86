"""The PostgreSQL store (psycopg 3 + psycopg-pool): the only module besides its siblings
``postgres_*.py`` that imports psycopg. For agents, reviewers and the Slack app on many hosts.

Same guarantees as `SQLiteStore`, by the same means where they carry over:
- every write transaction of the decision path first locks one row (SQLite's
  ``BEGIN IMMEDIATE``; a row lock, so no session keeps it past its transaction), so conditional
  updates see the latest committed state, the first decisive vote wins, and the audit chain's
  head is read and extended by one writer at a time;
- a decision and its audit rows commit together (one transaction);
- migrations are versioned and a newer schema is refused (`postgres_schema.py`);
- waiters wake on ``LISTEN/NOTIFY`` with a slow poll as safety net (`postgres_listen.py`);
- the Slack outbox claims work with ``FOR UPDATE SKIP LOCKED`` (`postgres_notify.py`).

The key stays outside the database, as with SQLite: ``key``, else ``GUARDRAILS_AUDIT_KEY``, else
``key_file``. There is no file beside a server database, so one of them must be given. Every
host of a deployment uses the same key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from guardrails_plugin.clock import Clock, SystemClock
from guardrails_plugin.errors import ConfigError, SchemaVersionError, StoreError
from guardrails_plugin.store.audit import (
    GENESIS,
    Checkpoint,
    canonical_text,
    row_hash,
)
from guardrails_plugin.store.keyed_log import KeyedLogMixin
from guardrails_plugin.store.keying import Keying, check_meta, keying_meta
from guardrails_plugin.store.keys import KEY_ENV, HashKey
from guardrails_plugin.store.postgres_listen import ChangeFeed
from guardrails_plugin.store.postgres_notify import PgNotifyMixin
from guardrails_plugin.store.postgres_schema import (
    MIGRATE_LOCK,
    MIGRATIONS,
    TAKE_WRITE_LOCK,
    VERSION_TABLE,
)
from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Status, Vote
from guardrails_plugin.store.rows import (
    AUDIT_SELECT,
    dumps,
    request_row,
    request_updates,
    to_audit,
    to_request,
    to_vote,
)
from guardrails_plugin.store.urls import mask_url

__all__ = ["PostgresStore"]

log = logging.getLogger(__name__)

Conn = psycopg.Connection[dict[str, Any]]

_AUDIT_PAGE = 2000
# TAKE_WRITE_LOCK, and this transaction commits without waiting for the WAL flush.
_TAKE_WRITE_LOCK_FAST = (
    "SELECT one, set_config('synchronous_commit', 'off', true) FROM guardrails_lock FOR UPDATE"
)


class _PgTx:
    """One write transaction holding the write lock. Implements `StoreTx`."""

    def __init__(self, conn: Conn, clock: Clock, keying: Keying) -> None:
        self.conn = conn
        self.clock = clock
        self.keying = keying

    def _one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        return self.conn.execute(sql, params).fetchone()

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        row = self._one("SELECT * FROM requests WHERE id = %s", (request_id,))
        return to_request(row) if row else None

    def find_request(self, idempotency_key: str) -> ApprovalRequest | None:
        row = self._one("SELECT * FROM requests WHERE idempotency_key = %s", (idempotency_key,))
        return to_request(row) if row else None

    def insert_request(self, request: ApprovalRequest) -> None:
        row = request_row(request)
        names = sorted(row)
        self.conn.execute(
            f"INSERT INTO requests ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
            [row[n] for n in names],
        )

    def update_request(self, request_id: str, expect: Status, **changes: Any) -> bool:
        sets, params = request_updates(changes, "%s")
        cursor = self.conn.execute(
            f"UPDATE requests SET {', '.join(sets)} WHERE id = %s AND status = %s",
            (*params, request_id, str(expect)),
        )
        return cursor.rowcount == 1

    def count_pending(self, principal: str) -> int:
        row = self._one(
            "SELECT count(*) AS n FROM requests WHERE principal = %s AND status = 'pending'",
            (principal,),
        )
        return int(row["n"]) if row else 0

    def votes(self, request_id: str) -> list[Vote]:
        return _votes(self.conn, request_id)

    def request_events(self, request_id: str) -> list[AuditRecord]:
        rows = self.conn.execute(
            f"{AUDIT_SELECT} WHERE request_id = %s ORDER BY seq", (request_id,)
        ).fetchall()
        return [to_audit(row) for row in rows]

    def authentic(self, record: AuditRecord) -> bool:
        return self.keying.authentic(record)

    def insert_vote(self, vote: Vote) -> None:
        self.conn.execute(
            "INSERT INTO votes (request_id, revision, person, identity, channel, verdict, "
            "reason, edited_args, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                vote.request_id,
                vote.revision,
                vote.person,
                vote.identity,
                vote.channel,
                str(vote.verdict),
                vote.reason,
                dumps(vote.edited_args) if vote.edited_args is not None else None,
                vote.created_at,
            ),
        )

    def append_audit(
        self,
        event: str,
        *,
        request_id: str | None = None,
        actor: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        # The transaction holds WRITE_LOCK, so this head is the head until we commit: two
        # processes can never both extend row n (and the primary key would refuse it anyway).
        last = self._one("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", ())
        seq = (int(last["seq"]) if last else 0) + 1
        prev = str(last["hash"]) if last else GENESIS
        ts = self.clock.now()
        body = dict(data or {})
        text = canonical_text(body)
        if seq < self.keying.keyed_from:
            raise StoreError(
                f"audit row {seq} would precede the keyed chain, which begins at row "
                f"{self.keying.keyed_from}: the log was truncated; restore it from a backup"
            )
        digest = row_hash(
            prev, seq, ts, event, request_id, actor, body, data_text=text, key=self.keying.key
        )
        self.conn.execute(
            "INSERT INTO audit (seq, ts, event, request_id, actor, data, prev_hash, hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (seq, ts, event, request_id, actor, text, prev, digest),
        )
        return AuditRecord(seq, ts, event, request_id, actor, body, prev, digest)


def _votes(conn: Conn, request_id: str) -> list[Vote]:
    rows = conn.execute(
        "SELECT * FROM votes WHERE request_id = %s ORDER BY id", (request_id,)
    ).fetchall()
    return [to_vote(r) for r in rows]


class PostgresStore(PgNotifyMixin, KeyedLogMixin):
    """A `Store` on a PostgreSQL database, named by a ``postgresql://`` URL.

    ``pool_size`` bounds this process's connections (plus one for LISTEN); ``busy_timeout``
    bounds every wait for a connection or a lock, after which the call fails (and the guard
    denies). ``create=False`` refuses a database that has no store yet.
    """

    def __init__(
        self,
        url: str,
        *,
        key: bytes | None = None,
        key_file: str | os.PathLike[str] | None = None,
        busy_timeout: float = 5.0,
        clock: Clock | None = None,
        create: bool = True,
        pool_size: int = 4,
        safety_interval: float = 2.0,
    ) -> None:
        self.url = url
        # What messages and `store.path` show: never the password.
        self.path = mask_url(url)
        self.clock: Clock = clock or SystemClock()
        self.busy_timeout = busy_timeout
        self.key_file = Path(key_file) if key_file else None
        self._local = threading.local()
        self._pool: ConnectionPool[Conn] | None = None
        self._feed: ChangeFeed | None = None
        self._safety_interval = safety_interval
        _check_url(url, self.path)
        try:
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=max(1, pool_size),
                kwargs={"autocommit": True, "row_factory": dict_row},
                configure=self._configure,
                timeout=busy_timeout,
                name="guardrails",
                open=False,
            )
            with self._errors("open"):
                self._pool.open(wait=True, timeout=busy_timeout)
                version = self._version()
            if version == 0 and not create:
                raise StoreError(
                    f"no approval store in {self.path}: the database has no guardrails tables"
                )
            self._key = self._resolve_key(key, create=create and version == 0)
            with self._errors("open"):
                self._keying = self._migrate()
        except BaseException:
            self.close()
            raise

    # --- connections ---------------------------------------------------------------------------

    def _configure(self, conn: Conn) -> None:
        ms = int(self.busy_timeout * 1000)
        # Waits end (and deny) instead of hanging; a client stopped mid-transaction while it
        # holds the write lock is cut off by the server, so other hosts carry on.
        conn.execute(f"SET lock_timeout = {ms}")
        conn.execute("SET idle_in_transaction_session_timeout = 30000")

    def _resolve_key(self, key: bytes | None, *, create: bool) -> HashKey:
        if key is None and not os.environ.get(KEY_ENV) and self.key_file is None:
            raise ConfigError(
                f"a PostgreSQL store needs its audit key from outside the database: set "
                f"{KEY_ENV} (hex or base64, 32 bytes or more; the same on every host) or pass "
                "key_file"
            )
        return HashKey.resolve(key, self.key_file, create=create)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (psycopg.Error, PoolTimeout) as exc:
            detail = mask_url(str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
            log.error("store %s failed on %s: %s", what, self.path, detail)
            raise StoreError(f"approval store {self.path}: {what} failed: {detail}") from None

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Conn]:
        """This thread's transaction connection if it is inside one (reads see its writes),
        else a pooled connection."""
        current: Conn | None = getattr(self._local, "tx", None)
        if current is not None:
            yield current
            return
        if self._pool is None:
            raise StoreError(f"approval store {self.path} is closed")
        with self._pool.connection() as conn:
            yield conn

    def _version(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT to_regclass('guardrails_schema') AS t").fetchone()
            if row is None or row["t"] is None:
                return 0
            found = conn.execute("SELECT version FROM guardrails_schema").fetchone()
            return int(found["version"]) if found else 0

    def _migrate(self) -> Keying:
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            version = self._version()
            if version > len(MIGRATIONS):
                raise SchemaVersionError(
                    f"{self.path} has schema version {version}, newer than this "
                    f"guardrails-plugin understands ({len(MIGRATIONS)}); upgrade guardrails-plugin"
                )
            if version < len(MIGRATIONS):
                conn.execute(VERSION_TABLE)
                for script in MIGRATIONS[version:]:
                    conn.execute(script.encode())  # our own literal SQL (no parameters)
                if version == 0:
                    conn.cursor().executemany(
                        "INSERT INTO meta (name, value) VALUES (%s, %s)", keying_meta(self._key, 1)
                    )
                conn.execute(
                    "INSERT INTO guardrails_schema (one, version) VALUES (TRUE, %s) "
                    "ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version",
                    (len(MIGRATIONS),),
                )
            meta = {r["name"]: r["value"] for r in conn.execute("SELECT name, value FROM meta")}
            return check_meta(meta, self._key, self.path, self.key_file)

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[_PgTx]:
        """A write transaction holding the write lock; commits on success, rolls back on error.

        ``durable=False`` commits without waiting for the WAL flush (``synchronous_commit =
        off``): the rows survive a crash of this process, not of the database server.
        """
        if getattr(self._local, "tx", None) is not None:
            raise StoreError("nested store transactions are not supported")
        with self._errors("write"), self._conn() as conn, conn.transaction():
            # One round trip for both: the lock is what every other writer queues behind. A
            # durable transaction keeps the server's setting (which may be stronger than "on").
            conn.execute(TAKE_WRITE_LOCK if durable else _TAKE_WRITE_LOCK_FAST)
            self._local.tx = conn
            try:
                yield _PgTx(conn, self.clock, self._keying)
            finally:
                self._local.tx = None

    def reload_keying(self) -> None:
        """Re-read where keyed rows begin (after `transfer.copy_store` wrote the source's)."""
        with self._errors("open"):
            self._keying = self._migrate()

    # --- reads ---------------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._errors("read"), self._conn() as conn:
            return conn.execute(sql.encode(), params).fetchall()

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        rows = self._rows("SELECT * FROM requests WHERE id = %s", (request_id,))
        return to_request(rows[0]) if rows else None

    def resolve_id(self, prefix: str) -> str:
        if not prefix:
            raise KeyError("give a request id (or a unique prefix of one)")
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._rows(
            "SELECT id FROM requests WHERE id LIKE %s ESCAPE '\\' LIMIT 2", (pattern,)
        )
        if not rows:
            raise KeyError(f"no request id starts with {prefix!r}")
        if len(rows) > 1:
            raise KeyError(f"{prefix!r} matches several requests; give more characters")
        return str(rows[0]["id"])

    def list_requests(
        self, status: Status | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        if status is None:
            rows = self._rows("SELECT * FROM requests ORDER BY created_at DESC LIMIT %s", (limit,))
        else:
            rows = self._rows(
                "SELECT * FROM requests WHERE status = %s ORDER BY created_at DESC LIMIT %s",
                (str(status), limit),
            )
        return [to_request(r) for r in rows]

    def votes(self, request_id: str) -> list[Vote]:
        with self._errors("read"), self._conn() as conn:
            return _votes(conn, request_id)

    def statuses(self, request_ids: list[str]) -> dict[str, Status]:
        if not request_ids:
            return {}
        rows = self._rows(
            "SELECT id, status FROM requests WHERE id = ANY(%s)", (list(request_ids),)
        )
        return {row["id"]: Status(row["status"]) for row in rows}

    def settled(self, request_ids: list[str]) -> dict[str, ApprovalRequest]:
        if not request_ids:
            return {}
        rows = self._rows(
            "SELECT * FROM requests WHERE id = ANY(%s) AND status <> 'pending'",
            (list(request_ids),),
        )
        return {row["id"]: to_request(row) for row in rows}

    # --- waiting -------------------------------------------------------------------------------

    @property
    def changes(self) -> ChangeFeed:
        if self._feed is None:
            self._feed = ChangeFeed(self.url, safety_interval=self._safety_interval)
        return self._feed

    def change_token(self) -> int:
        return self.changes.token()

    def wait_for_change(self, token: int, timeout: float) -> int:
        """Block until `change_token` may differ from ``token`` (a NOTIFY, or the safety
        poll), or ``timeout`` seconds pass."""
        return self.changes.wait(token, timeout)

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` from the listener thread on every change; returns unsubscribe."""
        return self.changes.subscribe(callback)

    # --- audit ---------------------------------------------------------------------------------

    def audit_rows(self, since_seq: int = 0) -> Iterator[AuditRecord]:
        """Pages by sequence number: no cursor held open across the caller's work."""
        after = since_seq
        while True:
            page = self._rows(
                f"{AUDIT_SELECT} WHERE seq > %s ORDER BY seq LIMIT {_AUDIT_PAGE}", (after,)
            )
            for row in page:
                yield to_audit(row)
            if len(page) < _AUDIT_PAGE:
                return
            after = int(page[-1]["seq"])

    def audit_head(self) -> Checkpoint | None:
        rows = self._rows("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        return Checkpoint(int(rows[0]["seq"]), rows[0]["hash"]) if rows else None

    def iter_requests(self) -> Iterator[ApprovalRequest]:
        for row in self._rows("SELECT * FROM requests ORDER BY created_at, id"):
            yield to_request(row)

    def iter_votes(self) -> Iterator[Vote]:
        for row in self._rows("SELECT * FROM votes ORDER BY id"):
            yield to_vote(row)

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.close(timeout=2.0)


def _check_url(url: str, shown: str) -> None:
    """Refuse a URL libpq cannot parse before anything connects: psycopg_pool logs each failed
    attempt's libpq message, which quotes the broken part, password and all (issue 15 red team,
    F6); and "pool initialization incomplete" would hide the cause."""
    try:
        conninfo_to_dict(url)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        # libpq quotes what it could not parse, which may be the password: leave the quotes out.
        problem = mask_url(re.sub(r'"([^"]*)"', _hide_quoted, first))
        raise ConfigError(
            f"{shown} is not a valid PostgreSQL URL ({problem}): check the brackets around an "
            "IPv6 host and the percent-encoding of the user name and password (or leave the "
            "password out and use PGPASSWORD or ~/.pgpass)"
        ) from None


def _hide_quoted(match: re.Match[str]) -> str:
    return match.group(0) if len(match.group(1)) <= 2 else '"…"'  # keep '"]"', '"="'
