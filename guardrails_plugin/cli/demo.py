"""``guardrails-plugin demo``: a guarded LangChain agent (default), or ``--policies-only``, a
walk through the example policies with scripted tool calls. No network, no API key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from guardrails_plugin.cli import reach, render
from guardrails_plugin.errors import PolicyError
from guardrails_plugin.policy import Policy
from guardrails_plugin.types import Principal, ToolCall

__all__ = ["demo"]

AGENT = Principal("agent:support-bot", on_behalf_of="slack:U024BE7LH")

# (policy file, tool, args, data classes the masker would report, environment)
SCRIPT: list[tuple[str, str, dict[str, Any], list[str], dict[str, str]]] = [
    ("default.yaml", "search_tickets", {"query": "refund"}, [], {}),
    ("default.yaml", "run_sql", {"query": "SELECT id FROM orders LIMIT 5"}, [], {}),
    ("default.yaml", "run_sql", {"query": "DROP TABLE customers"}, [], {}),
    ("default.yaml", "run_sql", {"query": "UPDATE users SET plan='pro' WHERE id=7"}, [], {}),
    (
        "default.yaml",
        "http_post",
        {"url": "https://paste.example", "body": "<API_KEY_1>"},
        ["API_KEY"],
        {},
    ),
    (
        "default.yaml",
        "send_email",
        {"to": "<EMAIL_1>", "body": "Hi <PERSON_1>"},
        ["EMAIL", "PERSON"],
        {},
    ),
    ("default.yaml", "restart_service", {"name": "billing"}, [], {}),
    ("data-export.yaml", "export_table", {"database": "prod-eu", "table": "customers"}, [], {}),
    ("data-export.yaml", "export_table", {"database": "dev", "table": "t", "limit": 500}, [], {}),
    (
        "data-export.yaml",
        "export_table",
        {"database": "prod-eu", "table": "payments"},
        ["CREDIT_CARD"],
        {},
    ),
    ("privilege-escalation.yaml", "grant_role", {"principal": "bob", "role": "OrgAdmin"}, [], {}),
    ("privilege-escalation.yaml", "grant_role", {"principal": "bob", "role": "reader"}, [], {}),
    ("privilege-escalation.yaml", "run_shell", {"command": "sudo rm -rf /var/log"}, [], {}),
    ("infrastructure.yaml", "terraform_plan", {"dir": "envs/prod"}, [], {"env": "prod"}),
    (
        "infrastructure.yaml",
        "terraform_apply",
        {"dir": "envs/prod", "flags": ["-destroy"]},
        [],
        {"env": "prod"},
    ),
    (
        "infrastructure.yaml",
        "kubectl_delete",
        {"kind": "pod", "name": "api-7f9"},
        [],
        {"env": "prod"},
    ),
    (
        "infrastructure.yaml",
        "s3_put_bucket_acl",
        {"bucket": "exports", "acl": "public-read"},
        [],
        {},
    ),
]

BAD_POLICY = """\
version: 1
defaults: {effect: deny}
rules:
  - id: prod-export
    match: {tool: export_table, args: {database: {regex: "^(prod"}}}
    effect: aprove
"""


@click.command()
@click.option(
    "--approve",
    "answer",
    flag_value="approve",
    default=None,
    help="Approve the export without asking.",
)
@click.option("--deny", "answer", flag_value="deny", help="Deny the export without asking.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A new SQLite file for the demo's store; the demo refuses a file that exists (it never "
    "replaces one). Default: a new temporary folder on each run.",
)
@click.option(
    "--model",
    default=None,
    help="A real chat model as provider:model (needs its package and API key); default: the "
    "scripted model, no network.",
)
@click.option(
    "--policies-only",
    is_flag=True,
    help="Only walk scripted calls through the example policies (no LangChain).",
)
@click.option(
    "--policies",
    "policies_dir",
    default="policies",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding the example policies (with --policies-only).",
)
def demo(
    answer: str | None, db: Path | None, model: str | None, policies_only: bool, policies_dir: Path
) -> None:
    """Run a guarded LangChain agent: masking, a denial, an approval, the audit trail.

    The agent's model is scripted, so no API key or network is needed. The export it attempts
    waits for you (a DBA) to approve or deny at the terminal, or use --approve / --deny.
    """
    if not policies_only:
        try:
            from guardrails_plugin.integrations.langchain.demo import run_agent_demo
        except ImportError as exc:
            raise click.ClickException(
                f"the agent demo needs the langchain extra ({exc.name} is missing): pip install "
                "'guardrails-plugin[langchain]'; or run `guardrails-plugin demo --policies-only`"
            ) from None
        run_agent_demo(db, answer, model)
        return
    out = render.stdout()
    if not policies_dir.is_dir():
        raise click.BadParameter(
            f"folder {str(policies_dir)!r} not found; run the demo from a clone of the repository "
            "or pass --policies DIR",
            param_hint="--policies",
        )
    loaded: dict[str, Policy] = {}
    for name in sorted({row[0] for row in SCRIPT}):
        try:
            loaded[name] = Policy.load(policies_dir / name)
        except PolicyError as exc:
            render.print_policy_error(render.stderr(), exc)
            raise SystemExit(1) from None
    out.print("[bold]guardrails-plugin demo[/]: what the guard decides for calls an agent makes\n")
    out.print(f"Agent {AGENT.agent}, acting for {AGENT.on_behalf_of}.\n")
    current = ""
    for name, tool, args, data, env in SCRIPT:
        if name != current:
            current = name
            out.print(f"\n[bold]{policies_dir / name}[/]")
        call = ToolCall(tool, args, principal=AGENT, environment=env)
        decision = loaded[name].evaluate(call, data)
        found = f"  [dim]found: {', '.join(data)}[/]" if data else ""
        where = f"  [dim]env: {env}[/]" if env else ""
        out.print(f"  {tool} {escape(json.dumps(args))}{found}{where}")
        rule = decision.rule_id or "default"
        out.print(
            f"    -> {render.effect_style(decision.effect)} ({rule}): {escape(decision.reason)}"
        )
    out.print("\n[bold]Why?[/] `policy explain` shows every rule checked before the winner:\n")
    explanation = loaded["default.yaml"].explain(
        ToolCall("run_sql", {"query": "UPDATE users SET plan='pro'"}, principal=AGENT)
    )
    render.print_explanation(out, explanation)
    out.print("\n[bold]A broken policy refuses to load[/], naming file, line, rule and field:\n")
    try:
        Policy.from_string(BAD_POLICY, name="bad-example.yaml")
    except PolicyError as exc:
        render.print_policy_error(out, exc)
    out.print(
        f"\nNext: `{reach.command()} policy explain policies/default.yaml --tool run_sql "
        '--args \'{"query": "DROP TABLE t"}\'`'
    )
    hint = reach.how_to_reach()
    if hint:
        out.print(hint)
