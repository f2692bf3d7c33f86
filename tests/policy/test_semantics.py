"""First match wins, defaults, includes, explain, custom operators, fail-closed evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails_plugin.policy import Policy, ValuePredicate, register_operator
from guardrails_plugin.types import Effect, ToolCall

TWO_RULES = """
version: 1
defaults: {effect: require_approval, approval: {approvers: [alice]}}
people: {alice: [cli:alice]}
rules:
  - id: first
    match: {tool: 'db_*'}
    effect: allow
  - id: second
    match: {tool: db_drop}
    effect: deny
"""


def test_first_matching_rule_in_file_order_wins():
    policy = Policy.from_string(TWO_RULES)
    decision = policy.evaluate(ToolCall("db_drop", {}))
    assert decision.rule_id == "first" and decision.effect is Effect.ALLOW


def test_no_match_falls_to_defaults_with_resolved_approval():
    policy = Policy.from_string(TWO_RULES)
    decision = policy.evaluate(ToolCall("other", {}))
    assert decision.rule_id is None and decision.effect is Effect.REQUIRE_APPROVAL
    assert decision.approval is not None and decision.approval.approvers == {"alice"}
    assert decision.approval.timeout_seconds == 900


def test_rule_approval_inherits_unset_fields_from_defaults():
    policy = Policy.from_string(
        """
version: 1
defaults:
  effect: deny
  approval: {approvers: [ops], timeout: 2h, require_reason: true}
  masking: {strategy: hash, classes: {EMAIL: partial}}
people: {a: [cli:a, slack:UA], b: [cli:b]}
groups: {ops: [a, b]}
rules:
  - id: r
    match: {}
    effect: require_approval
    approval: {quorum: 2, allow_edit: true}
    masking: {classes: {PHONE: redact}, restore_placeholders: true}
"""
    )
    d = policy.evaluate(ToolCall("x", {}))
    assert d.approval is not None
    assert (d.approval.quorum, d.approval.timeout_seconds) == (2, 7200)
    assert d.approval.require_reason and d.approval.allow_edit
    assert d.approval.identities["a"] == {"cli:a", "slack:UA"}
    assert d.masking.strategy == "hash"
    assert dict(d.masking.classes) == {"EMAIL": "partial", "PHONE": "redact"}
    assert d.masking.restore_placeholders
    assert d.masking.strategy_for("PHONE") == "redact" and d.masking.strategy_for("IBAN") == "hash"


def test_directory_resolves_identities_to_people():
    policy = Policy.from_string(
        "version: 1\ndefaults: {effect: deny}\npeople: {alice: [slack:U1, cli:alice]}\n"
    )
    assert policy.directory.person_of("cli:alice") == "alice"
    assert policy.directory.same_person("slack:U1", "cli:alice")
    assert not policy.directory.same_person("slack:U1", "cli:bob")


def test_includes_put_included_rules_first_and_share_people(write):
    write(
        """\
        version: 1
        people: {dana: [cli:dana], eve: [cli:eve]}
        groups: {dba: [dana, eve]}
        rules:
          - id: base-deny
            match: {tool: drop_db}
            effect: deny
        """,
        "base/org.yaml",
    )
    root = write(
        """\
        version: 1
        include: [base/org.yaml]
        defaults: {effect: allow}
        rules:
          - id: team-allow
            match: {tool: drop_db}
            effect: allow
          - id: export
            match: {tool: export}
            effect: require_approval
            approval: {approvers: [dba], quorum: 2}
        """,
        "team.yaml",
    )
    policy = Policy.load(root)
    assert [r.id for r in policy.rules] == ["base-deny", "team-allow", "export"]
    assert policy.evaluate(ToolCall("drop_db", {})).rule_id == "base-deny"
    assert len(policy.files) == 2 and policy.files[-1] == str(root)


def test_diamond_include_loads_each_file_once(write):
    write("version: 1\nrules: [{id: shared, match: {}, effect: deny}]\n", "shared.yaml")
    write("version: 1\ninclude: [shared.yaml]\n", "a.yaml")
    write("version: 1\ninclude: [shared.yaml]\n", "b.yaml")
    root = write("version: 1\ninclude: [a.yaml, b.yaml]\ndefaults: {effect: allow}\n", "root.yaml")
    assert [r.id for r in Policy.load(root).rules] == ["shared"]


def test_explain_says_why_each_earlier_rule_did_not_match():
    policy = Policy.from_string(
        """
version: 1
defaults: {effect: deny}
rules:
  - id: wrong-tool
    match: {tool: other}
    effect: allow
  - id: wrong-db
    match: {tool: export, args: {database: {regex: '^prod'}}}
    effect: deny
  - id: no-secret
    match: {data: {contains: [SECRET]}}
    effect: deny
  - id: winner
    match: {tool: export}
    effect: allow
  - id: later
    match: {}
    effect: deny
