"""Whatever text arrives, the loader returns a fully validated policy or raises PolicyError."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails_plugin.errors import PolicyError
from guardrails_plugin.policy import Policy

KEYS = [
    "version",
    "defaults",
    "effect",
    "rules",
    "id",
    "match",
    "tool",
    "args",
    "data",
    "contains",
    "approval",
    "approvers",
    "quorum",
    "timeout",
    "people",
    "groups",
    "include",
    "when",
    "not",
    "any",
    "all",
    "regex",
    "gt",
    "in",
    "masking",
    "strategy",
    "reason",
    "context",
    "environment",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from(["deny", "allow", "15m", "x*"]),
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=30,
)


def _load(text: str) -> None:
    try:
        policy = Policy.from_string(text, name="fuzz.yaml")
    except PolicyError as exc:
        assert exc.problems and all(p.file == "fuzz.yaml" for p in exc.problems)
        return
    assert policy.default is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_structured_garbage(document):
    _load(yaml.safe_dump({"version": 1, **document} if isinstance(document, dict) else document))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    _load(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "version: 1\n",
                "defaults: {effect: deny}\n",
                "rules:\n",
                "  - id: r\n",
                "    match: {}\n",
                "    effect: deny\n",
                "&a ",
                "*a\n",
                "<<: *a\n",
                "- ",
                "  ",
                "{",
                "[",
                "!!str ",
                ": ",
                "\t",
            ]
        ),
        max_size=25,
    )
)
def test_yaml_fragments(parts):
    _load("".join(parts))
