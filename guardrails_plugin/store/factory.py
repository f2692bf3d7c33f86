"""Open the store a location names: SQLite for a path or ``sqlite:///…``, PostgreSQL for a
``postgresql://…`` URL. Every place that names a store (``--db``, ``GUARDRAILS_DB``,
``Guard.from_policy(store=…)``) comes through here, so the rest of the package never asks which.

Each backend's driver is imported only when its store is opened.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from guardrails_plugin.errors import ConfigError
from guardrails_plugin.store.urls import is_postgres, resolve_target

if TYPE_CHECKING:
    from guardrails_plugin.clock import Clock
    from guardrails_plugin.store.protocol import Store

__all__ = ["open_store"]


def open_store(
    target: str | os.PathLike[str] | None = None,
    *,
    key: bytes | None = None,
    key_file: str | os.PathLike[str] | None = None,
    clock: Clock | None = None,
    create: bool = True,
    upgrade: bool = False,
) -> Store:
    """The store at ``target`` (default ``$GUARDRAILS_DB``, then ``./guardrails.db``).

    ``create=False`` opens only an existing store (read-only tools: a new database or key could
    verify nothing). ``upgrade`` is SQLite's one-time keying of a pre-keyed audit log.
    """
    where = resolve_target(target)
    if isinstance(where, Path):
        from guardrails_plugin.store.sqlite import SQLiteStore

        return SQLiteStore(
            where, key=key, key_file=key_file, clock=clock, create=create, upgrade=upgrade
        )
    assert is_postgres(where)
    try:
        from guardrails_plugin.store.postgres import PostgresStore
    except ImportError as exc:
        raise ConfigError(
            f"a PostgreSQL store needs the postgres extra ({exc.name} is missing): "
            "pip install 'guardrails-plugin[postgres]'"
        ) from None
    return PostgresStore(where, key=key, key_file=key_file, clock=clock, create=create)
