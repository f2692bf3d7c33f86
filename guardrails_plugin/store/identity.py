"""Is the file at the store's path still the one its connections write to?

An open SQLite connection keeps writing to its file after the file (or its folder) is deleted or
replaced: commits succeed, and nobody ever reads them. The store captures the (device, inode) of
the database and of its WAL when it opens, and checks both before each write transaction. While
any connection of the store is open, SQLite never deletes the WAL itself, so a changed WAL means
someone else removed it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from guardrails_plugin.errors import StoreError

__all__ = ["FileIdentity"]

FileId = tuple[int, int]


def _file_id(path: str) -> FileId | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_dev, info.st_ino)


def _describe(found: FileId | None) -> str:
    return "no file" if found is None else f"device {found[0]} inode {found[1]}"


@dataclass(frozen=True)
class FileIdentity:
    db: FileId | None
    wal: FileId | None

    @classmethod
    def capture(cls, path: Path) -> FileIdentity:
        return cls(_file_id(str(path)), _file_id(f"{path}-wal"))

    def check(self, path: Path) -> None:
        """Raise `StoreError` if the database or its WAL was deleted or replaced.

        Two ``stat`` calls per write transaction (about 2 µs)."""
        name = str(path)
        db = _file_id(name)
        wal = _file_id(f"{name}-wal") if self.wal is not None else None
        if self.db is not None and db == self.db and wal == self.wal:
            return
        now = FileIdentity(db, _file_id(f"{name}-wal"))
        expected: FileId | None
        found: FileId | None
        if self.db is not None and now.db == self.db:
            what, expected, found = f"{path}-wal", self.wal, now.wal
        else:
            what, expected, found = str(path), self.db, now.db
        raise StoreError(
            f"approval store {path}: {what} was deleted or replaced while the store was open "
            f"(opened {_describe(expected)}, now {_describe(found)}); refusing to write to a "
            "file nobody will read. Restore the file, or restart the process against the store "
            "it should use."
        )
