"""YAML policies: load, validate, evaluate, explain.

policy = Policy.load("policies/default.yaml")
decision = policy.evaluate(ToolCall("export_table", {"database": "prod"}), findings)
"""

from guardrails_plugin.policy.engine import Explanation, Policy, RuleTrace
from guardrails_plugin.policy.operators import ValuePredicate, register_operator
from guardrails_plugin.policy.schema import PolicyDocument

__all__ = [
    "Explanation",
    "Policy",
    "PolicyDocument",
    "RuleTrace",
    "ValuePredicate",
    "register_operator",
]
