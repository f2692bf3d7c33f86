"""``audit tail|verify|checkpoint|export``: read and check the hash-chained audit log."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click
from rich.markup import escape

from guardrails_plugin.approvals.proof import RequestChecker
from guardrails_plugin.cli import render
from guardrails_plugin.cli.approvals import db_options, iso, open_store, with_store_errors
from guardrails_plugin.cli.watch import audit_line, follow_audit, interval_option
from guardrails_plugin.policy.schema import parse_duration
from guardrails_plugin.store.audit import Checkpoint, VerifyResult, parse_checkpoints
from guardrails_plugin.store.records import AuditRecord

__all__ = ["audit"]


def _row(r: AuditRecord) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "ts": iso(r.ts),
        "event": r.event,
        "request_id": r.request_id,
        "actor": r.actor,
        "data": dict(r.data),
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }


@click.group()
def audit() -> None:
    """Read, verify, checkpoint and export the audit log."""


@audit.command("tail")
@click.option("-n", "--lines", type=click.IntRange(1, 100_000), default=20, show_default=True)
@db_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new events as they land, until Ctrl-C."
)
@interval_option
@with_store_errors
def tail(lines: int, db: str | None, as_json: bool, follow: bool, interval: float) -> None:
    """Show the last audit events (--follow: and new ones as they land, like tail -f)."""
    store = open_store(db)
    head = store.audit_head()
    start = max(0, (head.seq if head else 0) - lines)
    if follow:
        follow_audit(store, start, _follower(as_json), interval)
        return
    rows = list(store.audit_rows(since_seq=start))
    if as_json:
        for r in rows:
            click.echo(render.safe(json.dumps(_row(r), ensure_ascii=False)))
        return
    columns = ("seq", "time", "event", "request", "actor", "details")
    cells = [
        (
            str(r.seq),
            iso(r.ts),
            _cell(r.event),
            _cell(r.request_id or ""),
            _cell(r.actor or ""),
            _cell(_details(r)),
        )
        for r in rows
    ]
    table = render.table(columns, cells, whole={"request"})
    render.stdout().print(table)


def _details(r: AuditRecord) -> str:
    details = json.dumps(dict(r.data), ensure_ascii=False)
    return details if len(details) < 160 else details[:159] + "…"


def _follower(as_json: bool) -> Callable[[AuditRecord], None]:
    """How a followed row is printed: a JSON line, or one line of text (a table cannot grow)."""
    if as_json:
        return lambda r: click.echo(render.safe(json.dumps(_row(r), ensure_ascii=False)))
    return lambda r: click.echo(audit_line(r))


def _checkpoints(value: str) -> list[Checkpoint]:
    """An inline checkpoint, or a file of them: the one ``audit checkpoint -o FILE`` appends to
    (one JSON object per line)."""
    path = Path(value)
    try:
        if path.is_file():
            return parse_checkpoints(path.read_text(encoding="utf-8"), str(path))
        return [Checkpoint.parse(value)]
    except (ValueError, OSError) as exc:
        hint = "" if path.is_file() else " (or a file of them)"
        raise click.BadParameter(f"{exc}{hint}", param_hint="--checkpoint") from None


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint",
    default=None,
    help="A checkpoint (JSON) or a file of them, as `audit checkpoint -o FILE` appends: each "
    "must match its row, and the newest detects a truncated log.",
)
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_store_errors
def verify(checkpoint: str | None, db: str | None, as_json: bool) -> None:
    """Recompute the keyed hash chain and cross-check every request against it; exit 1 and
    name the first broken row, or each request whose state the chain does not show."""
    anchors = _checkpoints(checkpoint) if checkpoint else []
    store = open_store(db)
    checker = RequestChecker()
    result = store.verify_audit(anchors, observe=checker.observe)
    problems = checker.problems(store.iter_requests(), store.iter_votes())
    ok = result.ok and not problems
    if as_json:
        click.echo(
            render.dumps(
                {
                    "ok": ok,
                    "chain_ok": result.ok,
                    "rows": result.checked,
                    "first_bad_seq": result.first_bad_seq,
                    "problem": result.problem,
                    "head": {"seq": result.head.seq, "hash": result.head.hash}
                    if result.head
                    else None,
                    "keyed_from": result.keyed_from,
                    "checkpoints": result.checkpoints,
                    "requests": {
                        "checked": checker.checked,
                        "problems": [{"request_id": r, "problem": p} for r, p in problems],
                    },
                }
            )
        )
    else:
        _print_verify(result, checker.checked, problems)
    if not ok:
        raise SystemExit(1)


def _cell(text: str) -> str:
    """Text read from the store, safe to print: no markup, no terminal control characters."""
    return escape(render.safe(text))


def _print_verify(result: VerifyResult, requests: int, problems: list[tuple[str, str]]) -> None:
    if result.ok:
        head = f"head {result.head.seq} {result.head.hash}" if result.head else "empty log"
        anchored = f", {result.checkpoints} checkpoints matched" if result.checkpoints else ""
        render.stdout().print(f"[green]ok[/] {result.checked} rows verified{anchored}; {head}")
        if result.keyed_from and result.keyed_from > 1:
            render.stdout().print(
                f"rows 1-{result.keyed_from - 1} predate the keyed chain (plain SHA-256): only a "
                "checkpoint exported before the upgrade vouches for them"
            )
    else:
        render.stderr().print(f"[red]BROKEN[/] at row {result.first_bad_seq}: {result.problem}")
        render.stderr().print(
            f"rows before {result.first_bad_seq} verify; what to do: docs/operations.md, "
            "'When audit verify fails'"
        )
    for request_id, problem in problems:
        render.stderr().print(f"[red]REQUEST[/] {_cell(request_id)}: {_cell(problem)}")
    if not problems:
        render.stdout().print(f"{requests} requests match the audit log")


@audit.command("upgrade")
@db_options
@with_store_errors
def upgrade(db: str | None) -> None:
    """Key the audit log of a store made before version 3 of the schema, once.

    Records the key's fingerprint, starts the keyed chain at the next row and re-keys open
    requests. Other commands refuse such a store rather than upgrade it silently: someone who
    can write the file could make an upgraded store look old again. Export a checkpoint after.
    """
    store = open_store(db, upgrade=True)
    result = store.verify_audit()
    keyed = result.keyed_from or 1
    render.stdout().print(
        f"[green]ok[/] {store.path}: audit rows from {keyed} on are keyed"
        + (f" (rows 1-{keyed - 1} predate the keyed chain)" if keyed > 1 else "")
        + "; now run `guardrails-plugin audit checkpoint -o FILE`"
    )


@audit.command("checkpoint")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also append the checkpoint to this file (keep it off this machine).",
)
@db_options
@with_store_errors
def checkpoint_cmd(output: Path | None, db: str | None) -> None:
    """Print the log's head (seq and hash) as JSON, to keep outside the database."""
    store = open_store(db)
    head = store.audit_head() or Checkpoint(0, "0" * 64)
    text = head.to_json()
    click.echo(text)
    if output is not None:
        with output.open("a", encoding="utf-8") as f:
            f.write(text + "\n")


