"""Names of audit events, in one place so writers and readers agree."""

from __future__ import annotations

__all__ = ["Event"]


class Event:
    CALL_EVALUATED = "call.evaluated"
    GUARD_ERROR = "guard.error"
    REQUEST_CREATED = "request.created"
    REQUEST_REFUSED = "request.refused"
    REQUEST_EDITED = "request.edited"
    REQUEST_REKEYED = "request.rekeyed"  # an upgraded store: an open request's scoped key
    VOTE_RECORDED = "vote.recorded"
    VOTE_REFUSED = "vote.refused"
    APPROVED = "request.approved"
    DENIED = "request.denied"
    EXPIRED = "request.expired"
    CANCELLED = "request.cancelled"
    EXECUTION_REFUSED = "execution.refused"
    TOOL_EXECUTING = "tool.executing"
    TOOL_SUSPENDED = "tool.suspended"  # the framework suspended it mid-call: a replay may claim it
    TOOL_EXECUTED = "tool.executed"
    TOOL_FAILED = "tool.failed"
    TOOL_INTERRUPTED = "tool.interrupted"  # cancelled (or interrupted) while the tool ran
    TOOL_UNLISTED = "tool.unlisted"  # the MCP gateway refused a name its upstream did not list
    TOOL_ARGS_REFUSED = "tool.args_refused"  # ...or arguments that do not fit the listed schema
    OUTPUT_MASKED = "output.masked"
    RUN_CONFIGURED = "run.configured"  # a run set an allowed setting (Guard run_overrides)
    RUN_CONFIG_REFUSED = "run.config_refused"  # a run tried to set one it may not
    POLICY_RELOADED = "policy.reloaded"  # Guard.reload_policy swapped in a new policy
    POLICY_RELOAD_FAILED = "policy.reload_failed"  # ...or refused a broken one, keeping the old
    AUDIT_KEYED = "audit.keyed"  # an upgraded store: the keyed part of the chain begins here
