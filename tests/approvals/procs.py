"""Child processes for the cross-process tests: ``python -m tests.approvals.procs CMD ...``.

Each opens its own store on the shared store (a SQLite file or a PostgreSQL URL), as separate
agent processes and the Slack app do. The key comes from GUARDRAILS_AUDIT_KEY; output is one
JSON object per line.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import ApprovalError
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.factory import open_store


def _broker(db: str, policy: str) -> ApprovalBroker:
    return ApprovalBroker(open_store(db), Policy.load(policy))


def _barrier(path: str) -> None:
    deadline = time.monotonic() + 60
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise SystemExit("barrier never opened")
        time.sleep(0.001)


def wait(db: str, policy: str, *request_ids: str) -> None:
    broker = _broker(db, policy)
    print(json.dumps({"ready": True}), flush=True)
    for request_id in request_ids:
        request = broker.wait(request_id)
        print(
            json.dumps({"id": request_id, "status": request.status.value, "woke": time.time()}),
            flush=True,
        )


def race(db: str, policy: str, barrier: str, identity: str, verdict: str, *ids: str) -> None:
    broker = _broker(db, policy)
    _barrier(barrier)
    for request_id in ids:
        try:
            result = broker.vote(request_id, identity, verdict, reason="race")
            outcome = {
                "id": request_id,
                "counted": result.counted,
                "status": result.request.status.value,
            }
        except ApprovalError as exc:
            outcome = {"id": request_id, "refused": type(exc).__name__}
        print(json.dumps(outcome), flush=True)


def churn(db: str, policy: str, identity: str, *ids: str) -> None:
    """Vote on request after request until killed."""
    broker = _broker(db, policy)
    print(json.dumps({"ready": True}), flush=True)
    for request_id in ids:
        with contextlib.suppress(ApprovalError):
            broker.vote(request_id, identity, "approve", revision=0)


def append(db: str, name: str, count: str) -> None:
    """Append audit rows one transaction at a time, printing each committed sequence number.
    PostgreSQL only. The test is about the chain, not lock timing: on a loaded machine six
    writers can queue on the write lock past the production 5 s, so these wait up to 60 s."""
    from guardrails_plugin.store.postgres import PostgresStore

    store = PostgresStore(db, busy_timeout=60)
    print(json.dumps({"ready": True}), flush=True)
    for i in range(int(count)):
        record = store.record_event("test.append", actor=name, data={"i": i})
        print(json.dumps({"seq": record.seq}), flush=True)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"wait": wait, "race": race, "churn": churn, "append": append}[command](*args)
