"""Every way a policy can be wrong refuses to load and says file, line, column, rule and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from guardrails_plugin.errors import PolicyError, PolicyProblem
from guardrails_plugin.policy import Policy
from guardrails_plugin.policy.yamlsource import MAX_FILE_BYTES

HEADER = """\
version: 1
defaults: {effect: deny}
people:
  alice: [slack:U1, cli:alice]
  bob: [slack:U2, cli:bob]
groups:
  dba: [alice, bob]
rules:
"""


def problem_of(write: Callable[..., Path], text: str, name: str = "policy.yaml") -> PolicyProblem:
    path = write(text, name)
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    err = info.value
    assert err.problems, "a PolicyError always carries problems"
    # str(err) carries every located problem, for humans and logs alike.
    assert str(err).startswith(err.problems[0].file)
    return err.problems[0]


def test_unknown_key_names_line_column_rule_field_and_allowed_keys(write):
    p = problem_of(
        write,
        HEADER
        + """\
  - id: r1
    match: {tool: x}
    effect: deny
    reasn: typo
""",
    )
    assert (p.line, p.column) == (12, 5)
    assert p.rule_id == "r1"
    assert p.field == "rules[0].reasn"
    assert "unknown key 'reasn'" in p.message
    assert "allowed:" in p.message and "reason" in p.message


def test_unknown_key_inside_match_lists_match_keys(write):
    p = problem_of(write, HEADER + "  - id: r1\n    match: {tool: x, tools: y}\n    effect: deny\n")
    assert p.field == "rules[0].match.tools"
    assert "allowed: all, any, args, context, data, not, tool" in p.message


def test_bad_effect_value_lists_allowed(write):
    p = problem_of(write, HEADER + "  - id: r1\n    match: {}\n    effect: aprove\n")
    assert p.line == 11 and p.rule_id == "r1" and p.field == "rules[0].effect"
    assert p.value == "aprove"
    assert "'aprove' is not one of 'allow', 'deny', 'require_approval'" in p.message


def test_duplicate_rule_ids_point_at_second_and_first(write):
    p = problem_of(
        write,
        HEADER
        + """\
  - id: same
    match: {tool: a}
    effect: deny
  - id: same
    match: {tool: b}
    effect: allow
""",
    )
    assert p.line == 12 and p.field == "rules[1].id"
    assert "duplicate rule id 'same'" in p.message
    assert "policy.yaml:9" in p.message  # where it was first defined


def test_unknown_approver_group(write):
    p = problem_of(
        write,
        HEADER
        + """\
  - id: export
    match: {tool: export}
    effect: require_approval
    approval: {approvers: [dbas]}
""",
    )
    assert p.rule_id == "export"
    assert p.field == "rules[0].approval.approvers[0]"
    assert p.line == 12
    assert "unknown approver group 'dbas'" in p.message
    assert "groups: dba" in p.message and "people: alice, bob" in p.message


def test_bad_regex(write):
    p = problem_of(
        write,
        HEADER
        + """\
  - id: r
    match:
      args:
        db: {regex: "^(prod"}
    effect: deny
""",
    )
    assert p.field == "rules[0].match.args.db.regex"
    assert p.line == 12 and p.rule_id == "r"
    assert "invalid regex '^(prod'" in p.message and "missing )" in p.message


def test_quorum_larger_than_approver_set(write):
    p = problem_of(
        write,
        HEADER
        + """\
  - id: two-of-one
    match: {tool: x}
    effect: require_approval
    approval: {approvers: [alice], quorum: 2}
