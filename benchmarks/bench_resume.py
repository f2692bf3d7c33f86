"""Cross-process resume latency: a waiter in one process, votes from another.

    .venv/bin/python benchmarks/bench_resume.py [--decisions 60] [--async-waiters 200]
        [--postgres URL | --no-postgres]

Runs on SQLite and, in the same run, on PostgreSQL: the database at ``--postgres URL`` (it must
be empty), else a throw-away cluster started from the installed server binaries
(tests/pg_cluster.py). On PostgreSQL waiters block on LISTEN/NOTIFY instead of polling.

Sync: a child process blocks in `ApprovalBroker.wait` on each request in turn; this process
votes 20-50 ms apart and the child reports when it woke. Async: a child process awaits
`wait_async` on many requests at once (one shared watcher task); this process approves them one
by one. Latency is measured from the moment the vote call starts (it includes the vote's own
IMMEDIATE transaction and fsync) to the waiter waking, on the same clock (time.time()).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from guardrails_plugin import __version__
from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.factory import open_store
from guardrails_plugin.types import Principal, ToolCall

POLICY = """
version: 1
defaults: {effect: require_approval, approval: {approvers: [ops], timeout: 1h}}
people: {alice: [cli:alice], bob: [cli:bob]}
groups: {ops: [alice, bob]}
"""


def child(mode: str, db: str, policy: str, ids: list[str]) -> None:
    broker = ApprovalBroker(open_store(db), Policy.load(policy))
    print(json.dumps({"ready": True}), flush=True)
    if mode == "sync":
        for request_id in ids:
            broker.wait(request_id)
            print(json.dumps({"id": request_id, "woke": time.time()}), flush=True)
        return

    async def one(request_id: str) -> None:
        await broker.wait_async(request_id)
        print(json.dumps({"id": request_id, "woke": time.time()}), flush=True)

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in ids))

    asyncio.run(main())


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def run(mode: str, count: int, tmp: Path, url: str | None) -> dict[str, float]:
    db, policy_file = url or str(tmp / f"{mode}.db"), tmp / "policy.yaml"
    policy_file.write_text(POLICY)
    store = open_store(db)
    broker = ApprovalBroker(store, Policy.load(policy_file), max_pending_per_principal=count + 1)
    ids = []
    for i in range(count):
        call = ToolCall("deploy", {"n": i}, call_id=f"{mode}-{i}", principal=Principal("agent:b"))
        ids.append(broker.request(call, broker.policy.evaluate(call), masked_args={"n": i}).id)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, str(db), str(policy_file), *ids],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    json.loads(proc.stdout.readline())
    time.sleep(0.3)  # let the async child register every waiter
    started: dict[str, float] = {}
    vote_ms: list[float] = []
    rng = random.Random(1)
    woke: dict[str, float] = {}
    for request_id in ids:
        time.sleep(rng.uniform(0.02, 0.05))
        started[request_id] = time.time()
        broker.vote(request_id, "cli:alice", "approve", revision=0)
        vote_ms.append((time.time() - started[request_id]) * 1000)
        if mode == "sync":
            line = json.loads(proc.stdout.readline())
            woke[line["id"]] = line["woke"]
    for line in proc.stdout:
        data = json.loads(line)
        woke[data["id"]] = data["woke"]
    proc.wait(timeout=60)
    store.close()
    latencies = [(woke[i] - started[i]) * 1000 for i in ids]
    return {
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "vote_p50": statistics.median(vote_ms),
    }


def _psycopg_version() -> str:
    try:
        import psycopg

        return str(psycopg.__version__)
    except ImportError:
        return "(not installed)"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=60)
    parser.add_argument("--async-waiters", type=int, default=200)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database")
    parser.add_argument("--no-postgres", action="store_true")
    opts = parser.parse_args()
    os.environ.setdefault("GUARDRAILS_AUDIT_KEY", "42" * 32)
    print(
        f"guardrails-plugin {__version__}, Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {platform.machine()} {platform.system()}, poll 10 ms, "
        f"synchronous=FULL; PostgreSQL via psycopg {_psycopg_version()}"
    )
    cluster = None
    databases: list[str | None] = [None]
    if not opts.no_postgres:
        if opts.postgres:
            databases.append(opts.postgres)
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests.pg_cluster import Cluster

            cluster = Cluster.start()
            databases.append("cluster")
    print(f"{'scenario':54} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'vote p50 ms':>12}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for database in databases:
                for mode, count, label in (
                    ("sync", opts.decisions, f"sync wait, {opts.decisions} decisions"),
                    ("async", opts.async_waiters, f"async, {opts.async_waiters} waiters"),
                ):
                    url = cluster.create_database() if database == "cluster" else database
                    if url and cluster is None and mode == "async":
                        break  # a given database is used once: it must start empty
                    name = "PostgreSQL, NOTIFY" if url else "SQLite, poll 10 ms"
                    r = run(mode, count, Path(tmp), url)
                    print(
                        f"{name + ': ' + label:54} {r['p50']:8.2f} {r['p99']:8.2f} "
                        f"{r['max']:8.2f} {r['vote_p50']:12.2f}"
                    )
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
