"""``guardrails-plugin db``: move a store to PostgreSQL and set up its database roles."""

from __future__ import annotations

import click

from guardrails_plugin.cli import render
from guardrails_plugin.cli.approvals import with_store_errors
from guardrails_plugin.errors import StoreError
from guardrails_plugin.store.urls import is_postgres, mask_url

__all__ = ["db"]


@click.group()
def db() -> None:
    """Move a store from SQLite to PostgreSQL, and set up PostgreSQL's roles."""


@db.command("migrate")
@click.option("--from", "source", required=True, metavar="FILE.db", help="The SQLite store.")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="An empty PostgreSQL database: postgresql://USER@HOST/DB (password from PGPASSWORD "
    "or ~/.pgpass).",
)
@with_store_errors
def migrate(source: str, target: str) -> None:
    """Copy requests, votes and the audit trail from a SQLite store into PostgreSQL.

    Verifies the audit chain before and after (before the copy commits), cross-checks the
    source's requests and votes against it as `audit verify` does, and refuses a target that
    already holds requests or audit rows. The key is the source's (GUARDRAILS_AUDIT_KEY, or
    FILE.db.key): give every host of the new deployment the same key.
    """
    from guardrails_plugin.store.factory import open_store
    from guardrails_plugin.store.transfer import copy_store

    if not is_postgres(target):
        raise click.BadParameter("give a postgresql:// URL", param_hint="--to")
    if is_postgres(source):
        raise click.BadParameter("give the SQLite file to copy from", param_hint="--from")
    old = open_store(source, create=False)
    try:
        new = open_store(target, key_file=getattr(old, "key_file", None))
    except BaseException:
        old.close()
        raise
    try:
        copied = copy_store(old, new)  # type: ignore[arg-type]  # checked by is_postgres
    finally:
        new.close()
        old.close()
    head = f"row {copied.head.seq}" if copied.head else "empty"
    render.stdout().print(
        f"[green]ok[/] copied {copied.requests} requests, {copied.votes} votes and "
        f"{copied.audit_rows} audit rows to {mask_url(target)}; both chains verify and the "
        "source's requests and votes match its audit log "
        f"(head: {head}). Export a checkpoint of the new store: "
        "`guardrails-plugin audit checkpoint --db URL -o FILE`"
    )


@db.command("roles")
@click.option("--db", "target", required=True, metavar="URL", help="The PostgreSQL store.")
@with_store_errors
def roles(target: str) -> None:
    """Create the guardrails_agent and guardrails_reviewer roles and grant their rights.

    Run as the owner of the store's tables. Then give each host a login role in one of them,
    and run this again (it sets each login's idle_in_transaction_session_timeout):
    CREATE ROLE agent_1 LOGIN PASSWORD '…' IN ROLE guardrails_agent;
    Takes CREATE on the tables' schema and public away from PUBLIC and both roles, and refuses
    while a member of either can still create there.
    """
    if not is_postgres(target):
        raise click.BadParameter("give a postgresql:// URL", param_hint="--db")
    import psycopg

    from guardrails_plugin.store.postgres_roles import apply_roles

    try:
        warnings = apply_roles(target)
    except psycopg.Error as exc:
        raise StoreError(
            f"{mask_url(target)}: could not apply the roles: {mask_url(str(exc))}"
        ) from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    render.stdout().print(
        f"[green]ok[/] roles guardrails_agent and guardrails_reviewer set up on {mask_url(target)}"
    )
