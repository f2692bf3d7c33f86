"""Reading a policy file's bytes without trusting what the path now is.

Whoever can write the policy folder can replace the file with a FIFO (an ``open`` that waits
for a writer forever), a symlink to ``/dev/zero`` (a read that never ends) or a huge file. A
guard reads its policy on the path of every call that notices a change, so a read must be
bounded: only regular files (symlinks to one are fine: Kubernetes config maps are symlinks),
opened non-blocking, checked on the opened descriptor (the path may be swapped between the
check and the open), at most ``MAX_FILE_BYTES`` + 1 bytes read.

A read also says which version of the file it read (`Stamp`, from the same descriptor before
and after the read), so the watcher compares later looks with the bytes actually parsed, and
the digest it audits is of exactly those bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_FILE_BYTES",
    "FileRead",
    "NotReadable",
    "Stamp",
    "bytes_digest",
    "read_policy_bytes",
    "stamp",
    "stamps",
]

MAX_FILE_BYTES = 1024 * 1024

# (device, inode, size, mtime ns, ctime ns) of one file; None when it cannot be stat'ed. The
# ctime cannot be set with utime, so a rewrite dated back still changes the stamp.
Stamp = tuple[int, int, int, int, int] | None

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class NotReadable(Exception):
    """Why a policy file's bytes were not read, as a sentence for a `PolicyProblem`."""


@dataclass(frozen=True)
class FileRead:
    """The bytes of one file and the version they are of."""

    data: bytes
    stamp: Stamp


def _stamp_of(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def stamp(name: str) -> Stamp:
    """The current version of the file at ``name`` (following symlinks); None if unreadable.
    A ``stat`` never opens the file, so it cannot block on a FIFO."""
    try:
        return _stamp_of(os.stat(name))
    except (OSError, ValueError):
        return None


def stamps(files: Iterable[str]) -> tuple[Stamp, ...]:
    return tuple(stamp(name) for name in files)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory, expected a YAML file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file; a policy must be a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file; a policy must be a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file; a policy must be a regular file"
    return "is not a regular file; a policy must be a regular file"


def _check(info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise NotReadable(_kind(info.st_mode))
    if info.st_size > limit:
        raise NotReadable(
            f"file is {info.st_size:,} bytes; policies are limited to {limit:,} bytes"
        )


def read_policy_bytes(name: str, limit: int = MAX_FILE_BYTES) -> FileRead:
    """The bytes of the regular file at ``name``, at most ``limit`` of them, and their stamp.

    Raises `NotReadable` (a sentence) for anything else: missing, not a regular file, over the
    limit, or changed while it was read (the caller tries again later)."""
    try:
        _check(os.stat(name), limit)  # before opening: never open a device or a FIFO at all
        fd = os.open(name, _FLAGS)
    except NotReadable:
        raise
    except FileNotFoundError:
        raise NotReadable("file not found") from None
    except OSError as exc:
        raise NotReadable(f"cannot read file: {exc.strerror or exc}") from None
    try:
        before = os.fstat(fd)
        _check(before, limit)  # the path may have been swapped since the stat
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # the file grew after the fstat
            raise NotReadable(f"file is over {limit:,} bytes")
        after = os.fstat(fd)
    except OSError as exc:
        raise NotReadable(f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if _stamp_of(before) != _stamp_of(after):
        raise NotReadable("file changed while it was read; try again")
    return FileRead(b"".join(chunks), _stamp_of(after))


def bytes_digest(parts: Sequence[bytes]) -> str:
    """SHA-256 over the files' bytes, in order (for one file: what ``sha256sum`` prints)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()
