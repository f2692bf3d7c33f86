"""Every matcher and operator, through real policies."""

from __future__ import annotations

from typing import Any

import pytest

from guardrails_plugin.policy import Policy
from guardrails_plugin.types import Effect, Finding, Principal, ToolCall


def one_rule(match: str, when: str | None = None) -> Policy:
    when_line = f"\n    when: '{when}'" if when else ""
    return Policy.from_string(
        f"""
version: 1
defaults: {{effect: allow}}
rules:
  - id: hit
    match: {match}{when_line}
    effect: deny
"""
    )


def hits(policy: Policy, tool: str = "t", args: Any = None, **kw: Any) -> bool:
    findings = kw.pop("findings", ())
    call = ToolCall(tool, args if args is not None else {}, **kw)
    return policy.evaluate(call, findings).rule_id == "hit"


# --- tool names ---------------------------------------------------------------------------------


def test_tool_exact_glob_list_and_predicate():
    assert hits(one_rule("{tool: delete_db}"), "delete_db")
    assert not hits(one_rule("{tool: delete_db}"), "delete_dbs")
    assert hits(one_rule("{tool: 's3_*'}"), "s3_put_acl")
    assert not hits(one_rule("{tool: 's3_*'}"), "xs3_put")
    lst = one_rule("{tool: [a, 'b_*']}")
    assert hits(lst, "a") and hits(lst, "b_x") and not hits(lst, "c")
    pred = one_rule("{tool: {regex: '^kubectl_(delete|drain)$'}}")
    assert hits(pred, "kubectl_drain") and not hits(pred, "kubectl_get")


@pytest.mark.parametrize(
    "name",
    [
        "delete\u200b_db",
        "DELETE_DB",
        " delete_db ",
        "ｄｅｌｅｔｅ＿ｄｂ",
        "delete_db\ufeff",
        "dele\u2060te_db",
    ],
)
def test_tool_name_unicode_tricks_do_not_slip_past(name):
    assert hits(one_rule("{tool: delete_db}"), name)


@pytest.mark.parametrize(
    "name",
    [
        "d\u0435lete_db",
        "\u0434elete_db".replace("\u0434", "d"),
        "DEL\u0415TE_DB",
        "d\u0435l\u0435t\u0435_db",
    ],
)
def test_cyrillic_and_greek_look_alikes_do_not_slip_past(name):
    # NFKC alone does not fold Cyrillic 'е' into Latin 'e'; the confusables map does.
    assert hits(one_rule("{tool: delete_db}"), name)
    assert hits(one_rule("{tool: 'delete_*'}"), name)


# --- argument predicates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicate", "value", "expected"),
    [
        ("prod", "prod", True),
        ("prod", "Prod", False),
        ("{equals: 1}", 1, True),
        ("{equals: 1}", True, False),  # true is not 1
        ("{equals: true}", 1, False),
        ("{equals: 1}", 1.0, True),
        ("{in: [a, b, 3]}", "b", True),
        ("{in: [a, b, 3]}", 3, True),
        ("{in: [a, b, 3]}", "c", False),
        ("{regex: '^prod'}", "prod-eu", True),
        ("{regex: '^prod'}", "eu-prod", False),
        ("{regex: '(?i)drop'}", "DROP TABLE", True),
        ("{regex: '5000'}", 5000, True),  # numbers are searched as JSON text
        ("{glob: 'prod-*'}", "prod-eu", True),
        ("{glob: 'prod-*'}", "prod", False),
        ("{gt: 1000}", 1001, True),
        ("{gt: 1000}", 1000, False),
        ("{gt: 1000}", "5000", True),  # models send numbers as strings
        ("{gt: 1000}", "lots", False),
        ("{gt: 1000}", True, False),
        ("{gte: 10}", 10, True),
        ("{lt: 10}", 9.5, True),
        ("{lte: 10}", 11, False),
        ("{gt: 1, lt: 5}", 3, True),
        ("{gt: 1, lt: 5}", 7, False),
        ("{contains: '-destroy'}", ["-auto-approve", "-destroy"], True),
        ("{contains: '-destroy'}", "apply -destroy", True),
        ("{contains: key}", {"key": 1}, True),
        ("{contains: x}", 5, False),
        ("{not: {equals: dev}}", "prod", True),
        ("{not: {equals: dev}}", "dev", False),
        ("{any: [{equals: a}, {regex: '^b'}]}", "bee", True),
        ("{any: [{equals: a}, {regex: '^b'}]}", "c", False),
        ("{all: [{regex: a}, {regex: b}]}", "ab", True),
        ("{all: [{regex: a}, {regex: b}]}", "a", False),
        ("{exists: true}", None, True),
    ],
)
def test_operators(predicate, value, expected):
    policy = one_rule(f"{{args: {{v: {predicate}}}}}")
    assert hits(policy, args={"v": value}) is expected


