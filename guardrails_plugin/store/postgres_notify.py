"""Delivery state of notification channels (the Slack outbox) on PostgreSQL.

The same claims as SQLite's `notify_state.py`, so several Slack app instances post each request
once. These short transactions write no audit rows and so skip the store's write lock: a claim
locks only its request's row, with ``FOR UPDATE SKIP LOCKED``, so an instance that finds the row
being claimed by another moves on at once instead of queueing behind it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    Conn = psycopg.Connection[dict[str, Any]]

__all__ = ["PgNotifyMixin"]


class PgNotifyMixin:
    """Mixed into `PostgresStore`, which provides the two methods declared here."""

    if TYPE_CHECKING:

        def _errors(self, what: str) -> AbstractContextManager[None]: ...
        def _conn(self) -> AbstractContextManager[Conn]: ...

    def _short(self, what: str) -> AbstractContextManager[Conn]:
        import contextlib

        @contextlib.contextmanager
        def run() -> Iterator[Conn]:
            with self._errors(what), self._conn() as conn, conn.transaction():
                yield conn

        return run()

    def claim_notification(
        self,
        request_id: str,
        kind: str,
        owner: str,
        now: float,
        stale_after: float = 60.0,
    ) -> bool:
        """Claim posting ``request_id`` to channel ``kind``: True for exactly one claimant, until
        the claim goes stale (its poster died mid-post)."""
        claim = json.dumps({"state": "posting", "owner": owner, "at": now})
        with self._short("claim") as conn:
            cursor = conn.execute(
                "UPDATE requests SET notify = jsonb_set(notify::jsonb, ARRAY[%(k)s], "
                "%(claim)s::jsonb)::text WHERE id = ("
                "  SELECT id FROM requests WHERE id = %(id)s AND ("
                "    notify::jsonb -> %(k)s IS NULL OR ("
                "      notify::jsonb #>> ARRAY[%(k)s, 'state'] = 'posting' AND "
                "      (notify::jsonb #>> ARRAY[%(k)s, 'at'])::float8 < %(stale)s))"
                "  FOR UPDATE SKIP LOCKED)",
                {"k": kind, "claim": claim, "id": request_id, "stale": now - stale_after},
            )
            return cursor.rowcount == 1

    def set_notification(self, request_id: str, kind: str, data: Mapping[str, Any]) -> None:
        with self._short("notify") as conn:
            conn.execute(
                "UPDATE requests SET notify = jsonb_set(notify::jsonb, ARRAY[%s], "
                "%s::jsonb)::text WHERE id = %s",
                (kind, json.dumps(dict(data)), request_id),
            )

    def release_notification(self, request_id: str, kind: str, owner: str) -> None:
        """Give up a claim (the post failed), so the next pass tries again at once."""
        with self._short("notify") as conn:
            conn.execute(
                "UPDATE requests SET notify = (notify::jsonb - %(k)s)::text WHERE id = %(id)s "
                "AND notify::jsonb #>> ARRAY[%(k)s, 'state'] = 'posting' "
                "AND notify::jsonb #>> ARRAY[%(k)s, 'owner'] = %(owner)s",
                {"k": kind, "id": request_id, "owner": owner},
            )

    def release_thread(self, kind: str, run_id: str) -> None:
        with self._short("notify") as conn:
            conn.execute(
                "DELETE FROM notify_threads WHERE channel_kind = %s AND run_id = %s "
                "AND state = 'posting'",
                (kind, run_id),
            )

    def claim_thread(self, kind: str, run_id: str, now: float, stale_after: float = 60.0) -> bool:
        """Claim opening the thread of ``run_id``: True for exactly one claimant."""
        with self._short("claim") as conn:
            inserted = conn.execute(
                "INSERT INTO notify_threads (channel_kind, run_id, state, claimed_at) "
                "VALUES (%s, %s, 'posting', %s) ON CONFLICT DO NOTHING",
                (kind, run_id, now),
            ).rowcount
            if inserted:
                return True
            return (
                conn.execute(
                    "UPDATE notify_threads SET claimed_at = %s WHERE channel_kind = %s "
                    "AND run_id = %s AND state = 'posting' AND claimed_at < %s",
                    (now, kind, run_id, now - stale_after),
                ).rowcount
                == 1
            )

    def set_thread(self, kind: str, run_id: str, channel: str, ts: str) -> None:
        with self._short("notify") as conn:
            conn.execute(
                "UPDATE notify_threads SET channel = %s, ts = %s, state = 'posted' "
                "WHERE channel_kind = %s AND run_id = %s",
                (channel, ts, kind, run_id),
            )

    def thread(self, kind: str, run_id: str) -> tuple[str, str] | None:
        with self._errors("read"), self._conn() as conn:
            row = conn.execute(
                "SELECT channel, ts FROM notify_threads WHERE channel_kind = %s AND run_id = %s "
                "AND state = 'posted'",
                (kind, run_id),
            ).fetchone()
        return (row["channel"], row["ts"]) if row else None

    def first_delivery(self, key: str, now: float, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds (replays and retries)."""
        with self._short("dedupe") as conn:
            conn.execute("DELETE FROM notify_seen WHERE seen_at < %s", (now - ttl,))
            return (
                conn.execute(
                    "INSERT INTO notify_seen (key, seen_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    (key, now),
                ).rowcount
                == 1
            )
