"""Which agent run a LangChain call belongs to: the thread id when the caller gave one."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from guardrails_plugin.guard import Guard, RunContext

__all__ = ["run_for"]


def run_for(guard: Guard, config: Mapping[str, Any] | None) -> RunContext:
    """The guard's run for this config: ``configurable.thread_id`` (LangGraph's conversation
    id), so placeholders stay stable across the run's tool calls. Without a thread id the call
    is a run of its own: invocations without one share nothing, so one user's placeholders can
    never be restored into another's call (a placeholder from an earlier call is refused).

    ``configurable`` is chosen by whoever invokes the graph (for a LangGraph server, its remote
    caller), so its ``guard_on_behalf_of`` / ``guard_environment`` count only where the Guard's
    ``run_overrides`` allow them; otherwise this raises `ToolDenied` (see `Guard.run_from_config`).
    """
    configurable = dict((config or {}).get("configurable") or {})
    thread = configurable.get("thread_id")
    on_behalf_of = configurable.get("guard_on_behalf_of")
    environment = configurable.get("guard_environment")
    if thread is None and on_behalf_of is None and environment is None:
        return guard.run()  # a run of its own, not kept
    run_id = f"thread:{thread}" if thread is not None else f"call:{uuid.uuid4().hex}"
    if on_behalf_of is None and environment is None:
        return guard.run(run_id)
    return guard.run_from_config(
        run_id, on_behalf_of=on_behalf_of, environment=environment, source="configurable"
    )
