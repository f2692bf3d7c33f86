"""Errors that say what to do, and only name options that exist (issue 14 #5)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.cli import cli
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore

from .helpers import KEY, ME, POLICY, make_request

PACKAGE = Path(__file__).resolve().parent.parent / "guardrails_plugin"
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# `guardrails-plugin audit tail --db x`: the words up to the first option or argument.
INVOCATION = re.compile(r"(`?)guardrails-plugin((?: [a-z][a-z-]*)+)([^`\n]*)")
# Options of other programs quoted in messages (pip), and text that is data, not advice: the
# masker's notes about command lines it reads, a SQL comment in a docstring.
FOREIGN = {"--no-deps", "--require-hashes"}
NOT_ADVICE = ("masking/", "policy/sql.py")


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


COMMANDS = dict(_commands())


def _options(command: click.Command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names |= {o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")}
    return names


ALL_OPTIONS = set().union(*(_options(c) for c in COMMANDS.values()))


def _invocations(text: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """Each `guardrails-plugin CMD ... --opt` in ``text``: the command path and its options."""
    found = []
    for match in INVOCATION.finditer(text):
        quoted, words = match.group(1), tuple(match.group(2).split())
        if not quoted and (words[0],) not in COMMANDS:
            continue  # prose ("guardrails-plugin raises"), not a command
        while words and words not in COMMANDS:  # trailing words are arguments (an ID)
            words = words[:-1]
        found.append((words, OPTION.findall(match.group(2) + match.group(3))))
    return found


def _check_hint(text: str, command: tuple[str, ...] | None = None) -> list[str]:
    """What in ``text`` names a command or option that does not exist."""
    wrong = []
    for path, options in _invocations(text):
        if not path:
            wrong.append(f"no such command in {text!r}")
            continue
        wrong += [
            f"{' '.join(path)} has no {o}" for o in options if o not in _options(COMMANDS[path])
        ]
    outside = INVOCATION.sub("", text)
    allowed = _options(COMMANDS[command]) if command else ALL_OPTIONS
    wrong += [
        f"{o} is not an option" for o in OPTION.findall(outside) if o not in allowed | FOREIGN
    ]
    return wrong


def _strings() -> list[tuple[str, int, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(NOT_ADVICE):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append((rel, node.lineno, node.value))
    return out


def test_every_option_the_package_mentions_exists():
    """Issue 14 #5: every `guardrails-plugin CMD --opt` and every bare `--opt` written in the
    package's messages, help and docstrings is a real command and a real option of it (the
    Slack app used to ask for `--bot-token`, which never existed)."""
    wrong = [
        f"{file}:{line}: {problem}"
        for file, line, text in _strings()
        for problem in _check_hint(text)
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "doc",
    [PACKAGE.parent / "README.md", *sorted((PACKAGE.parent / "docs").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_every_command_the_docs_show_exists_with_its_options(doc):
    """Issue 14 #5: the commands the README and docs tell a reader to run are real."""
    wrong = [
        f"{doc.name}:{number}: {problem}"
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        for path, options in _invocations(line)
        for problem in (
            [f"no such command: {line.strip()}"]
            if not path
            else [
                f"{' '.join(path)} has no {o}" for o in options if o not in _options(COMMANDS[path])
            ]
        )
    ]
    assert not wrong, "\n".join(wrong)


def test_the_hint_checker_catches_a_made_up_option():
    assert _check_hint("missing the bot token (--bot-token or SLACK_BOT_TOKEN)")
    assert _check_hint("run `guardrails-plugin approve ID --revisoin 0`")
    assert _check_hint("run `guardrails-plugin aprove ID`")
    assert not _check_hint("run `guardrails-plugin approve ID --revision 0 --reason why`")


def test_slack_serve_names_only_its_own_options(monkeypatch):
    """Issue 14 #5: `slack serve` without settings names what is missing, and every option it
    suggests is an option of `slack serve`."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "GUARDRAILS_SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    policy = PACKAGE.parent / "policies" / "default.yaml"
    result = CliRunner().invoke(cli, ["slack", "serve", "--policy", str(policy)])
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN" in result.output and "--channel" in result.output
    assert not _check_hint(result.output, ("slack", "serve")), result.output


@pytest.fixture
def broker(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    monkeypatch.setenv("GUARDRAILS_DB", str(tmp_path / "g.db"))
    monkeypatch.delenv("GUARDRAILS_POLICY", raising=False)
    store = SQLiteStore(tmp_path / "g.db")
    yield ApprovalBroker(store, Policy.from_string(POLICY))  # this OS account is nobody in it
    store.close()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_approve_as_a_non_approver_says_who_you_are_who_may_and_how_to_join(broker):
    """Issue 14 #5: approve as an identity that is not an approver: the message names the
    identity, the people and groups who may approve, and how to add yourself."""
    request = make_request(broker)  # export: dba (alice, bob, carol), quorum 2
    code, out = run("approve", request.id, "--revision", "0")
    assert code == 1
    text = " ".join(out.split())
    assert f"You are cli:{ME}" in text
    assert "alice" in text and "bob" in text and "carol" in text and "group dba" in text
    assert "cli:alice" in text  # what an identity looks like
    assert "people:" in text and f"cli:{ME}" in text and "--policy" in text
    assert not _check_hint(out, ("approve",)), out
    code, out = run("deny", request.id, "--reason", "no")
    assert code == 1 and f"You are cli:{ME}" in out
    assert not _check_hint(out, ("deny",)), out


def test_a_required_reason_names_the_reason_option(broker, tmp_path):
    """Issue 14 #5: "requires a reason" names `--reason`."""
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.replace("bob: [slack:UBOB, cli:bob]", f"bob: [slack:UBOB, cli:{ME}]"))
    broker.policy = Policy.load(policy)
    request = make_request(broker, "terraform_apply", {"plan": "p1"})
    code, out = run("approve", request.id, "--revision", "0")
    assert code == 1 and "requires a reason" in out and "--reason" in out
    assert not _check_hint(out, ("approve",)), out
    code, out = run("approve", request.id, "--revision", "0", "--reason", "checked the plan")
    assert code == 0 and "approved by bob" in out
