"""A throw-away PostgreSQL cluster for the test session (and the benchmarks).

`Cluster.start()` runs ``initdb`` and ``pg_ctl`` from the installed PostgreSQL (found on PATH or
under ``/usr/lib/postgresql/*/bin``) in a temporary folder, listening only on a unix socket in
that folder. Run as root (CI), the server runs as ``nobody``: PostgreSQL refuses to run as root.
The cluster trades durability for speed (``fsync=off``): it lives for one session.

In CI (``CI=true``) a missing PostgreSQL is an error, never a skip: see `missing_reason`.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cluster", "find_bin", "missing_reason"]


def find_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, newest version first."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def missing_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        return f"the postgres extra is not installed ({exc.name}): pip install -e '.[postgres]'"
    if find_bin() is None:
        return "PostgreSQL is not installed (no initdb/pg_ctl): apt-get install -y postgresql"
    return None


@dataclass
class Cluster:
    bindir: Path
    root: Path
    user: str | None  # the OS user the server runs as (None: the current one)
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def url(self, dbname: str = "postgres", user: str = "postgres", password: str = "") -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@/{dbname}?host={self.socket_dir}"

    @classmethod
    def start(cls) -> Cluster:
        bindir = find_bin()
        if bindir is None:
            raise RuntimeError("no PostgreSQL installation found (initdb, pg_ctl)")
        root = Path(tempfile.mkdtemp(prefix="guardrails-pg-"))
        user = "nobody" if os.geteuid() == 0 else None
        cluster = cls(bindir, root, user)
        cluster.socket_dir.mkdir()
        if user is not None:
            info = pwd.getpwnam(user)
            for path in (root, cluster.socket_dir):
                os.chown(path, info.pw_uid, info.pw_gid)
            os.chmod(root, 0o755)
        try:
            cluster._run(
                "initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
            )
            options = (
                f"-c listen_addresses='' -c unix_socket_directories={cluster.socket_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=300 -c shared_buffers=64MB"
            )
            cluster._run(
                "pg_ctl", "-D", str(cluster.data), "-l", str(root / "log"), "-o", options,
                "-w", "start",
            )  # fmt: skip
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        preexec = None
        if self.user is not None:
            info = pwd.getpwnam(self.user)

            def preexec() -> None:
                os.setgid(info.pw_gid)
                os.setuid(info.pw_uid)

        result = subprocess.run(
            command, preexec_fn=preexec, capture_output=True, text=True, cwd=self.root
        )
        if result.returncode != 0:
            log = self.root / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stderr or result.stdout}\n{tail}")

    def create_database(self) -> str:
        """A fresh, empty database; returns its superuser URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.split("/")[3].split("?")[0]
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.url(), autocommit=True) as conn,
        ):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
