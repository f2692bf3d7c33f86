"""What the guard adds to one allowed tool call, next to LangChain's own ``tool.invoke``.

    .venv/bin/python benchmarks/bench_guard.py [--calls 2000]

Small JSON arguments and output, warm caches, a real SQLite store in a temp folder. The guard's
work per call: scan the arguments, evaluate the policy, mask the arguments, write the
``call.evaluated`` audit row, run the tool, mask the output, write the ``tool.executed`` row.
Audit rows on the allow path commit in WAL without fsync (durable against a crash of the
process); decisions are fully synced. Reported as mean microseconds per call and the ratio of
the guard's added cost to the cost of ``tool.invoke`` itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.tools import tool

from guardrails_plugin import __version__
from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.langchain import guard_tool
from guardrails_plugin.policy import Policy

POLICY = """
version: 1
defaults: {effect: require_approval, approval: {approvers: [ops]}}
people: {a: [cli:a], b: [cli:b]}
groups: {ops: [a, b]}
rules:
  - {id: no-drop, match: {tool: drop_table}, effect: deny}
  - {id: reads, match: {tool: ["get_*", "lookup_*"]}, effect: allow}
"""


def timed(fn: Callable[[], Any], calls: int, rounds: int = 5) -> float:
    """Median over rounds of the mean microseconds per call."""
    for _ in range(50):
        fn()
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    opts = parser.parse_args()
    os.environ.setdefault("GUARDRAILS_AUDIT_KEY", "42" * 32)

    @tool
    def lookup_order(order_id: int, region: str) -> dict[str, Any]:
        """Look up an order."""
        return {"order_id": order_id, "status": "shipped", "region": region, "items": 3}

    with tempfile.TemporaryDirectory() as tmp:
        guard = Guard.from_policy(
            Policy.from_string(POLICY), store=Path(tmp) / "g.db", principal="agent:bench"
        )
        guarded = guard_tool(lookup_order, guard)
        args = {"order_id": 1234567, "region": "eu-west-1"}
        run = guard.run("bench")
        raw = timed(lambda: lookup_order.invoke(args), opts.calls)
        core = timed(
            lambda: guard.call("lookup_order", args, lambda a: lookup_order.func(**a), run=run),
            opts.calls,
        )
        wrapped = timed(lambda: guarded.invoke(args), opts.calls)
        # Without the row written before the tool runs (one commit per call instead of two).
        guard.record_intent = False
        wrapped_no_intent = timed(lambda: guarded.invoke(args), opts.calls)
        rows = sum(1 for _ in guard.store.audit_rows())
    print(
        f"guardrails-plugin {__version__}, Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {platform.machine()} {platform.system()}, "
        f"{opts.calls} calls x 5 rounds (median of means)"
    )
    print(f"{'path':54} {'µs/call':>9}")
    print(f"{'tool.invoke (LangChain alone)':54} {raw:9.1f}")
    print(f"{'guard.call around the bare function (guard alone)':54} {core:9.1f}")
    print(f"{'guard_tool(tool).invoke (LangChain + guard)':54} {wrapped:9.1f}")
    print(f"{'  same, record_intent=False (one commit per call)':54} {wrapped_no_intent:9.1f}")
    for label, total in (("default", wrapped), ("record_intent=False", wrapped_no_intent)):
        added = total - raw
        print(
            f"{label}: guard adds {added:.1f} µs per call; "
            f"ratio added / tool.invoke = {added / raw:.2f}"
        )
    print(f"({rows:,} audit rows written)")


if __name__ == "__main__":
    main()
