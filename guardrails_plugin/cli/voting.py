"""``approve``, ``deny`` and ``edit``: vote on approval requests from a terminal.

The CLI votes as ``cli:<OS account>`` (from the OS, see `cli.identity`); there is no flag or
variable to claim another identity. Who may approve is what the request recorded when the policy
in force created it; ``--policy`` can only narrow that (revocations), never add a voter. An
approval names the revision ``show`` displayed, so an edit made since is never approved unseen.

``edit`` is Slack's "edit arguments": the reviewer's arguments become the request's next
revision and carry this reviewer's approval, through the very same `ApprovalBroker.vote` (the
edited call is judged by the policy and the masker again, may move to a stricter rule, and is
refused for self-approval, non-approvers, stale revisions and rules that forbid edits).
A refusal says who you are, what the rule wants and which option or policy change fixes it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from guardrails_plugin.cli import render
from guardrails_plugin.cli.approvals import (
    POLICY_ENV,
    db_options,
    json_option,
    open_store,
    request_json,
    resolve_id,
    with_store_errors,
)
from guardrails_plugin.cli.identity import cli_identity, os_account
from guardrails_plugin.cli.setpath import apply_sets, parse_set
from guardrails_plugin.errors import (
    ApprovalError,
    NotAnApprover,
    PolicyError,
    ReasonRequired,
    RequestChanged,
)
from guardrails_plugin.store.records import ApprovalRequest, Verdict

__all__ = ["approve", "deny", "edit", "reviewer_broker"]


def reviewer_broker(store: Any, policy: Any) -> Any:
    """The broker a reviewer channel (this CLI, the Slack app) votes through: the policy for
    membership and for judging edits, and the guard's masker to find the data classes in edited
    arguments and to mask them for the audit log, as the guard's own broker does."""
    from guardrails_plugin.approvals import ApprovalBroker
    from guardrails_plugin.guard import keyed_masker, plain_masking
    from guardrails_plugin.masking import Masker

    # Keyed like the guard's (from the store's key), so a `hash`-masked value in an edit's
    # audit row matches the same value in the guard's rows.
    masker = keyed_masker(Masker(), store)
    return ApprovalBroker(store, policy, scan=masker.scan, mask=plain_masking(masker))


def _policy_path(policy: Path | None) -> Path | None:
    return policy or (Path(os.environ[POLICY_ENV]) if os.environ.get(POLICY_ENV) else None)


def _broker(db: str | None, policy: Path | None) -> Any:
    from guardrails_plugin.policy import Policy

    store = open_store(db)
    loaded = None
    path = _policy_path(policy)
    if path is not None:
        try:
            loaded = Policy.load(path)
        except PolicyError as exc:
            render.print_policy_error(render.stderr(), exc)
            raise SystemExit(1) from None
    return reviewer_broker(store, loaded)


# --- what a refusal should tell the reviewer ---------------------------------------------------


def _approvers(request: ApprovalRequest) -> str:
    """ "group dba; alice (slack:UALICE, cli:alice), bob (...)": who may vote, as recorded."""
    people = [
        f"{person} ({', '.join(ids) or 'no identities'})"
        for person, ids in sorted(request.approvers.items())
    ]
    groups = [s for s in request.approver_sources if s not in request.approvers]
    named = (
        f"{'groups' if len(groups) > 1 else 'group'} {', '.join(groups)}, that is "
        if groups
        else ""
    )
    return named + (", ".join(people) or "nobody")


def _not_an_approver(exc: NotAnApprover, identity: str, broker: Any) -> str:
    request: ApprovalRequest = broker.get(exc.request_id)
    lines = [
        str(exc),
        f"You are {identity}: the CLI votes as cli:<your OS account>, and no flag or variable "
        "changes that.",
        f"Who may approve {request.id} ({request.quorum} approval(s) needed): "
        f"{_approvers(request)}.",
    ]
    if any(identity in ids for ids in request.approvers.values()):
        return "\n".join(lines)
    current = broker.policy.directory.person_of(identity) if broker.policy else None
    if current is not None:
        lines.append(
            f"The policy you gave lists {identity} as {current}, but {current} was not an "
            "approver when this request was made."
        )
    group = next((s for s in request.approver_sources if s not in request.approvers), "GROUP")
    me = os_account()
    lines += [
        f"To approve from this account: under `people:` in the policy the agent loads, give "
        f"your person the identity {identity}, and make that person an approver of the rule, "
        "for example:",
        f"  people:\n    {me}: [{identity}]\n  groups:\n    {group}: [..., {me}]",
        "Requests made after the agent loads that policy accept you. This request keeps the "
        "approvers recorded when it was made: a policy given with --policy (or "
        f"${POLICY_ENV}) can only take voters away, never add one.",
    ]
    return "\n".join(lines)


def _refusal(exc: ApprovalError, identity: str, broker: Any) -> str:
    if isinstance(exc, NotAnApprover) and exc.request_id:
        return _not_an_approver(exc, identity, broker)
    if isinstance(exc, ReasonRequired):
        return f"{exc}: give one with --reason 'why' (it is recorded with your vote)."
    if isinstance(exc, RequestChanged) and exc.request_id:
        now = broker.get(exc.request_id).revision
        return (
            f"{exc}.\nSee what changed with `guardrails-plugin show {exc.request_id}`, then "
            f"vote again with --revision {now}."
        )
    return str(exc)