""",
    )
    assert p.field == "rules[0].approval.quorum"
    assert "quorum 2 is larger than the 1 people" in p.message
    assert p.value == 2


def test_unknown_data_class(write):
    p = problem_of(
        write,
        HEADER + "  - id: r\n    match: {data: {contains: [SECRET, SECRETS]}}\n    effect: deny\n",
    )
    assert p.field == "rules[0].match.data.contains[1]"
    assert "unknown data class 'SECRETS'" in p.message and "SECRET," in p.message


def test_unknown_masking_class(write):
    p = problem_of(
        write,
        HEADER
        + "  - id: r\n    match: {}\n    effect: allow\n    masking: {classes: {MAIL: hash}}\n",
    )
    assert p.field == "rules[0].masking.classes.MAIL"
    assert "unknown data class 'MAIL'" in p.message


def test_alias_bomb_is_refused(write):
    lines = ["version: 1", "defaults: {effect: deny}", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    p = problem_of(write, "\n".join(lines) + "\n")
    assert "expands to more than" in p.message and "anchors/aliases" in p.message
    assert p.line > 0


def test_file_over_one_mib(write):
    body = HEADER + "# " + "x" * (MAX_FILE_BYTES) + "\n"
    p = problem_of(write, body)
    assert "policies are limited to 1,048,576 bytes" in p.message


def test_duplicate_yaml_keys(write):
    p = problem_of(write, "version: 1\ndefaults: {effect: deny}\ndefaults: {effect: allow}\n")
    assert (p.line, p.column) == (3, 1)
    assert "duplicate key 'defaults'" in p.message


def test_empty_file(write):
    assert "empty" in problem_of(write, "").message


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(PolicyError, match="not valid UTF-8"):
        Policy.load(path)


def test_python_tags_are_refused(write):
    p = problem_of(write, "version: 1\ndefaults: !!python/object:os.system {effect: deny}\n")
    assert "tag" in p.message and p.line == 2


def test_invalid_yaml_syntax_has_position(write):
    p = problem_of(write, "version: 1\nrules: [\n  - a\n")
    assert "invalid YAML" in p.message and p.line >= 2


def test_two_documents_refused(write):
    p = problem_of(write, "version: 1\ndefaults: {effect: deny}\n---\nversion: 1\n")
    assert "one YAML document" in p.message and p.line == 4  # the second document's first line


def test_missing_defaults_asks_for_posture(write):
    p = problem_of(write, "version: 1\nrules: []\n")
    assert p.field == "defaults" and "default posture" in p.message


def test_wrong_version(write):
    p = problem_of(write, "version: 2\ndefaults: {effect: deny}\n")
    assert p.field == "version" and "2 is not one of 1" in p.message


def test_bad_duration(write):
    p = problem_of(
        write,
        HEADER + "  - id: r\n    match: {}\n    effect: require_approval\n"
        "    approval: {approvers: [dba], timeout: 15 minutes}\n",
    )
    assert p.field == "rules[0].approval.timeout"
    assert "expected a duration like 30s, 15m, 2h or 1d" in p.message


def test_on_timeout_allow_is_refused(write):
    p = problem_of(
        write,
        HEADER + "  - id: r\n    match: {}\n    effect: require_approval\n"
        "    approval: {approvers: [dba], on_timeout: allow}\n",
    )
    assert p.field == "rules[0].approval.on_timeout" and "'allow' is not one of 'deny'" in p.message


def test_require_approval_without_approvers(write):
    p = problem_of(write, "version: 1\ndefaults: {effect: require_approval}\n")
    assert p.field == "defaults.approval.approvers"
    assert "needs approvers" in p.message


def test_approval_on_a_deny_rule(write):
    p = problem_of(
        write, HEADER + "  - id: r\n    match: {}\n    effect: deny\n    approval: {quorum: 1}\n"
    )
    assert p.field == "rules[0].approval" and "only apply to require_approval" in p.message


def test_unknown_operator(write):
    p = problem_of(
        write, HEADER + "  - id: r\n    match: {args: {db: {regx: a}}}\n    effect: deny\n"
    )
    assert p.field == "rules[0].match.args.db.regx"
    assert "unknown operator 'regx'" in p.message and "regex" in p.message


def test_nested_operator_error_has_full_path(write):
    p = problem_of(
        write,
        HEADER + "  - id: r\n    match: {args: {db: {not: {any: [{equals: a}, {gt: x}]}}}}\n"
        "    effect: deny\n",
    )
    assert p.field == "rules[0].match.args.db.not.any[1].gt"
    assert "'gt' needs a number" in p.message


def test_list_shorthand_needs_operator(write):
    p = problem_of(write, HEADER + "  - id: r\n    match: {args: {db: [a, b]}}\n    effect: deny\n")
    assert "{in: [...]}" in p.message


def test_bad_argument_path(write):
    p = problem_of(write, HEADER + "  - id: r\n    match: {args: {'a..b': 1}}\n    effect: deny\n")
    assert "bad argument path 'a..b'" in p.message


def test_bad_cel_expression(write):
    p = problem_of(
        write, HEADER + "  - id: r\n    match: {}\n    when: 'args.rows >'\n    effect: deny\n"
    )
    assert p.field == "rules[0].when" and "invalid CEL expression" in p.message


def test_identity_claimed_by_two_people(write):
    p = problem_of(
        write,
        "version: 1\ndefaults: {effect: deny}\npeople:\n  a: [slack:U1]\n  b: [cli:b, slack:U1]\n",
    )
    assert p.field == "people.b[1]" and "already belongs to 'a'" in p.message


def test_group_with_unknown_person(write):
    p = problem_of(
        write, "version: 1\ndefaults: {effect: deny}\npeople: {a: [cli:a]}\ngroups: {g: [a, zed]}\n"
    )
    assert p.field == "groups.g[1]" and "unknown person 'zed'" in p.message


def test_bad_identity_format(write):
    p = problem_of(write, "version: 1\ndefaults: {effect: deny}\npeople: {a: [U024BE7LH]}\n")
    assert p.field == "people.a[0]" and "must match" in p.message


def test_missing_rule_id(write):
    p = problem_of(write, HEADER + "  - match: {}\n    effect: deny\n")
    assert p.field == "rules[0].id" and "missing required key 'id'" in p.message
    assert p.line == 9


def test_every_problem_is_reported_not_just_the_first(write):
    path = write(
        HEADER
        + """\
  - id: a
    match: {data: {contains: [NOPE]}}
    effect: deny
  - id: b
    match: {args: {x: {regex: "("}}}
    effect: deny
