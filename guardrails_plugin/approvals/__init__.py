"""Approvals: suspend a tool call until authorised people decide, and bind the decision to it."""

from guardrails_plugin.approvals.broker import ApprovalBroker, VoteResult

__all__ = ["ApprovalBroker", "VoteResult"]