def _vote(
    request_id: str,
    db: str | None,
    policy: Path | None,
    verdict: Verdict,
    reason: str | None,
    revision: int | None,
    as_json: bool,
    edit_from: Callable[[ApprovalRequest], Mapping[str, Any]] | None = None,
) -> None:
    """Vote through the broker; ``edit_from`` turns the request as stored into the reviewer's
    edited arguments (``edit``)."""
    broker = _broker(db, policy)
    full_id = resolve_id(broker.store, request_id)
    identity = cli_identity()
    edited = None
    if edit_from is not None:
        edited = edit_from(broker.get(full_id))
        if broker.policy is None:
            raise click.UsageError(
                "an edit is judged by the policy again before anyone approves it: pass the "
                f"policy the agent uses with --policy FILE (or set {POLICY_ENV})"
            )
    try:
        result = broker.vote(
            full_id,
            identity,
            verdict,
            reason=reason,
            channel="cli",
            revision=revision,
            edited_args=edited,
        )
    except ApprovalError as exc:
        message = _refusal(exc, identity, broker)
        raise click.ClickException(render.safe(message, multiline=True)) from None
    if as_json:
        click.echo(
            render.dumps(
                {
                    "request": request_json(result.request),
                    "counted": result.counted,
                    "message": result.message,
                }
            )
        )
        return
    out = render.stdout()
    out.print(f"{full_id}: {_cell(result.message)} (status {result.request.status.value})")
    if edited is not None:
        out.print(f"now at revision {result.request.revision}")


def _cell(text: str) -> str:
    from rich.markup import escape

    return escape(render.safe(text))


_policy_option = click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The current policy (default: $GUARDRAILS_POLICY). It can only narrow who may vote "
    "(people removed from a group, identities taken away); the approvers recorded with the "
    "request are the most it allows.",
)


@click.command()
@click.argument("request_id", metavar="ID")
@click.option("--reason", default=None, help="Why you approve (required by some rules).")
@click.option(
    "--revision",
    type=click.IntRange(0),
    required=True,
    help="The revision you reviewed, as `show` prints it; refused if the request was edited since.",
)
@_policy_option
@db_options
@json_option
@with_store_errors
def approve(
    request_id: str,
    reason: str | None,
    revision: int,
    policy: Path | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Approve revision N of request ID as cli:<your OS account> (`show` prints N)."""
    _vote(request_id, db, policy, Verdict.APPROVE, reason, revision, as_json)


@click.command()
@click.argument("request_id", metavar="ID")
@click.option("--reason", required=True, help="Why you deny; the agent's model reads it.")
@click.option(
    "--revision",
    type=click.IntRange(0),
    default=None,
    help="Refuse if the request was edited since this revision (see `show`).",
)
@_policy_option
@db_options
@json_option
@with_store_errors
def deny(
    request_id: str,
    reason: str,
    revision: int | None,
    policy: Path | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Deny request ID as cli:<your OS account>."""
    _vote(request_id, db, policy, Verdict.DENY, reason, revision, as_json)


def _parse_sets(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> list[tuple[list[str], Any]]:
    try:
        return [parse_set(item) for item in value]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_object(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"expected a JSON object such as '{{\"limit\": 10}}': {exc.msg} at column {exc.colno}"
        ) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter(f"expected a JSON object, got {type(parsed).__name__}")
    return parsed


@click.command()
@click.argument("request_id", metavar="ID")
@click.option(
    "--set",
    "sets",
    multiple=True,
    callback=_parse_sets,
    metavar="PATH=VALUE",
    help="Change one argument: keys joined by dots, list items by number (to.0=ops@example.org); "
    'VALUE is JSON (10, true, ["a"]) or else plain text. Repeatable.',
)
@click.option(
    "--args",
    "new_args",
    callback=_parse_object,
    default=None,
    metavar="JSON",
    help="Replace all arguments with this JSON object (--set then applies on top).",
)
@click.option(
    "--revision",
    type=click.IntRange(0),
    required=True,
    help="The revision you edited, as `show` prints it; refused if the request changed since.",
)
@click.option("--reason", default=None, help="Why you edit and approve (required by some rules).")
@_policy_option
@db_options
@json_option
@with_store_errors
def edit(
    request_id: str,
    sets: list[tuple[list[str], Any]],
    new_args: dict[str, Any] | None,
    revision: int,
    reason: str | None,
    policy: Path | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Edit the arguments of request ID and approve the edited call, as Slack's "Edit" does.

    The edit starts from the arguments `show` prints (masked placeholders such as <EMAIL_1>
    stand for the real values and may stay), becomes the request's next revision and counts as
    your approval of it. The policy judges the edited call again (pass it with --policy or
    $GUARDRAILS_POLICY): a deny refuses the edit, a stricter rule takes the request over.
    """
    if not sets and new_args is None:
        raise click.UsageError("say what to change with --set PATH=VALUE or --args JSON")

    def edited(request: ApprovalRequest) -> dict[str, Any]:
        shown = request.edited_args if request.edited_args is not None else request.masked_args
        base = new_args if new_args is not None else dict(shown)
        try:
            return apply_sets(base, sets)
        except ValueError as exc:
            raise click.BadParameter(render.safe(str(exc)), param_hint="--set") from None

    _vote(request_id, db, policy, Verdict.APPROVE, reason, revision, as_json, edited)
