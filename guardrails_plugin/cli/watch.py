"""``pending --watch`` and ``audit tail --follow``: keep a listing current until Ctrl-C.

Both poll the store every ``--interval`` seconds; between polls SQLite's change counter
(``PRAGMA data_version``) says whether anything was written at all, so an idle watch costs
one tiny query per interval. Ctrl-C ends a watch with exit status 0, not a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import click

from guardrails_plugin.cli import render
from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Status

__all__ = ["follow_audit", "interval_option", "watch_pending"]

Sleep = Callable[[float], None]

interval_option = click.option(
    "--interval",
    type=click.FloatRange(min=0.05, max=3600, min_open=False),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes (with --watch / --follow).",
)


def _until_interrupted(ticks: Iterator[None]) -> None:
    try:
        for _ in ticks:
            pass
    except KeyboardInterrupt:
        # Ctrl-C is how a watch ends: say nothing more, exit 0.
        click.echo("", err=True)


def watch_pending(
    store: Any,
    list_requests: Callable[[], list[ApprovalRequest]],
    show: Callable[[list[ApprovalRequest]], None],
    interval: float,
    *,
    sleep: Sleep = time.sleep,
) -> None:
    """Show ``list_requests()`` now and again whenever it changes, until Ctrl-C.

    At a terminal the screen is redrawn on every change, like watch(1); into a pipe or a file
    each changed listing is appended below a time stamp, and an unchanged one is not repeated.
    """
    console = render.stdout()
    tty = console.is_terminal

    def ticks() -> Iterator[None]:
        shown: list[tuple[str, Status, int]] | None = None
        token: int | None = None
        while True:
            now = store.change_token()
            if now != token:
                token = now
                requests = list_requests()
                key = [(r.id, r.status, r.revision) for r in requests]
                if key != shown:
                    shown = key
                    if tty:
                        console.clear()
                    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
                    console.print(
                        f"[dim]{stamp}: every {interval:g}s, Ctrl-C to stop[/]", highlight=False
                    )
                    show(requests)
            yield
            sleep(interval)

    _until_interrupted(ticks())


def audit_line(r: AuditRecord) -> str:
    """One audit row on one line (for ``--follow``, whose rows arrive one by one)."""
    when = dt.datetime.fromtimestamp(r.ts, dt.UTC).isoformat(timespec="seconds")
    details = json.dumps(dict(r.data), ensure_ascii=False)
    if len(details) > 300:
        details = details[:299] + "…"
    fields = [
        f"{r.seq:>6}",
        when.replace("+00:00", "Z"),
        f"{r.event:<22}",
        r.request_id or "-",
        r.actor or "-",
        details,
    ]
    return render.safe("  ".join(fields))


def follow_audit(
    store: Any,
    since_seq: int,
    emit: Callable[[AuditRecord], None],
    interval: float,
    *,
    sleep: Sleep = time.sleep,
) -> None:
    """Emit every audit row after ``since_seq`` as it is written, until Ctrl-C."""

    def ticks() -> Iterator[None]:
        last, token = since_seq, None
        while True:
            now = store.change_token()
            if now != token:
                token = now
                # Read the batch whole: an open cursor would pin an old snapshot of the file.
                for row in list(store.audit_rows(since_seq=last)):
                    emit(row)
                    last = row.seq
            yield
            sleep(interval)

    _until_interrupted(ticks())
