"""guardrails-plugin: a policy, a masker and a human between an AI agent and its tools."""

from guardrails_plugin.errors import (
    ApprovalTimeout,
    ConfigError,
    GuardError,
    PolicyError,
    StoreError,
    ToolDenied,
)
from guardrails_plugin.guard import Guard, Outcome, RunContext
from guardrails_plugin.masking import Masker, MaskResult, Vault
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
    "Guard",
    "GuardError",
    "MaskResult",
    "Masker",
    "Outcome",
    "Policy",
    "PolicyError",
    "Principal",
    "RunContext",
    "StoreError",
    "ToolCall",
    "ToolDenied",
    "Vault",
    "__version__",
]
