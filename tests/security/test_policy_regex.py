"""Issue 11 #5 (policy half): policy-author regexes ran on Python's backtracking engine with no
bound, so one ``regex:`` condition and one crafted argument stalled every guarded call.

Policy regexes now run on RE2 (linear in the input); a pattern RE2 cannot run in linear time
(backreferences, lookaround, atomic groups, possessive quantifiers) is refused when the policy
loads, naming the file, the line and what to change.
"""

from __future__ import annotations

import pytest

from guardrails_plugin.errors import PolicyError
from guardrails_plugin.policy import Policy
from guardrails_plugin.types import Effect, ToolCall

POLICY = """\
version: 1
defaults: {{effect: allow}}
rules:
  - id: pattern
    match:
      tool: run
      args:
        text: {{regex: '{pattern}'}}
    effect: deny
"""


def load(write, pattern: str) -> Policy:
    return Policy.load(write(POLICY.format(pattern=pattern)))


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("(a+)+$", "a" * 40 + "b"),
        ("^(a|aa)+$", "a" * 60 + "b"),
        ("(.*a){20}", "a" * 30),
        ("^(\\w+\\s?)*$", "word " * 30 + "!"),
    ],
)
def test_a_catastrophic_pattern_does_not_hang(write, pattern, text):
    """Under Python's re the first case takes 2^40 steps; RE2 answers in microseconds."""
    policy = load(write, pattern)
    decision = policy.evaluate(ToolCall("run", {"text": text}))
    assert decision.effect in (Effect.ALLOW, Effect.DENY)


@pytest.mark.timeout(20)
def test_a_large_argument_is_scanned_in_linear_time(write):
    policy = load(write, "(x+x+)+y")
    decision = policy.evaluate(ToolCall("run", {"text": "x" * 1_000_000}))
    assert decision.effect is Effect.ALLOW


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        ("(a)\\1", "backreference"),
        ("prod(?=-eu)", "lookaround"),
        ("(?<!dev-)db", "lookaround"),
        ("(?>a+)b", "atomic group"),
        ("a++", "possessive"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_at_load(write, pattern, what):
    with pytest.raises(PolicyError) as info:
        load(write, pattern)
    [problem] = info.value.problems
    assert problem.line == 8 and problem.file.endswith("policy.yaml")
    assert problem.field == "rules[0].match.args.text.regex"
    assert what in problem.message and "RE2" in problem.message
    assert f"{problem.file}:8" in str(info.value)


def test_common_patterns_keep_their_meaning(write):
    policy = load(write, "(?i)\\b(drop|truncate)\\b")
    assert policy.evaluate(ToolCall("run", {"text": "please Drop table t"})).effect is Effect.DENY
    assert policy.evaluate(ToolCall("run", {"text": "dropbox"})).effect is Effect.ALLOW
    assert policy.evaluate(ToolCall("run", {"text": 5})).effect is Effect.ALLOW
