"""``guardrails-plugin policy``: check, explain and publish the schema of policy files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from guardrails_plugin import data_classes
from guardrails_plugin.cli import render
from guardrails_plugin.errors import PolicyError
from guardrails_plugin.policy import Policy, PolicyDocument
from guardrails_plugin.types import Principal, ToolCall

__all__ = ["policy"]


@click.group()
def policy() -> None:
    """Check, explain and document policy files."""


@policy.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def check(files: tuple[Path, ...], as_json: bool) -> None:
    """Validate policy FILES; exit 1 if any is invalid.

    Every problem is reported with its file, line, column, rule and field.
    """
    results: list[dict[str, Any]] = []
    out, err = render.stdout(), render.stderr()
    for file in files:
        try:
            loaded = Policy.load(file)
        except PolicyError as exc:
            results.append(
                {"file": str(file), "ok": False, "problems": [_problem(p) for p in exc.problems]}
            )
            if not as_json:
                render.print_policy_error(err, exc)
            continue
        warnings = loaded.shadowed_rules() + loaded.reviewer_view_warnings()
        results.append(
            {"file": str(file), "ok": True, "rules": len(loaded.rules), "warnings": warnings}
        )
        if not as_json:
            default = loaded.default.effect.value
            out.print(f"[green]ok[/] {file}: {len(loaded.rules)} rules, default {default}")
            for warning in warnings:
                err.print(f"[yellow]warning[/] {escape(warning)}")
    if as_json:
        click.echo(render.dumps(results))
    if not all(r["ok"] for r in results):
        raise SystemExit(1)


def _problem(p: Any) -> dict[str, Any]:
    return {
        "file": p.file,
        "line": p.line,
        "column": p.column,
        "rule_id": p.rule_id,
        "field": p.field,
        "message": p.message,
    }


def _parse_args(_ctx: click.Context, _param: click.Parameter, value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f'expected a JSON object such as \'{{"database": "prod"}}\': {exc.msg} at column '
            f"{exc.colno}"
        ) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter(f"expected a JSON object, got {type(parsed).__name__}")
    return parsed


def _parse_data(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str]:
    names = [v.strip() for v in (value or "").split(",") if v.strip()]
    unknown = [n for n in names if data_classes.get(n) is None]
    if unknown:
        raise click.BadParameter(
            f"unknown data class {', '.join(unknown)}; known: {', '.join(data_classes.known())}"
        )
    return names


def _parse_env(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> dict[str, str]:
    env = {}
    for item in value:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE such as env=prod, got {item!r}")
        env[key] = val
    return env


@policy.command("explain")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tool", required=True, help="Tool name of the call.")
@click.option(
    "--args", "args", default="{}", callback=_parse_args, help="Arguments as a JSON object."
)
@click.option(
    "--data", callback=_parse_data, help="Data classes found, comma-separated: SECRET,EMAIL."
)
@click.option("--principal", default=None, help="The agent's identity, e.g. agent:support-bot.")
@click.option("--on-behalf-of", default=None, help="The human's identity, e.g. slack:U024BE7LH.")
@click.option(
    "--env",
    "env",
    multiple=True,
    callback=_parse_env,
    help="Environment label KEY=VALUE; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain(
    file: Path,
    tool: str,
    args: dict[str, Any],
    data: list[str],
    principal: str | None,
    on_behalf_of: str | None,
    env: dict[str, str],
    as_json: bool,
) -> None:
    """Show the decision FILE gives a call, and why each earlier rule did not match."""
    try:
        loaded = Policy.load(file)
    except PolicyError as exc:
        render.print_policy_error(render.stderr(), exc)
        raise SystemExit(1) from None
    who = Principal(principal or "", on_behalf_of) if principal or on_behalf_of else None
    call = ToolCall(tool=tool, args=args, principal=who, environment=env)
    explanation = loaded.explain(call, data)
    if as_json:
        click.echo(render.dumps(render.explanation_json(explanation)))
    else:
        render.print_explanation(render.stdout(), explanation)


@policy.command("schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to a file instead of stdout.",
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema of policy files, for editor completion."""
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **PolicyDocument.model_json_schema(by_alias=True),
        "title": "guardrails-plugin policy",
    }
    text = render.dumps(document)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
