"""Sustained throughput of one store shared by 8 processes, on SQLite and on PostgreSQL.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_throughput.py [--processes 8] [--seconds 5]
        [--postgres URL | --no-postgres] [--only-allowed]

Three phases, each with ``--processes`` worker processes started together (a barrier file) and
running for ``--seconds``:

- allowed calls: each process is an agent app with its own `Guard` (``record_intent=True``, the
  default: a ``call.evaluated`` row before the tool runs and a ``tool.executed`` row after), in
  a loop of allowed calls to a trivial tool;
- approval requests: each agent creates approval requests (the request row and its
  ``request.created`` audit row, committed and flushed together) through its guard's broker;
- votes: each process is a reviewer approving its share of the requests phase 2 left pending
  (the vote, the decision and their audit rows in one transaction).

Throughput is the operations all processes completed divided by the wall time from the first
start to the last finish. SQLite is a file in a temporary folder; PostgreSQL the database at
``--postgres URL`` (it must be empty), else a throw-away cluster started from the installed
server binaries (tests/pg_cluster.py, ``fsync=off``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model, version

POLICY = """
version: 1
defaults: {effect: allow}
people: {alice: [cli:alice], bob: [cli:bob]}
groups: {ops: [alice, bob]}
rules:
  - {id: deploys, match: {tool: deploy}, effect: require_approval,
     approval: {approvers: [ops], timeout: 1h}}
"""


def _barrier(path: str) -> None:
    while not Path(path).exists():
        time.sleep(0.001)


def child(phase: str, db: str, policy: str, barrier: str, seconds: str, me: str, *ids: str) -> None:
    from guardrails_plugin.guard import Guard
    from guardrails_plugin.types import ToolCall

    guard = Guard.from_policy(policy, store=db, principal=f"agent:{me}", watch_policy=False)
    guard.broker.max_pending = 10_000_000
    run = guard.run(f"run-{me}")
    done: list[str] = []
    print(json.dumps({"ready": True}), flush=True)
    _barrier(barrier)
    start = time.time()
    stop = start + float(seconds)
    n = 0
    if phase == "allowed":
        args = {"order_id": 1234567, "region": "eu-west-1"}
        while time.time() < stop:
            outcome = guard.call("lookup_order", args, lambda a: {"status": "shipped"}, run=run)
            assert outcome.allowed
            n += 1
    elif phase == "requests":
        while time.time() < stop:
            call = ToolCall("deploy", {"n": n}, f"{me}-{n}", run.run_id, guard.principal)
            decision = guard.policy.evaluate(call)
            done.append(guard.broker.request(call, decision, masked_args={"n": n}).id)
            n += 1
    else:
        for request_id in ids:
            if time.time() >= stop:
                break
            guard.broker.vote(request_id, "cli:alice", "approve", revision=0)
            n += 1
    end = time.time()
    print(json.dumps({"n": n, "start": start, "end": end, "ids": done}), flush=True)
    guard.store.close()


def phase(name: str, db: str, tmp: Path, opts: argparse.Namespace, shares: list[list[str]]) -> Any:
    barrier = tmp / f"go-{name}-{time.monotonic_ns()}"
    common = [name, db, str(tmp / "policy.yaml"), str(barrier), str(opts.seconds)]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", *common, f"p{i}", *shares[i]],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(opts.processes)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline()) == {"ready": True}
    barrier.touch()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=opts.seconds * 20 + 120)
        if proc.returncode != 0:
            raise SystemExit(f"a {name} worker failed (exit {proc.returncode})")
        results.append(json.loads(out.splitlines()[-1]))
    total = sum(r["n"] for r in results)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    return total / wall, total, [r["ids"] for r in results]


def run_backend(db: str, tmp: Path, opts: argparse.Namespace) -> dict[str, tuple[float, int]]:
    from guardrails_plugin.store.factory import open_store

    open_store(db).close()  # create it (and its key) before the workers race to
    none: list[list[str]] = [[] for _ in range(opts.processes)]
    allowed = phase("allowed", db, tmp, opts, none)
    if opts.only_allowed:
        return {"allowed calls/s (intent rows)": allowed[:2]}
    requests = phase("requests", db, tmp, opts, none)
    pending = [i for ids in requests[2] for i in ids]
    shares = [pending[i :: opts.processes] for i in range(opts.processes)]
    # Ids go to the workers on their command lines; keep each share within a safe length.
    shares = [share[:4000] for share in shares]
    votes = phase("votes", db, tmp, opts, shares)
    return {
        "allowed calls/s (intent rows)": allowed[:2],
        "approval requests/s": requests[:2],
        "votes/s (each decides)": votes[:2],
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--only-allowed", action="store_true", help="skip requests and votes")
    opts = parser.parse_args()
    os.environ.setdefault("GUARDRAILS_AUDIT_KEY", "42" * 32)
    cluster = None
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "policy.yaml").write_text(POLICY)
        backends: list[tuple[str, str]] = [("SQLite (WAL)", str(tmp / "g.db"))]
        try:
            if not opts.no_postgres:
                url = opts.postgres
                if url is None:
                    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
                    from tests.pg_cluster import Cluster

                    cluster = Cluster.start()
                    url = cluster.create_database()
                backends.append((f"PostgreSQL {_server_version(url)}", url))
            print(
                f"guardrails-plugin {version('guardrails-plugin')}, Python "
                f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, psycopg "
                f"{version('psycopg')}, psycopg-pool {version('psycopg-pool')}; "
                f"{os.cpu_count()} x {cpu_model()}, {platform.system()}; "
                f"{opts.processes} processes x {opts.seconds:g} s per phase"
            )
            print(f"{'backend':22} {'phase':32} {'ops/s':>9} {'ops':>8}")
            for name, db in backends:
                for label, (rate, total) in run_backend(db, tmp, opts).items():
                    print(f"{name:22} {label:32} {rate:9.1f} {total:8d}")
        finally:
            if cluster is not None:
                cluster.stop()


def _server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


if __name__ == "__main__":
    main()
