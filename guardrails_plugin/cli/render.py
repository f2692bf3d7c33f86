"""Rendering shared by CLI commands: one function per thing shown, rich or JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from guardrails_plugin.errors import PolicyError
from guardrails_plugin.policy import Explanation
from guardrails_plugin.types import Decision, Effect

__all__ = [
    "decision_json",
    "dumps",
    "effect_style",
    "explanation_json",
    "print_explanation",
    "print_policy_error",
    "safe",
    "stderr",
    "stdout",
    "table",
]

# Control characters (C0 but tab/newline, DEL, C1), bidi and zero-width format characters, and
# Unicode tags: text from a model or an agent host must not move the cursor, recolour or rewrite
# the reviewer's terminal, or reorder what they read.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
_UNSAFE_LINE = re.compile(_UNSAFE.pattern[:-1] + "\n]")


def safe(text: str, *, multiline: bool = False) -> str:
    """``text`` with every character that could act on a terminal shown as ``\\uXXXX``.

    Inside JSON strings the result is still valid JSON with the same value. One-line fields
    escape newlines too (a run id must not forge the next line of the listing).
    """
    pattern = _UNSAFE if multiline else _UNSAFE_LINE
    return pattern.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_STYLES = {Effect.ALLOW: "green", Effect.DENY: "red", Effect.REQUIRE_APPROVAL: "yellow"}


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], *, whole: Collection[str] = ()
) -> Table:
    """A listing whose ``whole`` columns (request ids) never wrap and are never cut: a reviewer
    copies an id from here into ``show`` or ``approve``. The other columns fold to make room,
    and the light frame leaves them as much of an 80-column terminal as it can."""
    rows = list(rows)
    out = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for i, name in enumerate(columns):
        if name in whole:
            # Rich shrinks every column evenly as a last resort; a minimum width forbids that.
            width = max([len(name), *(len(str(row[i])) for row in rows)])
            out.add_column(name, no_wrap=True, min_width=width)
        else:
            out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*row)
    return out


def effect_style(effect: Effect) -> str:
    return f"[{_STYLES[effect]}]{effect.value}[/]"


def decision_json(decision: Decision) -> dict[str, Any]:
    out: dict[str, Any] = {
        "effect": decision.effect.value,
        "rule_id": decision.rule_id,
        "reason": decision.reason,
    }
    if decision.approval is not None:
        a = decision.approval
        out["approval"] = {
            "approvers": sorted(a.approvers),
            "quorum": a.quorum,
            "timeout_seconds": a.timeout_seconds,
            "on_timeout": a.on_timeout.value,
            "require_reason": a.require_reason,
            "allow_edit": a.allow_edit,
        }
    out["masking"] = {
        "strategy": decision.masking.strategy,
        "classes": dict(decision.masking.classes),
        "restore_placeholders": decision.masking.restore_placeholders,
    }
    return out


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    def trace(t: Any) -> dict[str, Any]:
        return {
            "rule_id": t.rule_id,
            "file": t.file,
            "line": t.line,
            "effect": t.effect.value,
            "matched": t.matched,
            "reason": t.reason,
        }

    return {
        "decision": decision_json(explanation.decision),
        "checked": [trace(t) for t in explanation.checked],
        "shadowed": [trace(t) for t in explanation.shadowed],
    }


def print_explanation(console: Console, explanation: Explanation) -> None:
    d = explanation.decision
    rule = f"rule [bold]{d.rule_id}[/]" if d.rule_id else "the default (no rule matched)"
    console.print(f"Decision: {effect_style(d.effect)} by {rule}")
    console.print(f"Reason:   {escape(d.reason)}")
    if d.approval is not None:
        a = d.approval
        console.print(
            f"Approval: {a.quorum} of {', '.join(sorted(a.approvers))}; "
            f"expires after {a.timeout_seconds}s"
            + ("; reason required" if a.require_reason else "")
            + ("; arguments editable" if a.allow_edit else "")
        )
    if explanation.checked:
        table = Table(title="Rules in order", title_justify="left")
        table.add_column("rule")
        table.add_column("effect")
        table.add_column("where")
        table.add_column("result")
        for t in explanation.checked:
            result = "[bold]matched[/]" if t.matched else escape(t.reason or "")
            table.add_row(t.rule_id, effect_style(t.effect), f"{t.file}:{t.line}", result)
        console.print(table)
    for t in explanation.shadowed:
        console.print(
            f"[dim]Also matches, but comes later: {t.rule_id} ({t.effect.value}) "
            f"at {t.file}:{t.line}[/]"
        )


def print_policy_error(console: Console, error: PolicyError) -> None:
    for problem in error.problems:
        console.print(f"[red]error[/] {escape(str(problem))}")


def dumps(data: Any) -> str:
    """JSON for the terminal: readable non-ASCII text, no character that acts on a terminal."""
    return safe(json.dumps(data, indent=2, ensure_ascii=False), multiline=True)
