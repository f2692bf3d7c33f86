"""Shared pieces of the attack tests: a guard over a real SQLite file, and a canary scanner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY


class SpyTool:
    """Counts executions and records the arguments it got."""

    def __init__(self, result: Any = "ok") -> None:
        self.runs: list[dict[str, Any]] = []
        self.result = result

    def __call__(self, args: dict[str, Any]) -> Any:
        self.runs.append(args)
        return self.result


@pytest.fixture
def make_guard(tmp_path: Path) -> Iterator[Callable[..., Guard]]:
    """``make_guard(policy_yaml, **guard_kwargs)``: a guard on ``tmp_path/guard.db``."""
    stores: list[SQLiteStore] = []

    def _make(policy: str, *, ner: bool = False, **kwargs: Any) -> Guard:
        store = SQLiteStore(tmp_path / "guard.db", key=KEY)
        stores.append(store)
        kwargs.setdefault("principal", "agent:bot")
        kwargs.setdefault("masker", Masker(ner=ner))
        return Guard(Policy.from_string(policy), store, **kwargs)

    yield _make
    for store in stores:
        store.close()


def stored_bytes(db: Path) -> bytes:
    """Everything SQLite keeps for a database: the file, its WAL and shared memory."""
    out = b""
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            out += path.read_bytes()
    return out
