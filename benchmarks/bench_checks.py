"""What the issue 11 checks cost: a policy regex on RE2, the `sql` operator, an execution claim
proven by the keyed audit log.

    .venv/bin/python benchmarks/bench_checks.py [--claims 300]

Policy evaluation through `Policy.evaluate` (the guard's path); claims through
`ApprovalBroker.claim_execution` on a real SQLite store whose requests were approved by votes.
Python's `re` is timed on the same catastrophic pattern at growing sizes, for comparison, and
stopped well before it gets slow.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model, version  # benchmarks/ is sys.path[0]

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall

POLICY = r"""
version: 1
defaults: {effect: allow}
people: {bob: [cli:bob]}
groups: {ops: [bob]}
rules:
  - id: catastrophic
    match: {tool: echo, args: {text: {regex: "(a+)+$"}}}
    effect: deny
  - id: writes
    match: {tool: run_sql, args: {query: {sql: {any: [insert, update, delete, drop]}}}}
    effect: deny
  - id: gated
    match: {tool: export}
    effect: require_approval
    approval: {approvers: [ops]}
"""


def per_call(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    """Median of 5 rounds of the mean seconds per call."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - start) / n)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=300)
    opts = parser.parse_args()
    policy = Policy.from_string(POLICY)
    print(
        f"Python {platform.python_version()}, google-re2 {version('google-re2')}, sqlglot "
        f"{version('sqlglot')}, {cpu_model()}"
    )

    call = ToolCall("echo", {"text": "a" * 40 + "b"})
    took = per_call(lambda: policy.evaluate(call), 2000) * 1e6
    print(f"regex (a+)+$ on 41 chars, RE2 via Policy.evaluate: {took:.1f} µs")
    for n in (16, 18, 20, 22):
        start = time.perf_counter()
        re.search(r"(a+)+$", "a" * n + "b")
        took = (time.perf_counter() - start) * 1e3
        print(f"  same pattern on Python re, {n + 1} chars: {took:.1f} ms")

    counter = iter(range(10**9))

    def fresh_query() -> None:
        query = f"SELECT a FROM t WHERE id = {next(counter)}"
        policy.evaluate(ToolCall("run_sql", {"query": query}))

    same = ToolCall("run_sql", {"query": "SELECT a FROM t WHERE id = 1"})
    print(f"sql operator, a new query each call: {per_call(fresh_query, 50) * 1e3:.2f} ms")
    took = per_call(lambda: policy.evaluate(same), 2000) * 1e6
    print(f"sql operator, the same query (cached): {took:.1f} µs")
    query = "SELECT " + ", ".join(f"c{i}" for i in range(1250)) + " FROM t"  # under the cap
    start = time.perf_counter()
    policy.evaluate(ToolCall("run_sql", {"query": query}))
    took = (time.perf_counter() - start) * 1e3
    print(f"sql operator, one new {len(query):,}-char query: {took:.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "g.db", key=b"k" * 32)
        broker = ApprovalBroker(store, policy)
        ids = []
        for i in range(opts.claims):
            c = ToolCall("export", {"n": i}, f"c{i}", "run", Principal("agent:bench"))
            request = broker.request(c, policy.evaluate(c), masked_args={"n": i})
            broker.vote(request.id, "cli:bob", "approve", revision=0)
            ids.append(request.id)
        start = time.perf_counter()
        for i, request_id in enumerate(ids):
            broker.claim_execution(request_id, "export", {"n": i})
        elapsed = (time.perf_counter() - start) / len(ids)
        store.close()
    print(
        f"execution claim proven by the audit log ({opts.claims} requests): {elapsed * 1e6:.0f} µs"
    )


if __name__ == "__main__":
    sys.exit(main())
