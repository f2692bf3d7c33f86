"""What a waiting agent says in its log: which request waits, who may decide it, and the
commands that do, ready to paste.

An agent that blocks on an approval looks hung to whoever runs it; one INFO line tells them
where the decision is made. The line holds the request's id, tool, rule, approvers and expiry,
never an argument value (the log is not the audit trail: it is shipped and kept elsewhere).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shlex
from pathlib import Path
from typing import Any

from guardrails_plugin.store.records import ApprovalRequest
from guardrails_plugin.store.urls import is_postgres, without_password

__all__ = ["decide_commands", "log_waiting"]

log = logging.getLogger(__name__)

# A group of 300 people makes a useless log line; the first few say who to ask.
_MAX_PEOPLE = 8


def decide_commands(request: ApprovalRequest, db: str | os.PathLike[str] | None) -> dict[str, str]:
    """The CLI commands that review, approve and deny ``request``, naming the store by its
    absolute path (the reviewer's shell is rarely in the agent's folder), or a PostgreSQL store
    by its URL without the password."""
    where = ""
    if db is not None and is_postgres(os.fspath(db)):
        where = f" --db {shlex.quote(without_password(os.fspath(db)))}"
    elif db is not None:
        where = f" --db {shlex.quote(os.path.abspath(db))}"
    rid = shlex.quote(request.id)
    return {
        "review": f"guardrails-plugin show {rid}{where}",
        "approve": f"guardrails-plugin approve {rid} --revision {request.revision} "
        f'--reason "why you approve"{where}',
        "deny": f'guardrails-plugin deny {rid} --reason "why you deny"{where}',
    }


def _approvers(request: ApprovalRequest) -> str:
    people = sorted(request.approvers)
    shown = [f"{p} ({', '.join(request.approvers[p])})" for p in people[:_MAX_PEOPLE]]
    if len(people) > _MAX_PEOPLE:
        shown.append(f"and {len(people) - _MAX_PEOPLE} more")
    named = ", ".join(request.approver_sources) or "the policy"
    return f"{request.quorum} of {named}: {'; '.join(shown) or 'nobody'}"


def log_waiting(request: ApprovalRequest, store: Any) -> None:
    """Log (INFO) that a call waits for ``request``. ``store`` names the database in the
    commands when it has a ``path`` (SQLite)."""
    if not log.isEnabledFor(logging.INFO):
        return
    path = getattr(store, "path", None)
    commands = decide_commands(request, path if isinstance(path, str | Path) else None)
    expires = dt.datetime.fromtimestamp(request.expires_at, dt.UTC).isoformat(timespec="seconds")
    log.info(
        "tool call %r waits for approval request %s (rule %s) until %s; approvers: %s. "
        "review: %s; approve: %s; deny: %s",
        request.tool,
        request.id,
        f"'{request.rule_id}'" if request.rule_id else "policy default",
        expires.replace("+00:00", "Z"),
        _approvers(request),
        commands["review"],
        commands["approve"],
        commands["deny"],
        extra={"guardrails_request_id": request.id, "guardrails_tool": request.tool},
    )