"""
    )
    e = policy.explain(ToolCall("export", {"database": "dev-1"}))
    assert e.decision.rule_id == "winner"
    reasons = {t.rule_id: t.reason for t in e.checked}
    assert list(reasons) == ["wrong-tool", "wrong-db", "no-secret", "winner"]
    assert reasons["wrong-tool"] == "tool 'export' is not 'other'"
    assert reasons["wrong-db"] == "args.database does not satisfy: matches regex '^prod'"
    assert reasons["no-secret"] == "no data of class SECRET found in the arguments"
    assert reasons["winner"] is None and e.checked[-1].matched
    assert [t.rule_id for t in e.shadowed] == ["later"]
    # explain never echoes argument values: they may be sensitive.
    assert all("dev-1" not in (t.reason or "") for t in e.checked)


def test_explain_missing_argument_and_default():
    policy = Policy.from_string(
        "version: 1\ndefaults: {effect: deny}\nrules:\n"
        "  - {id: r, match: {args: {db: prod}}, effect: allow}\n"
    )
    e = policy.explain(ToolCall("x", {}))
    assert e.decision.rule_id is None and e.decision.effect is Effect.DENY
    assert e.checked[0].reason == 'args.db is missing (needs: equals "prod")'


def test_custom_operator_registers_like_builtins():
    def compile_cidr(operand: Any, _sub: Any) -> ValuePredicate:
        import ipaddress

        net = ipaddress.ip_network(operand)
        return ValuePredicate(
            lambda v: isinstance(v, str) and ipaddress.ip_address(v) in net, f"in network {net}"
        )

    register_operator("in_cidr", compile_cidr, schema={"type": "string"}, description="IP in net.")
    policy = Policy.from_string(
        "version: 1\ndefaults: {effect: allow}\nrules:\n"
        "  - {id: internal, match: {args: {ip: {in_cidr: 10.0.0.0/8}}}, effect: deny}\n"
    )
    assert policy.evaluate(ToolCall("x", {"ip": "10.1.2.3"})).rule_id == "internal"
    assert policy.evaluate(ToolCall("x", {"ip": "8.8.8.8"})).rule_id is None
    # A value the operator cannot handle raises inside evaluation: the deny rule applies.
    d = policy.evaluate(ToolCall("x", {"ip": "not-an-ip"}))
    assert d.effect is Effect.DENY and "condition failed" in d.reason


def test_operator_error_at_load_is_located():
    from guardrails_plugin.errors import PolicyError

    with pytest.raises(PolicyError) as info:
        Policy.from_string(
            "version: 1\ndefaults: {effect: allow}\nrules:\n"
            "  - {id: bad, match: {args: {ip: {in_cidr: 'nope'}}}, effect: deny}\n",
            name="inline.yaml",
        )
    p = info.value.problems[0]
    assert p.file == "inline.yaml" and p.line == 4 and p.rule_id == "bad"
    assert p.field == "rules[0].match.args.ip.in_cidr"


def test_policy_file_loads_relative_includes_from_its_folder(tmp_path: Path, monkeypatch):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "inc.yaml").write_text(
        "version: 1\nrules: [{id: i, match: {}, effect: deny}]\n"
    )
    (tmp_path / "p" / "root.yaml").write_text(
        "version: 1\ninclude: [inc.yaml]\ndefaults: {effect: allow}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert [r.id for r in Policy.load("p/root.yaml").rules] == ["i"]


# --- a reference oracle, checked by Hypothesis ---------------------------------------------

TOOLS = ["read", "write", "drop", "export"]
EFFECTS = ["allow", "deny", "require_approval"]

rule_strategy = st.fixed_dictionaries(
    {
        "tool": st.one_of(st.none(), st.sampled_from([*TOOLS, "*", "dr*"])),
        "env": st.one_of(st.none(), st.sampled_from(["prod", "dev"])),
        "gt": st.one_of(st.none(), st.integers(0, 10)),
        "effect": st.sampled_from(EFFECTS),
    }
)


def _oracle(rules: list[dict[str, Any]], default: str, tool: str, env: str, n: int) -> str | None:
    import fnmatch

    for i, r in enumerate(rules):
        if r["tool"] is not None and not fnmatch.fnmatchcase(tool, r["tool"]):
            continue
        if r["env"] is not None and r["env"] != env:
            continue
        if r["gt"] is not None and not n > r["gt"]:
            continue
        return f"r{i}"
    return None


def _yaml(rules: list[dict[str, Any]], default: str) -> str:
    lines = [
        "version: 1",
        f"defaults: {{effect: {default}, approval: {{approvers: [a]}}}}",
        "people: {a: [cli:a]}",
        "rules:" if rules else "rules: []",
    ]
    for i, r in enumerate(rules):
        parts = []
        if r["tool"] is not None:
            parts.append(f"tool: '{r['tool']}'")
        if r["env"] is not None:
            parts.append(f"context: {{environment: {{env: {r['env']}}}}}")
        if r["gt"] is not None:
            parts.append(f"args: {{n: {{gt: {r['gt']}}}}}")
        lines.append(f"  - {{id: r{i}, match: {{{', '.join(parts)}}}, effect: {r['effect']}}}")
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(rule_strategy, max_size=12),
    default=st.sampled_from(EFFECTS),
    calls=st.lists(
        st.tuples(st.sampled_from(TOOLS), st.sampled_from(["prod", "dev"]), st.integers(0, 12)),
        min_size=1,
        max_size=8,
    ),
)
def test_evaluate_agrees_with_a_reference_oracle(rules, default, calls):
    policy = Policy.from_string(_yaml(rules, default))
    for tool, env, n in calls:
        call = ToolCall(tool, {"n": n}, environment={"env": env})
        expected = _oracle(rules, default, tool, env, n)
        decision = policy.evaluate(call)
        assert decision.rule_id == expected
        want = rules[int(expected[1:])]["effect"] if expected else default
        assert decision.effect.value == want
        # explain and evaluate never disagree
        assert policy.explain(call).decision == decision


def test_rules_that_can_never_match_are_reported():
    policy = Policy.from_string(
        """
version: 1
defaults: {effect: deny}
rules:
  - {id: reads, match: {tool: "db_*"}, effect: allow}
  - {id: no-drop, match: {tool: db_drop}, effect: deny}
  - {id: narrow, match: {tool: x, args: {a: 1}}, effect: allow}
  - {id: still-reachable, match: {tool: x}, effect: deny}
""",
        name="p.yaml",
    )
    [warning] = policy.shadowed_rules()
    assert warning.startswith("p.yaml:6: rule 'no-drop' can never match")
    assert "rule 'reads' (allow, line 5)" in warning
