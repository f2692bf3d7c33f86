"""The inbox: pending requests (kept current by `stream`), one request with everything a
reviewer needs to decide, approve / deny with a reason / edit, decided history, and the audit
log with the chain's status. Forms post with the session's CSRF token; votes go through
`votes.cast_vote` to the broker, like the API's."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from guardrails_plugin.approvals.review import may_review, shown_args, view_name
from guardrails_plugin.cli.approvals import iso
from guardrails_plugin.store.records import ApprovalRequest, Status
from guardrails_plugin.web.api import verify_chain
from guardrails_plugin.web.auth import Caller, require_csrf, session_of
from guardrails_plugin.web.pages import render
from guardrails_plugin.web.security import MAX_BODY, limiter, parse_int
from guardrails_plugin.web.views import READER_VIEW, reader_view
from guardrails_plugin.web.votes import REQUEST_ID, cast_vote, parse_vote

__all__ = ["routes"]


def _caller(request: Request) -> Caller | None:
    _, session = session_of(request)
    return Caller(session.who, "web", session) if session is not None else None


def reader_limit(request: Request, caller: Caller) -> None:
    """Pages count against the same per-identity read limit as the API."""
    from guardrails_plugin.web.api import READS_PER_MINUTE

    limiter(request, "read_limit", READS_PER_MINUTE, 60.0).hit(caller.identity)


def _sign_in(request: Request) -> Response:
    return render(request, "signin.html", {"next": request.url.path}, 401)


def _row(r: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "tool": r.tool,
        "rule": r.rule_id or "policy default",
        "status": r.status.value,
        "principal": r.principal,
        "on_behalf_of": r.on_behalf_of or "",
        "created": iso(r.created_at),
        "expires": iso(r.expires_at),
        "decided_by": r.decided_by or "",
    }


async def home(request: Request) -> Response:
    return RedirectResponse("/inbox", status_code=303)


def _lists(store: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    pending = [_row(r) for r in store.list_requests(Status.PENDING, limit=200)]
    decided = [_row(r) for r in store.list_requests(None, limit=100) if r.terminal][:50]
    return pending, decided


async def inbox(request: Request) -> Response:
    if (caller := _caller(request)) is None:
        return _sign_in(request)
    reader_limit(request, caller)
    pending, decided = await run_in_threadpool(_lists, request.app.state.broker.store)
    return render(
        request, "inbox.html", {"who": caller.identity, "pending": pending, "decided": decided}
    )


async def pending_fragment(request: Request) -> Response:
    """The pending table alone, for the live list's refresh (inbox.js)."""
    if (caller := _caller(request)) is None:
        raise HTTPException(401, "sign in")
    reader_limit(request, caller)
    pending, _ = await run_in_threadpool(_lists, request.app.state.broker.store)
    return render(request, "_pending.html", {"pending": pending})


async def _load(request: Request, request_id: str) -> ApprovalRequest:
    store = request.app.state.broker.store
    found = (
        await run_in_threadpool(store.get_request, request_id)
        if REQUEST_ID.fullmatch(request_id)
        else None
    )
    if not isinstance(found, ApprovalRequest):
        raise HTTPException(404, "no such approval request")
    return found


def _edit_start(found: ApprovalRequest) -> str:
    """What an edit starts from, as in Slack and the CLI: the arguments the call is bound to
    (placeholders), not the reviewer view, whose ``a***@example.org`` would reach the tool as
    written."""
    args = found.edited_args if found.edited_args is not None else found.masked_args
    return json.dumps(dict(args), indent=2, ensure_ascii=False)


async def _page(
    request: Request,
    found: ApprovalRequest,
    *,
    error: str | None = None,
    status: int = 200,
    draft: str | None = None,
) -> Response:
    caller = _caller(request)
    assert caller is not None
    broker = request.app.state.broker
    votes = await run_in_threadpool(broker.store.votes, found.id)
    policy = await run_in_threadpool(broker.current_policy)
    directory = policy.directory if policy is not None else None
    if may_review(caller.identity, found, directory):
        view = view_name(found)
    else:  # the rule's reviewer view is for its approvers: the one reader view of the API
        found, votes = reader_view(found, votes)
        view = READER_VIEW
    shown = dict(shown_args(found))
    return render(
        request,
        "request.html",
        {
            "who": caller.identity,
            "r": found,
            "row": _row(found),
            "args": shown,
            "args_view": view,
            "draft": draft if draft is not None else _edit_start(found),
            "votes": [v for v in votes],
            "iso": iso,
            "error": error,
            "pending": found.status is Status.PENDING,
        },
        status,
    )


async def request_page(request: Request) -> Response:
    if (caller := _caller(request)) is None:
        return _sign_in(request)
    reader_limit(request, caller)
    found = await _load(request, request.path_params["request_id"])
    return await _page(request, found)


async def vote(request: Request) -> Response:
    caller = _caller(request)
    if caller is None:
        raise HTTPException(401, "sign in to vote")
    form = await request.form(max_files=0, max_fields=10, max_part_size=MAX_BODY)
    require_csrf(caller, str(form.get("csrf") or ""))
    request.app.state.vote_limit.hit(caller.identity)
    found = await _load(request, request.path_params["request_id"])
    action = str(form.get("action") or "")
    draft = str(form.get("args") or "") if action == "edit" else None
    body: dict[str, Any] = {"verdict": action}
    reason = str(form.get("reason") or "").strip()
    if reason:
        body["reason"] = reason
    revision = parse_int(str(form.get("revision") or ""))
    if revision is not None:
        body["revision"] = revision
    try:
        if action == "edit":
            try:
                body["args"] = json.loads(draft or "")
            except (ValueError, RecursionError):  # ValueError: also a number past the digit limit
                raise HTTPException(400, "the edited arguments are not valid JSON") from None
        verdict, why, seen, args = parse_vote(body)
        await cast_vote(request.app.state.broker, caller, found.id, verdict, why, seen, args)
    except HTTPException as exc:
        if exc.status_code in (404, 429):
            raise
        fresh = await _load(request, found.id)
        return await _page(
            request, fresh, error=str(exc.detail), status=exc.status_code, draft=draft
        )
    return RedirectResponse(f"/inbox/requests/{found.id}", status_code=303)


async def audit(request: Request) -> Response:
    if _caller(request) is None:
        return _sign_in(request)
    store = request.app.state.broker.store
    request.app.state.verify_limit.hit(_caller(request).identity)  # type: ignore[union-attr]
    checked = await run_in_threadpool(verify_chain, store)

    def last() -> list[Any]:
        rows = list(store.audit_rows(max(0, (checked["rows"] or 0) - 100)))
        return rows[-100:][::-1]

    rows = await run_in_threadpool(last)
    return render(request, "audit.html", {"check": checked, "rows": rows, "iso": iso})


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/inbox", inbox, methods=["GET"]),
        Route("/inbox/pending", pending_fragment, methods=["GET"]),
        Route("/inbox/audit", audit, methods=["GET"]),
        Route("/inbox/requests/{request_id}", request_page, methods=["GET"]),
        Route("/inbox/requests/{request_id}/vote", vote, methods=["POST"]),
    ]
