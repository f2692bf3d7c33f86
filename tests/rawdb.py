"""Raw SQL on a test's store, below the store's API, as someone holding the database would.

SQLite: a plain connection to the file, with the append-only triggers dropped. PostgreSQL: a
superuser connection with triggers off (``session_replication_role = replica``). Statements are
written with ``?`` placeholders and translated for psycopg.
"""

from __future__ import annotations

import sqlite3
from typing import Any


class Raw:
    def __init__(self, store: Any) -> None:
        self.postgres = hasattr(store, "url")
        if self.postgres:
            import psycopg

            self.conn: Any = psycopg.connect(store.url, autocommit=True)
            self.conn.execute("SET session_replication_role = replica")
        else:
            self.conn = sqlite3.connect(store.path, isolation_level=None)
            for name in (
                "audit_no_update",
                "audit_no_delete",
                "votes_no_update",
                "votes_no_delete",
                "requests_no_delete",
            ):
                self.conn.execute(f"DROP TRIGGER IF EXISTS {name}")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self.postgres:
            sql = sql.replace("%", "%%").replace("?", "%s")
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def raw(store: Any) -> Raw:
    return Raw(store)
