"""guardrails-plugin: a policy, a masker and a human between an AI agent and its tools."""

from guardrails_plugin.errors import (
    ApprovalTimeout,
    ConfigError,
    GuardError,
    PolicyError,
    StoreError,
    ToolDenied,
)
from guardrails_plugin.policy import Explanation, Policy
from guardrails_plugin.types import Decision, Effect, Finding, Principal, ToolCall

__version__ = "0.1.0"

__all__ = [
    "ApprovalTimeout",
    "ConfigError",
    "Decision",
    "Effect",
    "Explanation",
    "Finding",
    "GuardError",
    "Policy",
    "PolicyError",
    "Principal",
    "StoreError",
    "ToolCall",
    "ToolDenied",
    "__version__",
]