""",
    )
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    assert [p.rule_id for p in info.value.problems] == ["a", "b"]


def test_include_cycle(write):
    root = write("version: 1\ninclude: [b.yaml]\ndefaults: {effect: deny}\n", "a.yaml")
    write("version: 1\ninclude: [a.yaml]\n", "b.yaml")
    with pytest.raises(PolicyError, match=r"include cycle: a.yaml -> b.yaml -> a.yaml"):
        Policy.load(root)


def test_missing_include(write):
    p = problem_of(write, "version: 1\ninclude: [nope.yaml]\ndefaults: {effect: deny}\n")
    assert p.field == "include[0]" and "not found" in p.message and p.line == 2


def test_error_in_included_file_names_that_file(write):
    write("version: 1\nrules:\n  - id: r\n    match: {}\n    effect: maybe\n", "sub/part.yaml")
    p = problem_of(write, "version: 1\ninclude: [sub/part.yaml]\ndefaults: {effect: deny}\n")
    assert p.file.endswith("part.yaml") and p.line == 5 and p.rule_id == "r"


def test_people_or_group_defined_differently_names_both_files(write):
    write("version: 1\npeople: {a: [cli:a], b: [cli:b]}\ngroups: {ops: [a]}\n", "team.yaml")
    p = problem_of(
        write,
        "version: 1\ninclude: [team.yaml]\ndefaults: {effect: deny}\ngroups: {ops: [a, b]}\n",
    )
    assert p.field == "groups.ops" and p.line == 4
    assert (
        p.message.startswith("group 'ops' is defined differently in") and "team.yaml" in p.message
    )


def test_included_file_may_not_change_defaults(write):
    write("version: 1\ndefaults: {effect: allow}\n", "part.yaml")
    p = problem_of(write, "version: 1\ninclude: [part.yaml]\ndefaults: {effect: deny}\n")
    assert p.file.endswith("part.yaml") and "may not change defaults" in p.message


def test_duplicate_rule_id_across_includes(write):
    write("version: 1\nrules:\n  - {id: r, match: {}, effect: deny}\n", "part.yaml")
    p = problem_of(
        write,
        "version: 1\ninclude: [part.yaml]\ndefaults: {effect: deny}\n"
        "rules:\n  - {id: r, match: {}, effect: allow}\n",
    )
    assert "duplicate rule id 'r'" in p.message and "part.yaml:3" in p.message


def test_missing_file():
    with pytest.raises(PolicyError, match="file not found"):
        Policy.load("/nonexistent/policy.yaml")
