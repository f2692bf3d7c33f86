"""What the model reads when the guard refuses a call: one function per kind of refusal.

Each is one sentence (or two) that says what happened and, where the model can do something
about it, what. They never quote argument values: a refusal is shown to the model, logged and
audited.
"""

from __future__ import annotations

from guardrails_plugin.store.records import ApprovalRequest, Status
from guardrails_plugin.types import Decision

__all__ = [
    "blocked",
    "by_rule",
    "foreign_placeholders",
    "rule_name",
    "status",
    "unknown_placeholders",
    "unverified_denial",
]


def rule_name(rule_id: str | None) -> str:
    return f"rule '{rule_id}'" if rule_id else "the policy's default"


def by_rule(decision: Decision) -> str:
    if decision.rule_id:
        return f"Denied by policy rule '{decision.rule_id}': {decision.reason}"
    return f"Denied by the policy's default: {decision.reason}"


def blocked(classes: tuple[str, ...] | list[str], where: str = "arguments contain") -> str:
    return f"Denied: the {where} {', '.join(classes)} data, which the policy blocks."


def unknown_placeholders(missing: list[str]) -> str:
    return (
        f"Denied: the arguments use {', '.join(missing)}, which this run never issued (a "
        "placeholder stands for a value only in the run, and process, that masked it), so the "
        "call was not made. Use a value you were given, or ask the user for it."
    )


def foreign_placeholders(request_id: str | None) -> str:
    return (
        f"Denied: approval request {request_id} was made where the placeholders in this call "
        "were issued, and this process cannot vouch that they stand for the same values here, "
        "so the call was not made. Ask again with the values you have now."
    )


def unverified_denial(request_id: str) -> str:
    return (
        f"Denied: approval request {request_id} is marked denied, but the audit log does not "
        "show that decision (the store may have been changed), so the call was not made."
    )


def status(request: ApprovalRequest) -> str | None:
    """The refusal for a request that is not approved (None when it is). A denial's author and
    reason are the caller's to add, from the audit log."""
    if request.status is Status.APPROVED:
        return None
    if request.status is Status.EXPIRED:
        return f"Denied: approval request {request.id} expired before anyone decided."
    if request.status is Status.CANCELLED:
        return f"Denied: approval request {request.id} was cancelled."
    if request.status is Status.DENIED:
        return f"Denied: approval request {request.id} was denied."
    return f"Denied: approval request {request.id} is still pending."
