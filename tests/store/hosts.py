"""Agent hosts for the multi-host simulation: ``python -m tests.store.hosts CMD ...``.

Each is a separate process that logs in to the shared PostgreSQL server with its own role (the
agent role: it may request, never vote). The key comes from GUARDRAILS_AUDIT_KEY; output is one
JSON object per line.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.guard import Guard
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.factory import open_store
from guardrails_plugin.types import Principal, ToolCall

_out = threading.Lock()


def _say(**fields: Any) -> None:
    with _out:
        print(json.dumps(fields), flush=True)


def agent(url: str, policy: str, name: str, count: str) -> None:
    """An agent app: ``count`` guarded ``restart`` calls at once, each waiting for its verdict.
    Prints ``ran`` from inside the tool (so a double execution would print twice) and each
    call's outcome."""
    guard = Guard.from_policy(policy, store=url, principal=f"agent:{name}")
    run = guard.run(f"run-{name}")

    def one(i: int) -> None:
        def tool(args: dict[str, Any]) -> str:
            _say(ran=args["service"])
            return "restarted"

        outcome = guard.call(
            "restart", {"service": f"{name}-{i}"}, tool, call_id=f"{name}-{i}", run=run
        )
        _say(call=f"{name}-{i}", request=outcome.request_id, allowed=outcome.allowed)

    _say(ready=True)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(int(count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def spam(url: str, policy: str, name: str, count: str) -> None:
    """Create approval requests one transaction after another (until killed)."""
    loaded = Policy.load(policy)
    broker = ApprovalBroker(open_store(url), loaded, max_pending_per_principal=1_000_000)
    _say(ready=True)
    for i in range(int(count)):
        call = ToolCall(
            "restart", {"service": f"{name}-{i}"}, f"{name}-{i}", f"run-{name}", Principal(name)
        )
        request = broker.request(call, loaded.evaluate(call), masked_args=dict(call.args))
        _say(request=request.id)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"agent": agent, "spam": spam}[command](*args)
