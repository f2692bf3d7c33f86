"""The agent demo: a real LangChain ``create_agent`` agent, a scripted model, a real guard.

The agent looks up a customer (the model sees placeholders), emails them (the placeholder is
restored for that tool only), tries to make a bucket public (denied; the model reads why) and
exports a production table (needs approval: the run waits while the operator, who is not the
requester, decides). Then the audit trail is printed and its hash chain verified.
"""

from __future__ import annotations

import json
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from guardrails_plugin.approvals.review import shown_args
from guardrails_plugin.cli import reach, render
from guardrails_plugin.cli.identity import os_account
from guardrails_plugin.store.records import ApprovalRequest, Status

__all__ = ["run_agent_demo"]

AGENT = "agent:support-bot"
REQUESTER = "slack:UDEMOSAM"
CUSTOMER = {
    "id": 42,
    "name": "Ana Lopez",
    "email": "ana.lopez@example.org",
    "phone": "+34 612 345 678",
    "plan": "pro",
    "card": "4242 4242 4242 4242",
}


def demo_policy(operator: str) -> str:
    return f"""
version: 1
defaults:
  effect: require_approval
  approval: {{approvers: [dba], timeout: 15m, on_timeout: deny}}
people:
  sam: [{REQUESTER}, cli:sam]          # the human the agent acts for
  operator: [cli:{operator}]           # you, at this terminal
groups:
  dba: [operator]
rules:
  - id: no-public-buckets
    match: {{tool: s3_put_bucket_acl, args: {{acl: {{in: [public-read, public-read-write]}}}}}}
    effect: deny
    reason: Making a bucket public is forbidden.
  - id: prod-export
    match: {{tool: export_table, args: {{database: {{regex: "^prod"}}}}}}
    effect: require_approval
    reason: Exporting production data needs a DBA.
    approval: {{approvers: [dba], require_reason: false}}
  - id: email-customers
    match: {{tool: send_email}}
    effect: allow
    masking: {{restore_placeholders: true}}   # the tool gets the real address, the model never
  - id: reads
    match: {{tool: "lookup_*"}}
    effect: allow
"""


def _tools(console: Console) -> list[Any]:
    from langchain_core.tools import tool

    @tool
    def lookup_customer(customer_id: int) -> dict[str, Any]:
        """Look up a customer record by id."""
        return dict(CUSTOMER, id=customer_id)

    @tool
    def send_email(to: str, subject: str, body: str) -> str:
        """Send an email to a customer."""
        console.print(f"    [dim]tool send_email really sends to {escape(to)}: {escape(body)}[/]")
        return f"Email '{subject}' sent to {to}."

    @tool
    def s3_put_bucket_acl(bucket: str, acl: str) -> str:
        """Change the ACL of an S3 bucket."""
        raise RuntimeError("the guard must never let this run")

    @tool
    def export_table(database: str, table: str) -> str:
        """Export a database table to S3."""
        return f"Exported {database}.{table} to s3://exports/{table}.csv (1,204 rows)."

    return [lookup_customer, send_email, s3_put_bucket_acl, export_table]


def _script() -> list[Any]:
    from langchain_core.messages import AIMessage

    from guardrails_plugin.integrations.langchain.testing import tool_call

    return [
        AIMessage(
            "Let me look the customer up.",
            tool_calls=[tool_call("lookup_customer", {"customer_id": 42}, "call-1")],
        ),
        AIMessage(
            "I'll email them about the upgrade.",
            tool_calls=[
                tool_call(
                    "send_email",
                    {
                        "to": "<EMAIL_1>",
                        "subject": "Your upgrade",
                        "body": "Hi <PERSON_1>, your plan is now pro.",
                    },
                    "call-2",
                )
            ],
        ),
        AIMessage(
            "Sharing the export bucket publicly so they can download it.",
            tool_calls=[
                tool_call(
                    "s3_put_bucket_acl", {"bucket": "exports", "acl": "public-read"}, "call-3"
                )
            ],
        ),
        AIMessage(
            "Instead, I'll export the table for them.",
            tool_calls=[
                tool_call("export_table", {"database": "prod-eu", "table": "customers"}, "call-4")
            ],
        ),
        AIMessage("Done."),  # replaced by what the tool results said: see `_closing`
    ]


