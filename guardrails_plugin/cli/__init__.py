"""The ``guardrails-plugin`` command. The only part of the package that prints."""

from __future__ import annotations

import click

from guardrails_plugin import __version__
from guardrails_plugin.cli.approvals import pending, show
from guardrails_plugin.cli.audit import audit
from guardrails_plugin.cli.db import db
from guardrails_plugin.cli.demo import demo
from guardrails_plugin.cli.mask import mask
from guardrails_plugin.cli.mcp import mcp
from guardrails_plugin.cli.policy import policy
from guardrails_plugin.cli.serve import serve
from guardrails_plugin.cli.slack import slack
from guardrails_plugin.cli.voting import approve, deny, edit

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="guardrails-plugin")
def cli() -> None:
    """Guard AI agent tool calls: YAML policies, masking, human approvals, audit."""


for command in (
    policy,
    mask,
    pending,
    show,
    approve,
    deny,
    edit,
    audit,
    db,
    slack,
    serve,
    mcp,
    demo,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="guardrails-plugin")
