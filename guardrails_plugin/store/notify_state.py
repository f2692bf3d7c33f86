"""Delivery state of notification channels (the Slack outbox), kept in the SQLite store.

Claims make posting exactly-once across app instances: a request or a run's thread is claimed
by one poster with a conditional write, released when the post fails, and re-claimable when a
poster died mid-post (stale). ``first_delivery`` remembers signed requests already handled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import sqlite_utils

    from guardrails_plugin.store.sqlite import _Tx

__all__ = ["NotifyMixin"]


class NotifyMixin:
    """Mixed into :class:`SQLiteStore`, which provides the three methods declared here."""

    if TYPE_CHECKING:

        def _errors(self, what: str) -> AbstractContextManager[None]: ...
        def transaction(self, *, durable: bool = True) -> AbstractContextManager[_Tx]: ...
        def _db(self, *, durable: bool = True) -> sqlite_utils.Database: ...

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
        with self._errors("claim"), self.transaction() as tx:
            cursor = tx.db.conn.execute(
                "UPDATE requests SET notify = json_set(notify, ?, json(?)) WHERE id = ? AND "
                "(json_extract(notify, ?) IS NULL OR (json_extract(notify, ?) = 'posting' AND "
                "json_extract(notify, ?) < ?))",
                (
                    f"$.{kind}",
                    claim,
                    request_id,
                    f"$.{kind}",
                    f"$.{kind}.state",
                    f"$.{kind}.at",
                    now - stale_after,
                ),
            )
            return cursor.rowcount == 1

    def set_notification(self, request_id: str, kind: str, data: Mapping[str, Any]) -> None:
        with self._errors("notify"), self.transaction() as tx:
            tx.db.conn.execute(
                "UPDATE requests SET notify = json_set(notify, ?, json(?)) WHERE id = ?",
                (f"$.{kind}", json.dumps(dict(data)), request_id),
            )

    def release_notification(self, request_id: str, kind: str, owner: str) -> None:
        """Give up a claim (the post failed), so the next pass tries again at once."""
        with self._errors("notify"), self.transaction() as tx:
            tx.db.conn.execute(
                "UPDATE requests SET notify = json_remove(notify, ?) WHERE id = ? AND "
                "json_extract(notify, ?) = 'posting' AND json_extract(notify, ?) = ?",
                (f"$.{kind}", request_id, f"$.{kind}.state", f"$.{kind}.owner", owner),
            )

    def release_thread(self, kind: str, run_id: str) -> None:
        with self._errors("notify"), self.transaction() as tx:
            tx.db.conn.execute(
                "DELETE FROM notify_threads WHERE channel_kind = ? AND run_id = ? "
                "AND state = 'posting'",
                (kind, run_id),
            )

    def claim_thread(self, kind: str, run_id: str, now: float, stale_after: float = 60.0) -> bool:
        """Claim opening the thread of ``run_id``: True for exactly one claimant."""
        with self._errors("claim"), self.transaction() as tx:
            conn = tx.db.conn
            inserted = conn.execute(
                "INSERT OR IGNORE INTO notify_threads (channel_kind, run_id, state, claimed_at) "
                "VALUES (?, ?, 'posting', ?)",
                (kind, run_id, now),
            ).rowcount
            if inserted:
                return True
            return (
                conn.execute(
                    "UPDATE notify_threads SET claimed_at = ? WHERE channel_kind = ? "
                    "AND run_id = ? AND state = 'posting' AND claimed_at < ?",
                    (now, kind, run_id, now - stale_after),
                ).rowcount
                == 1
            )

    def set_thread(self, kind: str, run_id: str, channel: str, ts: str) -> None:
        with self._errors("notify"), self.transaction() as tx:
            tx.db.conn.execute(
                "UPDATE notify_threads SET channel = ?, ts = ?, state = 'posted' "
                "WHERE channel_kind = ? AND run_id = ?",
                (channel, ts, kind, run_id),
            )

    def thread(self, kind: str, run_id: str) -> tuple[str, str] | None:
        with self._errors("read"):
            row = (
                self._db()
                .conn.execute(
                    "SELECT channel, ts FROM notify_threads WHERE channel_kind = ? AND run_id = ? "
                    "AND state = 'posted'",
                    (kind, run_id),
                )
                .fetchone()
            )
        return (row[0], row[1]) if row else None

    def posted_threads(self) -> list[tuple[str, str, str, str, float]]:
        """Every opened thread as (kind, run id, channel, ts, claimed at): what `db migrate`
        carries over, so an open run's next request joins its thread."""
        with self._errors("read"):
            rows = self._db().conn.execute(
                "SELECT channel_kind, run_id, channel, ts, claimed_at FROM notify_threads "
                "WHERE state = 'posted' ORDER BY channel_kind, run_id"
            )
            return [(str(a), str(b), str(c), str(d), float(e)) for a, b, c, d, e in rows]

    def first_delivery(self, key: str, now: float, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds (replays and retries)."""
        with self._errors("dedupe"), self.transaction() as tx:
            conn = tx.db.conn
            conn.execute("DELETE FROM notify_seen WHERE seen_at < ?", (now - ttl,))
            return (
                conn.execute(
                    "INSERT OR IGNORE INTO notify_seen (key, seen_at) VALUES (?, ?)", (key, now)
                ).rowcount
                == 1
            )