# What the model says about each tool, by whether its result was an answer or an error.
_OUTCOMES = {
    "lookup_customer": ("looked the customer up", "could not look the customer up"),
    "send_email": ("emailed them", "could not email them"),
    "s3_put_bucket_acl": ("made the bucket public", "was refused making the bucket public"),
    "export_table": (
        "exported the table once the DBA approved",
        "did not export the table: it was not approved",
    ),
}


def _closing(messages: list[Any]) -> str:
    """The model's last words, true whichever way the reviewer decided: a fixed script would
    claim an export that a denial stopped."""
    outcome: dict[str, bool] = {}
    for message in messages:
        if type(message).__name__ == "ToolMessage" and message.name in _OUTCOMES:
            outcome[message.name] = message.status != "error"
    said = [_OUTCOMES[name][0 if ok else 1] for name, ok in outcome.items()]
    return f"Done: I {', '.join(said[:-1])} and {said[-1]}." if len(said) > 1 else "Done."


def _scripted_model() -> Any:
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel

    class DemoModel(ScriptedChatModel):
        """The script, closing with what the tool results said."""

        def _generate(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: Any = None,
            **kwargs: Any,
        ) -> ChatResult:
            result = super()._generate(messages, stop, run_manager, **kwargs)
            reply = result.generations[0].message
            if isinstance(reply, AIMessage) and reply.tool_calls:
                return result
            return ChatResult(generations=[ChatGeneration(message=AIMessage(_closing(messages)))])

    return DemoModel(responses=_script())


def _model(spec: str | None) -> Any:
    """The scripted model, or a real one named ``provider:model`` (needs its package and key)."""
    if spec is None:
        return _scripted_model()
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(spec)
    except (ImportError, ValueError) as exc:
        raise click.ClickException(
            f"cannot use model {spec!r}: {exc}. Install the provider's package (for example "
            "langchain-openai) and set its API key, or leave --model out for the scripted model."
        ) from None


def _require_spacy_model() -> None:
    """Say once, before the agent starts, that names cannot be found: otherwise each call whose
    text needs NER is denied, and each denial logs the same missing model again."""
    from guardrails_plugin.errors import ConfigError
    from guardrails_plugin.masking.spacy_model import find_model_path

    try:
        find_model_path()
    except ConfigError as exc:
        raise click.ClickException(
            f"the demo's masker needs a spaCy model to find names: {exc}"
        ) from None


def _new_store(db: Path | None) -> Path:
    """The demo's store: a file the demo creates now. An existing file (or the WAL, shared
    memory or key of one) may be someone's approvals and audit trail: refused, never replaced."""
    if db is None:
        return Path(tempfile.mkdtemp(prefix="guardrails-demo-")) / "guardrails-demo.db"
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}.key")):
        if path.exists() or path.is_symlink():
            raise _exists(path)
    try:
        db.open("x").close()  # claimed: a file that appeared since the check is not touched
    except FileExistsError:
        raise _exists(db) from None
    except OSError as exc:
        raise click.BadParameter(f"cannot create {db}: {exc.strerror}", param_hint="--db") from None
    return db


def _exists(path: Path) -> click.BadParameter:
    return click.BadParameter(
        f"{path} already exists, and the demo never replaces a file it did not create. Pass "
        "--db with a new file name, or leave --db out to use a new temporary folder (delete "
        f"{path} yourself if it is an old demo's and you no longer need it).",
        param_hint="--db",
    )


def run_agent_demo(db: Path | None, answer: str | None, model: str | None = None) -> None:
    from langchain.agents import create_agent

    from guardrails_plugin.guard import Guard
    from guardrails_plugin.integrations.langchain import GuardMiddleware
    from guardrails_plugin.policy import Policy

    console = render.stdout()
    operator = os_account()
    _require_spacy_model()
    chat_model = _model(model)  # a model that cannot be used leaves no store behind
    db = _new_store(db)
    guard = Guard.from_policy(
        Policy.from_string(demo_policy(operator), name="demo-policy.yaml"),
        store=db,
        principal=AGENT,
        on_behalf_of=REQUESTER,
    )
    console.print(
        "[bold]guardrails-plugin demo[/]: a LangChain agent with a scripted model, "
        "guarded by GuardMiddleware"
    )
    console.print(
        f"agent {AGENT} acting for {REQUESTER}; you are cli:{operator}, a DBA; store {db}\n"
    )
    agent = create_agent(chat_model, _tools(console), middleware=[GuardMiddleware(guard)])
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def drive() -> None:
        question: Any = {"messages": [("user", "Upgrade customer 42 and tell them")]}
        try:
            for update in agent.stream(
                question, {"configurable": {"thread_id": "demo"}}, stream_mode="updates"
            ):
                events.put(("update", update))
        except Exception as exc:  # noqa: BLE001 - shown to the user, then the demo stops
            events.put(("error", exc))
        events.put(("done", None))

    threading.Thread(target=drive, name="demo-agent", daemon=True).start()
    asked: set[str] = set()
    while True:
        try:
            kind, payload = events.get(timeout=0.05)
        except queue.Empty:
            for request in guard.store.list_requests(Status.PENDING):
                if request.id not in asked:
                    asked.add(request.id)
                    _ask(console, guard, request, operator, answer)
            continue
        if kind == "done":
            break
        if kind == "error":
            raise click.ClickException(f"the agent run failed: {payload}")
        _show(console, payload)
    _audit(console, guard)


