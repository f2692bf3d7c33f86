"""The operators added for issue 11 #12: `sql`, `casefold`, `aws_public_policy`. The attack lists
against the shipped policies are in tests/security/test_example_policies.py; here are the
operators' own contracts: operands checked at load, semantics, and no values in logs."""

from __future__ import annotations

import json
import logging

import pytest

from guardrails_plugin.errors import PolicyError
from guardrails_plugin.policy import Policy
from guardrails_plugin.policy.operators import compile_predicate, json_schema
from guardrails_plugin.policy.sql import MAX_SQL_CHARS, classify
from guardrails_plugin.types import Effect, ToolCall


def holds(spec, value) -> bool:
    return compile_predicate(spec).test(value)


# --- sql -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("select 1", [{"select"}]),
        ("SELECT 1; DELETE FROM t", [{"select"}, {"delete"}]),
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", [{"select", "delete"}]),
        ("SELECT * INTO t2 FROM t", [{"select", "select_into"}]),
        ("SELECT * FROM t FOR UPDATE", [{"select", "lock"}]),
        ("SELECT my_fn(x) FROM t", [{"select", "function"}]),
        ("COPY t TO PROGRAM 'sh'", [{"copy"}]),
        ("BEGIN; COMMIT", [{"transaction"}, {"transaction"}]),
    ],
)
def test_statement_kinds(text, kinds):
    result = classify(text, ("postgres",))
    assert result is not None and [set(k) for k in result] == kinds


def test_only_and_any():
    assert holds({"sql": {"only": ["select"]}}, "select a from t")
    assert not holds({"sql": {"only": ["select"]}}, "select 1; update t set a = 1")
    assert holds({"sql": {"only": ["select", "update"]}}, "select 1; update t set a = 1")
    assert holds({"sql": {"any": ["update"]}}, "select 1; update t set a = 1")
    assert not holds({"sql": {"any": ["drop"]}}, "select 1; update t set a = 1")
    # both: every statement a select or insert, and at least one insert
    both = {"sql": {"only": ["select", "insert"], "any": ["insert"]}}
    assert holds(both, "insert into t values (1)") and not holds(both, "select 1")


@pytest.mark.parametrize(
    "value",
    ["SELEC 1", "SELECT 1 /*! DROP TABLE t */", "SELECT 1" + " " * MAX_SQL_CHARS, 5, ["select 1"]],
    ids=["unparseable", "executable-comment", "too-long", "number", "list"],
)
def test_text_that_could_be_anything_never_satisfies_only_and_always_any(value):
    assert not holds({"sql": {"only": ["select"]}}, value)
    assert holds({"sql": {"any": ["drop"]}}, value)
    # ... also under `not`, which flips both the right way round for each effect
    assert holds({"not": {"sql": {"only": ["select"]}}}, value)
    assert not holds({"not": {"sql": {"any": ["drop"]}}}, value)


def test_missing_and_empty_values():
    policy = Policy.from_string(
        """
version: 1
defaults: {effect: require_approval, approval: {approvers: [a]}}
people: {a: [cli:a]}
rules:
  - {id: bad, match: {args: {query: {sql: {any: [drop]}}}}, effect: deny}
  - {id: ro, match: {args: {query: {sql: {only: [select]}}}}, effect: allow}
"""
    )
    assert policy.evaluate(ToolCall("run_sql", {})).rule_id is None
    assert policy.evaluate(ToolCall("run_sql", {"query": ""})).rule_id is None
    assert policy.evaluate(ToolCall("run_sql", {"query": " ; "})).rule_id is None


def test_dialect_narrows_the_readings():
    text = "SELECT $$ ; DROP TABLE t; $$"  # one string in PostgreSQL, a DROP elsewhere
    assert holds({"sql": {"any": ["drop"]}}, text)
    assert holds({"sql": {"only": ["select"], "dialect": "postgres"}}, text)
    assert not holds({"sql": {"only": ["select"], "dialect": ["postgres", "mysql"]}}, text)


def test_functions_lists_harmless_user_functions():
    text = "SELECT format_name(first, last) FROM people"
    assert not holds({"sql": {"only": ["select"]}}, text)
    assert holds({"sql": {"only": ["select"], "functions": ["FORMAT_NAME"]}}, text)
    assert not holds({"sql": {"only": ["select"], "functions": ["other"]}}, text)