def _since(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        return dt.datetime.now(dt.UTC).timestamp() - parse_duration(value)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO time like 2026-11-28T09:00:00Z or a duration like 24h, got {value!r}",
            param_hint="--since",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


@audit.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option("--since", default=None, help="Only events after this ISO time or duration ago.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to a file instead of stdout.",
)
@db_options
@with_store_errors
def export(fmt: str, since: str | None, output: Path | None, db: str | None) -> None:
    """Export audit events as JSON lines or CSV (hashes included, for offline verification)."""
    store = open_store(db)
    cutoff = _since(since)
    rows = (_row(r) for r in store.audit_rows() if r.ts >= cutoff)
    if output is None and sys.stdout.isatty():
        # For a person at a terminal: nothing from the log may act on it (files get the bytes).
        buffer = io.StringIO()
        _write(rows, fmt, buffer)
        sys.stdout.write(render.safe(buffer.getvalue(), multiline=True))
    elif output is None:
        _write(rows, fmt, sys.stdout)
    else:
        with output.open("w", encoding="utf-8", newline="") as f:
            _write(rows, fmt, f)


_COLUMNS = ["seq", "ts", "event", "request_id", "actor", "data", "prev_hash", "hash"]


def _write(rows: Iterator[dict[str, Any]], fmt: str, out: TextIO) -> None:
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer = csv.DictWriter(out, fieldnames=_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "data": json.dumps(row["data"], ensure_ascii=False)})