def _show(console: Console, update: dict[str, Any]) -> None:
    for node, value in update.items():
        for message in (value or {}).get("messages", []):
            kind = type(message).__name__
            if kind == "AIMessage":
                if message.content:
                    console.print(f"[cyan]model[/]  {escape(str(message.content))}")
                for call in message.tool_calls:
                    console.print(
                        f"[cyan]  calls[/] {call['name']}"
                        f"({escape(json.dumps(call['args'], ensure_ascii=False))})"
                    )
            elif kind == "ToolMessage":
                style = "red" if message.status == "error" else "green"
                console.print(
                    f"[{style}]  tool result seen by the model[/] {escape(str(message.content))}"
                )
        del node


def _ask(
    console: Console, guard: Any, request: ApprovalRequest, operator: str, answer: str | None
) -> None:
    console.print(
        f"\n[yellow]approval needed[/] {request.id}: {request.tool}"
        f"({escape(json.dumps(dict(shown_args(request))))})"  # the reviewer's view
    )
    console.print(
        f"  rule {request.rule_id}: {escape(request.reason)}; requested by "
        f"{request.principal} for {request.on_behalf_of}"
    )
    if answer is None and sys.stdin.isatty():
        verdict = "approve" if click.confirm("  Approve this call?", default=False) else "deny"
        reason = click.prompt("  Reason", default="checked by the operator", show_default=False)
    elif answer is None:
        verdict, reason = "deny", "no operator answered (stdin is not a terminal)"
        console.print(
            "  [yellow]stdin is not a terminal, so nobody can answer: denied.[/] Run the demo "
            f"with --approve (or --deny) to decide without a prompt: `{reach.command()} demo "
            "--approve`."
        )
    else:
        verdict = answer
        reason = f"{'approved' if answer == 'approve' else 'denied'} from the command line"
    result = guard.broker.vote(
        request.id,
        f"cli:{operator}",
        verdict,
        reason=reason,
        channel="cli",
        revision=request.revision,
    )
    console.print(f"  you (cli:{operator}) {verdict}: {escape(result.message)}\n")
    time.sleep(0.05)


def _audit(console: Console, guard: Any) -> None:
    table = Table(title="\nAudit trail (hash-chained, values masked)", title_justify="left")
    for column in ("seq", "event", "actor", "details"):
        table.add_column(column, overflow="fold")
    rows = list(guard.store.audit_rows())
    for row in rows:
        data = dict(row.data)
        summary = {
            k: data[k]
            for k in (
                "tool",
                "effect",
                "rule_id",
                "reason",
                "approved_by",
                "denied_by",
                "masked_args",
                "output_classes",
            )
            if data.get(k) not in (None, [], "")
        }
        table.add_row(
            str(row.seq),
            row.event,
            escape(row.actor or ""),
            escape(json.dumps(summary, ensure_ascii=False)),
        )
    console.print(table)
    result = guard.store.verify_audit()  # keyed: recomputed under the store's key
    status = "[green]verified[/]" if result.ok else f"[red]BROKEN[/] at row {result.first_bad_seq}"
    head = result.head.hash[:16] if result.head else "-"
    console.print(f"audit chain {status}: {result.checked} rows, head {head}…")
    console.print(f"\nTry: {reach.command()} audit tail --db {guard.store.path}")
    hint = reach.how_to_reach()
    if hint:
        console.print(hint)
