"""``pending``, ``show``: see approval requests from a terminal (`cli.voting` decides them).

Everything printed from a request is made terminal-safe first (`render.safe`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape

from guardrails_plugin.approvals.review import shown_args, view_name
from guardrails_plugin.cli import render
from guardrails_plugin.cli.watch import interval_option, watch_pending
from guardrails_plugin.errors import GuardError
from guardrails_plugin.store.records import ApprovalRequest, Status

__all__ = [
    "POLICY_ENV",
    "db_options",
    "iso",
    "json_option",
    "open_store",
    "pending",
    "request_json",
    "resolve_id",
    "show",
    "with_store_errors",
]

POLICY_ENV = "GUARDRAILS_POLICY"
DB_HELP = (
    "The store: a SQLite file, sqlite:///FILE or postgresql://USER@HOST/DB (password from "
    "PGPASSWORD or ~/.pgpass; default: $GUARDRAILS_DB, then ./guardrails.db)."
)
F = TypeVar("F", bound=Callable[..., Any])


def db_options(func: F) -> F:
    """``--db`` (default $GUARDRAILS_DB, then ./guardrails.db) on a command."""
    return click.option(
        "--db",
        # Text, not a click.Path: a path would fold the '//' of a postgresql:// URL.
        type=str,
        default=None,
        metavar="PATH|URL",
        help=DB_HELP,
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


def open_store(db: str | Path | None, *, upgrade: bool = False) -> Any:
    """Open an existing store for a CLI command. Never creates a database or a key: a missing
    key is an error that says how to restore it (a new key could verify nothing)."""
    from guardrails_plugin.store.factory import open_store as open_any

    try:
        return open_any(db, create=False, upgrade=upgrade)
    except GuardError as exc:
        raise click.ClickException(str(exc)) from None


def with_store_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GuardError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def resolve_id(store: Any, prefix: str) -> str:
    """The full id of the one request whose id starts with ``prefix``."""
    try:
        return str(store.resolve_id(prefix))
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="ID") from None


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def request_json(r: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "status": r.status.value,
        "tool": r.tool,
        "args": dict(shown_args(r)),  # what reviewers see (approval.reviewer_view)
        "args_shown": view_name(r),
        "edited_args": dict(r.edited_args) if r.edited_args is not None else None,
        "revision": r.revision,
        "rule_id": r.rule_id,
        "reason": r.reason,
        "principal": r.principal,
        "on_behalf_of": r.on_behalf_of,
        "run_id": r.run_id,
        "approvers": sorted(r.approvers),
        "quorum": r.quorum,
        "require_reason": r.require_reason,
        "allow_edit": r.allow_edit,
        "data_classes": list(r.data_classes),
        "environment": dict(r.environment),
        "created_at": iso(r.created_at),
        "expires_at": iso(r.expires_at),
        "decided_at": iso(r.decided_at) or None,
        "decided_by": r.decided_by,
        "decision_reason": r.decision_reason,
        "executed_at": iso(r.executed_at) or None,
    }


def _cell(text: str) -> str:
    """Text from a request, safe to print: no markup, no terminal control characters."""
    return escape(render.safe(text))


def _short_args(args: Any, limit: int = 60) -> str:
    text = json.dumps(args, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.command()
@db_options
@click.option("--all", "show_all", is_flag=True, help="Include decided requests.")
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@click.option("--watch", is_flag=True, help="Keep the list current until Ctrl-C.")
@interval_option
@with_store_errors
def pending(
    db: str | None, show_all: bool, limit: int, as_json: bool, watch: bool, interval: float
) -> None:
    """List approval requests waiting for a decision (--watch: until Ctrl-C)."""
    store = open_store(db)
    if watch:
        _watch_pending(store, show_all, limit, as_json, interval)
        return
    requests = store.list_requests(None if show_all else Status.PENDING, limit)
    _print_pending(requests, as_json)


def _watch_pending(store: Any, show_all: bool, limit: int, as_json: bool, interval: float) -> None:
    def listing() -> list[ApprovalRequest]:
        return list(store.list_requests(None if show_all else Status.PENDING, limit))

    watch_pending(store, listing, lambda requests: _print_pending(requests, as_json), interval)


def _print_pending(requests: list[ApprovalRequest], as_json: bool) -> None:
    if as_json:
        click.echo(render.dumps([request_json(r) for r in requests]))
        return
    if not requests:
        render.stdout().print("No pending approval requests.")
        return
    columns = ("id", "status", "tool", "arguments", "rule", "requested by", "expires")
    rows = [
        (
            _cell(r.id),
            r.status.value,
            _cell(r.tool),
            _cell(_short_args(shown_args(r))),
            _cell(r.rule_id or "(default)"),
            _cell(r.on_behalf_of or r.principal),
            iso(r.expires_at),
        )
        for r in requests
    ]
    table = render.table(columns, rows, whole={"id"})
    render.stdout().print(table)


@click.command()
@click.argument("request_id", metavar="ID")
@db_options
@json_option
@with_store_errors
def show(request_id: str, db: str | None, as_json: bool) -> None:
    """Show one request (masked arguments, approvers, votes). ID may be a unique prefix."""
    store = open_store(db)
    request = store.get_request(resolve_id(store, request_id))
    votes = store.votes(request.id)
    data = request_json(request)
    data["votes"] = [
        {
            "person": v.person,
            "identity": v.identity,
            "channel": v.channel,
            "verdict": v.verdict.value,
            "reason": v.reason,
            "revision": v.revision,
            "at": iso(v.created_at),
        }
        for v in votes
    ]
    if as_json:
        click.echo(render.dumps(data))
        return
    out = render.stdout()
    for key in (
        "id",
        "status",
        "tool",
        "rule_id",
        "reason",
        "principal",
        "on_behalf_of",
        "run_id",
        "created_at",
        "expires_at",
        "decided_at",
        "decided_by",
        "decision_reason",
        "executed_at",
    ):
        if data[key] not in (None, ""):
            out.print(f"[bold]{key:>16}[/] {_cell(str(data[key]))}")
    approvers = _cell(", ".join(data["approvers"]))
    out.print(f"[bold]{'approvers':>16}[/] {approvers} (quorum {request.quorum})")
    if request.data_classes:
        out.print(f"[bold]{'data found':>16}[/] {_cell(', '.join(request.data_classes))}")
    out.print(f"[bold]{'revision':>16}[/] {request.revision}")
    out.print(f"[bold]{'arguments':>16}[/] ({view_name(request)}, revision {request.revision})")
    shown = shown_args(request)
    out.print(escape(render.dumps(shown)))
    for v in data["votes"]:
        reason = f": {v['reason']}" if v["reason"] else ""
        out.print(
            f"  {v['at']} {_cell(v['person'])} ({_cell(v['identity'])} via {_cell(v['channel'])})"
            f" {v['verdict']} (revision {v['revision']}){_cell(reason)}"
        )
    if request.status is Status.PENDING:
        out.print(
            f"\nTo approve what is shown here: guardrails-plugin approve {request.id} "
            f"--revision {request.revision}"
        )
