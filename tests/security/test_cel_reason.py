"""Issue 11 #16: a failing CEL ``when:`` put argument values into the decision reason.

The reason of a decision is shown to reviewers in Slack, printed by ``pending`` and written to
logs; arguments there must only ever appear masked, through the approval record. A condition that
fails must name the rule and the kind of failure, never the values it failed on.
"""

from __future__ import annotations

import logging

import pytest

from guardrails_plugin.policy import Policy, register_operator
from guardrails_plugin.policy.operators import ValuePredicate
from guardrails_plugin.types import Effect, ToolCall

pytest.importorskip("celpy")

CANARY = "CANARY-7f3a9-SECRET"

# Each expression fails on the canary in a different way inside cel-python; each of its error
# messages used to quote the value.
FAILING = [
    "int(args.amount) > 5",  # conversion of a string
    "double(args.amount) > 1.0",
    "args.amount > 5",  # no overload for string > int
    "args[args.amount] == 1",  # missing key named by a value
    "duration(args.amount) > duration('1s')",
    "timestamp(args.amount) > timestamp('2020-01-01T00:00:00Z')",
    "args.amount",  # not a bool
    "args.one / args.zero > 1",  # division by zero
    "args.amount.matches(args.amount + '(')",  # a regex built from a value
]


def policy(when: str, effect: str = "deny") -> Policy:
    return Policy.from_string(
        f"""
version: 1
defaults: {{effect: require_approval, approval: {{approvers: [ops]}}}}
people: {{ann: [cli:ann]}}
groups: {{ops: [ann]}}
rules:
  - id: amount-check
    match: {{tool: pay}}
    when: "{when}"
    effect: {effect}
    reason: Payments over the limit are refused.
"""
    )


def capture(caplog: pytest.LogCaptureFixture) -> None:
    """Everything at INFO, and our own loggers at DEBUG. cel-python's DEBUG tracing (logger
    ``celpy``) prints its activation, values included; docs/policy.md says to keep it off."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="guardrails_plugin")


def call() -> ToolCall:
    return ToolCall("pay", {"amount": CANARY, "one": 1, "zero": 0})


@pytest.mark.parametrize("when", FAILING)
def test_a_failing_when_names_the_rule_and_the_failure_not_the_values(when, caplog):
    capture(caplog)
    decision = policy(when).evaluate(call())
    assert decision.effect is Effect.DENY  # fails closed: the deny applies
    assert decision.rule_id == "amount-check"
    assert CANARY not in decision.reason
    assert "amount-check" in decision.reason and "CEL" in decision.reason
    assert CANARY not in caplog.text
    assert "amount-check" in caplog.text


@pytest.mark.parametrize("when", FAILING)
def test_explain_does_not_echo_values_either(when, caplog):
    capture(caplog)
    explanation = policy(when, effect="allow").explain(call())
    assert explanation.decision.effect is Effect.REQUIRE_APPROVAL  # a failed allow never allows
    [trace] = explanation.checked
    assert trace.reason is not None and CANARY not in trace.reason
    assert CANARY not in caplog.text


def test_a_raising_custom_operator_is_reported_by_type_not_message(caplog):
    """The same rule for a user's operator that raises with the value in its message."""

    def compile_leaky(operand, _sub):
        def test(value):
            raise RuntimeError(f"cannot judge {value!r}")

        return ValuePredicate(test, "leaky")

    register_operator("leaky_for_test", compile_leaky)
    p = Policy.from_string(
        """
version: 1
defaults: {effect: allow}
rules:
  - id: custom
    match: {tool: pay, args: {amount: {leaky_for_test: 1}}}
    effect: deny
"""
    )
    capture(caplog)
    decision = p.evaluate(call())
    assert decision.effect is Effect.DENY
    assert CANARY not in decision.reason and "RuntimeError" in decision.reason
    assert CANARY not in caplog.text
