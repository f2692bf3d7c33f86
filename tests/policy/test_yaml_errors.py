"""YAML mistakes a newcomer makes, told in plain sentences with file:line:col (issue 14 #6)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from guardrails_plugin.cli import cli
from guardrails_plugin.errors import PolicyError
from guardrails_plugin.policy import Policy

HEAD = "version: 1\ndefaults: {effect: deny}\nrules:\n"

# (name, text after HEAD, line, column, words the sentence must contain)
MISTAKES = [
    (
        "indented-less",
        "  - id: a\n    match: {tool: x}\n   effect: deny\n",
        6,
        4,
        ["indented", "same column", "spaces"],
    ),
    (
        "indented-more",
        "  - id: a\n    match: {tool: x}\n      effect: deny\n",
        6,
        7,
        ["indented", "line 4"],
    ),
    ("tab", "  - id: a\n\tmatch: {tool: x}\n", 5, 1, ["tab", "spaces"]),
    (
        "unclosed-quote",
        '  - id: a\n    match: {tool: "x}\n    effect: deny\n',
        5,
        19,
        ["never closed", "line 5"],
    ),
    (
        "regex-escape",
        '  - id: a\n    match: {tool: x, args: {q: {regex: "\\d+"}}}\n    effect: deny\n',
        5,
        42,
        ["\\d", "double quotes", "single quotes"],
    ),
    (
        "colon-in-value",
        "  - id: a\n    match: {tool: x}\n    effect: deny\n    reason: Note: not now\n",
        7,
        17,
        ["': '", "quotes"],
    ),
    ("unclosed-list", "  - id: a\n    match: {tool: [x}\n", 5, 21, ["'['", "line 5", "']'"]),
    (
        "unclosed-mapping",
        "  - id: a\n    match: {tool: x\n    effect: deny\n",
        6,
        11,
        ["'{'", "line 5", "'}'"],
    ),
    ("missing-colon", "  - id: a\n    effect\n    match: {tool: x}\n", 5, 5, ["line 5", "':'"]),
    ("at-sign", "  - id: @admin\n", 4, 9, ["'@'", "quotes"]),
    ("list-in-mapping", "  - id: a\n    effect: deny\n    - id: b\n", 6, 5, ["'- ...'"]),
]


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [m[1:] for m in MISTAKES],
    ids=[m[0] for m in MISTAKES],
)
def test_yaml_syntax_errors_say_where_and_what_in_plain_words(write, text, line, column, words):
    """Issue 14 #6: a YAML syntax error names file:line:col and says in a plain sentence what
    is wrong and what to do, instead of PyYAML's parser vocabulary."""
    path = write(HEAD + text)
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    [problem] = info.value.problems
    assert (problem.line, problem.column) == (line, column), problem
    for word in words:
        assert word in problem.message, problem.message
    for jargon in ("<block end>", "<block mapping start>", "scalar", "token", "stream"):
        assert jargon not in problem.message, problem.message
    result = CliRunner().invoke(cli, ["policy", "check", str(path)])
    assert result.exit_code == 1 and f"{path}:{line}:{column}:" in result.output


def test_keys_not_indented_under_their_parent_say_so(write):
    """Issue 14 #6: `match:` followed by `tool:` at the same indentation is an empty match:
    said in those words, not as a type error."""
    path = write(HEAD + "  - id: a\n    match:\n    tool: x\n    effect: deny\n")
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    first = info.value.problems[0]
    assert first.line == 5 and first.field == "rules[0].match"
    assert "'match' is empty: indent the keys" in first.message


def test_a_backspace_from_a_double_quoted_regex_is_a_warning(write):
    """Issue 14 #6: "\\bDROP\\b" in double quotes is a regex of backspaces (YAML reads \\b as
    a backspace), so the rule never matches: `policy check` warns, naming the rule and the
    field and how to write it."""
    path = write(
        HEAD + '  - id: no-drop\n    match: {tool: run_sql, args: {query: {regex: "\\bDROP\\b"}}}\n'
        "    effect: deny\n"
        "  - id: fine\n    match: {tool: run_sql, args: {query: {regex: '\\bSELECT\\b'}}}\n"
        "    effect: allow\n"
    )
    policy = Policy.load(path)  # it still loads: the pattern is valid, only not what was meant
    [warning] = policy.warnings()
    assert f"{path}:5:" in warning and "rule 'no-drop'" in warning
    assert "rules[0].match.args.query.regex" in warning
    assert "backspace" in warning and "single quotes" in warning and "\\\\b" in warning
    result = CliRunner().invoke(cli, ["policy", "check", str(path)])
    assert result.exit_code == 0 and "warning" in result.output and "no-drop" in result.output
    data = json.loads(CliRunner().invoke(cli, ["policy", "check", str(path), "--json"]).output)
    assert data[0]["warnings"] == [warning]


def test_escapes_that_mean_what_they_say_are_not_warned_about(write):
    path = write(
        HEAD + '  - id: a\n    match: {tool: x, args: {q: {regex: "a\\tb\\n"}}}\n'
        '    effect: deny\n    reason: "two\\nlines"\n'
    )
    assert Policy.load(path).warnings() == []
