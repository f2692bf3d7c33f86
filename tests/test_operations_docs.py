"""Issue 14 #13: docs/operations.md has the runbooks, and its service example runs our CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from guardrails_plugin.cli import cli

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def test_the_runbooks_are_there():
    """Issue 14 #13: audit verify failed, restore a backup (with its key), Slack as a service,
    policy reload."""
    text = OPERATIONS.read_text()
    for heading in (
        "### When audit verify fails",
        "### Restoring a backup",
        "### Running the Slack app as a service",
        "### Running processes follow a changed policy file",
        "## The keys",
    ):
        assert heading in text
    restore = text.split("### Restoring a backup")[1].split("###")[0]
    assert "guardrails.db.key" in restore and "GUARDRAILS_AUDIT_KEY" in restore


def test_the_systemd_units_command_is_one_our_cli_accepts():
    """Issue 14 #13: the unit's ExecStart parses with the real `slack serve` options."""
    text = OPERATIONS.read_text()
    [unit] = re.findall(r"```ini\n(.*?)```", text, flags=re.DOTALL)
    [exec_start] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0].endswith("/guardrails-plugin")
    assert argv[1:3] == ["slack", "serve"]
    slack = cli.commands["slack"]
    assert isinstance(slack, click.Group)
    parsed = slack.commands["serve"].make_context("serve", argv[3:])
    assert parsed.params["socket"] is True
    assert str(parsed.params["policy"]) == "/etc/guardrails/policy.yaml"