def test_missing_paths():
    exists = one_rule("{args: {v: {exists: true}}}")
    absent = one_rule("{args: {v: {exists: false}}}")
    negated = one_rule("{args: {v: {not: {equals: dev}}}}")
    assert not hits(exists, args={}) and hits(absent, args={})
    assert hits(negated, args={})  # a missing value is not 'dev'
    assert not hits(one_rule("{args: {v: {equals: null}}}"), args={})


def test_dotted_paths_indexes_and_wildcards():
    nested = one_rule("{args: {options.format: csv}}")
    assert hits(nested, args={"options": {"format": "csv"}})
    assert not hits(nested, args={"options": "format=csv"})
    index = one_rule("{args: {rows.0.id: 7}}")
    assert hits(index, args={"rows": [{"id": 7}, {"id": 8}]})
    assert not hits(index, args={"rows": []})
    star = one_rule("{args: {items.*.sku: {regex: '^SECRET-'}}}")
    assert hits(star, args={"items": [{"sku": "A"}, {"sku": "SECRET-1"}]})
    assert not hits(star, args={"items": [{"sku": "A"}]})
    assert hits(one_rule("{args: {m.*: 3}}"), args={"m": {"x": 1, "y": 3}})


def test_regex_over_whole_object_sees_nested_values():
    policy = one_rule("{args: {payload: {regex: 'public-read'}}}")
    assert hits(policy, args={"payload": {"Acl": ["public-read"]}})


def test_hostile_argument_values_do_not_crash():
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    policy = one_rule("{args: {v: {regex: x}}}")
    # Too deep to serialise: the regex sees no text, so the rule does not hit (and nothing raises).
    assert hits(policy, args={"v": deep}) is False
    assert hits(one_rule("{args: {v: {gt: 1}}}"), args={"v": 10**5000})
    assert hits(one_rule("{args: {v: {contains: a}}}"), args={"v": "\udcff a"})


# --- data classes, context, combinators ---------------------------------------------------------


def test_data_contains_expands_parent_classes():
    policy = one_rule("{data: {contains: [SECRET]}}")
    assert hits(policy, findings=[Finding("API_KEY", ("headers", "Authorization"))])
    assert hits(policy, findings=["PASSWORD"])
    assert not hits(policy, findings=["EMAIL"])
    assert not hits(policy)


def test_data_contains_all_and_absent():
    both = one_rule("{data: {contains_all: [EMAIL, PHONE]}}")
    assert hits(both, findings=["EMAIL", "PHONE"]) and not hits(both, findings=["EMAIL"])
    absent = one_rule("{data: {absent: [PII]}}")
    assert hits(absent, findings=["API_KEY"]) and not hits(absent, findings=["PERSON"])


def test_context_principal_on_behalf_of_and_environment():
    policy = one_rule(
        "{context: {principal: 'agent:*', on_behalf_of: {in: [slack:U1]}, "
        "environment: {env: prod, region: 'eu-*'}}}"
    )
    who = Principal("agent:bot", "slack:U1")
    assert hits(policy, principal=who, environment={"env": "prod", "region": "eu-west-1"})
    assert not hits(policy, principal=who, environment={"env": "dev", "region": "eu-west-1"})
    assert not hits(policy, principal=Principal("user:x", "slack:U1"), environment={"env": "prod"})
    assert not hits(policy, environment={"env": "prod", "region": "eu-1"})  # no principal


def test_match_level_any_all_not():
    policy = one_rule(
        "{any: [{tool: a}, {all: [{tool: b}, {args: {x: 1}}]}], not: {args: {safe: true}}}"
    )
    assert hits(policy, "a")
    assert hits(policy, "b", {"x": 1})
    assert not hits(policy, "b", {"x": 2})
    assert not hits(policy, "a", {"safe": True})


def test_empty_match_matches_everything():
    assert hits(one_rule("{}"), "anything")


# --- CEL ------------------------------------------------------------------------------------------


def test_cel_when_narrows_a_rule():
    policy = one_rule("{tool: query}", when='args.rows > 1000 && env.env == "prod"')
    assert hits(policy, "query", {"rows": 5000}, environment={"env": "prod"})
    assert not hits(policy, "query", {"rows": 5}, environment={"env": "prod"})
    assert not hits(policy, "other", {"rows": 5000}, environment={"env": "prod"})


def test_cel_sees_data_and_principal():
    policy = one_rule("{}", when='"SECRET" in data && principal.startsWith("agent:")')
    assert hits(policy, findings=["SECRET"], principal=Principal("agent:x"))
    assert not hits(policy, findings=["EMAIL"], principal=Principal("agent:x"))


def test_cel_error_fails_closed_for_restricting_rules_and_open_for_allow_rules():
    deny = one_rule("{}", when="args.rows > 1000")
    decision = deny.evaluate(ToolCall("t", {}))
    assert decision.effect is Effect.DENY and "condition failed" in decision.reason
    allow = Policy.from_string(
        """
version: 1
defaults: {effect: deny}
rules:
  - id: permissive
    match: {}
    when: "args.rows < 10"
    effect: allow
"""
    )
    decision = allow.evaluate(ToolCall("t", {}))
    assert decision.effect is Effect.DENY and decision.rule_id is None