@pytest.mark.parametrize(
    ("operand", "message"),
    [
        ("select", "needs a mapping"),
        ({}, "needs 'only'"),
        ({"only": []}, "non-empty list"),
        ({"only": ["selec"]}, "unknown statement kind 'selec'"),
        ({"any": ["drop"], "dialect": "postgresql"}, "'postgresql' is not a dialect"),
        ({"any": ["drop"], "functions": "f"}, "list of function names"),
        ({"any": ["drop"], "mode": "x"}, "unknown key 'mode'"),
    ],
)
def test_bad_sql_operands_are_refused_at_load_with_the_place(write, operand, message):
    path = write(
        "version: 1\n"
        "defaults: {effect: deny}\n"
        "rules:\n"
        "  - id: r\n"
        f"    match: {{args: {{query: {{sql: {json.dumps(operand)}}}}}}}\n"
        "    effect: allow\n"
    )
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    [problem] = info.value.problems
    assert message in problem.message and problem.line == 5
    assert problem.field.startswith("rules[0].match.args.query.sql")


def test_sqlglot_does_not_log_the_statement(caplog):
    caplog.set_level(logging.DEBUG)
    classify("EXPLAIN SELECT secret_canary_7731 FROM t")
    assert "secret_canary_7731" not in caplog.text


# --- casefold ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ({"casefold": {"in": ["Namespace", "ns"]}}, " NAMESPACE ", True),
        ({"casefold": {"in": ["namespace"]}}, "Ｎamespace", True),  # fullwidth, NFKC
        ({"casefold": {"equals": "Prod"}}, "pRoD", True),
        ({"casefold": "prod"}, "PROD", True),  # a plain value means equals
        ({"casefold": {"glob": "PROD*"}}, "prod_main", True),
        ({"casefold": {"contains": "Admin"}}, "SysADMIN", True),
        ({"casefold": {"regex": "^prod"}}, "PROD_main", True),
        ({"casefold": {"regex": "^PROD"}}, "PROD_main", False),  # regexes are not folded
        ({"casefold": {"not": {"in": ["Dev"]}}}, "DEV", False),
        ({"casefold": {"in": ["a"]}}, ["A"], False),  # a list is not "in" a list of strings
        ({"casefold": {"contains": "a"}}, ["A", "B"], True),
        ({"casefold": {"exists": False}}, None, False),
        ({"casefold": {"equals": 5}}, 5, True),
        # Folded as tool names are: format characters and look-alikes cannot dodge a rule.
        ({"casefold": {"equals": "prod"}}, "pro\u200bd", True),
        ({"casefold": {"equals": "prod"}}, "prod\u00ad", True),
        ({"casefold": {"equals": "prod"}}, "\u0440rod", True),  # Cyrillic 'р'
    ],
)
def test_casefold(spec, value, expected):
    assert holds(spec, value) is expected


def test_casefold_of_a_missing_value_is_missing():
    policy = Policy.from_string(
        """
version: 1
defaults: {effect: allow}
rules:
  - {id: r, match: {args: {kind: {casefold: {exists: false}}}}, effect: deny}
"""
    )
    assert policy.evaluate(ToolCall("t", {})).effect is Effect.DENY
    assert policy.evaluate(ToolCall("t", {"kind": "x"})).effect is Effect.ALLOW


# --- aws_public_policy ---------------------------------------------------------------------------


def test_aws_public_policy_true_and_false():
    public = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}}]}
    private = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}}]}
    denied = {"Statement": [{"Effect": "Deny", "Principal": "*"}]}
    assert holds({"aws_public_policy": True}, public)
    assert holds({"aws_public_policy": True}, json.dumps(public))
    assert not holds({"aws_public_policy": True}, private)
    assert not holds({"aws_public_policy": True}, denied)
    assert holds({"aws_public_policy": False}, private)
    assert not holds({"aws_public_policy": False}, public)
    assert holds({"aws_public_policy": True}, "not json")  # could be anything
    deep = "[" * 5000 + "]" * 5000
    assert holds({"aws_public_policy": True}, deep)
    with pytest.raises(ValueError, match="true or false"):
        compile_predicate({"aws_public_policy": "yes"})


def test_new_operators_are_in_the_published_schema():
    props = json_schema()["anyOf"][1]["properties"]
    assert {"sql", "casefold", "aws_public_policy"} <= set(props)
    assert "select" in props["sql"]["properties"]["only"]["items"]["enum"]
