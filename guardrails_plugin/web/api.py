"""API v1: JSON over HTTP for reviewers and other systems (``/api/v1``).

Reads need a verified caller (bearer token or inbox session) and are limited per identity
(`READS_PER_MINUTE`) and per answer (`MAX_LIST` requests among the `MAX_SCAN` most recent,
`MAX_AUDIT` audit rows a page: page on with ``after_seq``). What a read shows depends on the
caller: a request's approvers see its reviewer view, every other reader the masked arguments
(`views`, `approvals.review.may_review`). Votes go through `votes.cast_vote` to the broker. The
OpenAPI document (`openapi.py`) describes exactly these routes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from guardrails_plugin.approvals.proof import RequestChecker
from guardrails_plugin.approvals.review import may_review
from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Status
from guardrails_plugin.web import views
from guardrails_plugin.web.auth import Caller, authenticate, require_csrf
from guardrails_plugin.web.openapi import document
from guardrails_plugin.web.security import limiter, parse_int, read_json
from guardrails_plugin.web.votes import REQUEST_ID, cast_vote, parse_vote

__all__ = ["reader", "routes"]

MAX_LIST = 500
MAX_SCAN = 2_000
MAX_AUDIT = 10_000
AUDIT_PAGE = 1_000
READS_PER_MINUTE = 1_200


async def reader(request: Request) -> Caller:
    """The authenticated caller of a read, counted against its identity's read limit."""
    caller = await authenticate(request)
    limiter(request, "read_limit", READS_PER_MINUTE, 60.0).hit(caller.identity)
    return caller


async def reviews(request: Request, caller: Caller) -> Callable[[ApprovalRequest], bool]:
    """Whether ``caller`` sees a request's reviewer view (else the masked reader view), by the
    policy as it is now (`ApprovalBroker.current_policy`: the file's settled change)."""
    policy = await run_in_threadpool(request.app.state.broker.current_policy)
    directory = policy.directory if policy is not None else None
    return lambda r: may_review(caller.identity, r, directory)


def _param(request: Request, name: str, limit: int = 200) -> str | None:
    value = request.query_params.get(name)
    if value is not None and (len(value) > limit or not value.isprintable()):
        raise HTTPException(400, f"{name} is too long or holds control characters")
    return value or None


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = parse_int(raw)
    if value is None or not low <= value <= high:
        raise HTTPException(400, f"{name} must be an integer from {low} to {high}")
    return value


async def list_requests(request: Request) -> Response:
    caller = await reader(request)
    status = _param(request, "status")
    if status is not None and status not in {s.value for s in Status}:
        raise HTTPException(400, f"status must be one of {', '.join(s.value for s in Status)}")
    tool, rule, run = _param(request, "tool"), _param(request, "rule"), _param(request, "run")
    limit = _int(request, "limit", 100, 1, MAX_LIST)
    store = request.app.state.broker.store
    found = await run_in_threadpool(
        store.list_requests, Status(status) if status else None, MAX_SCAN
    )
    chosen = [
        r
        for r in found
        if (tool is None or r.tool == tool)
        and (rule is None or r.rule_id == rule)
        and (run is None or r.run_id == run)
    ][:limit]
    full = await reviews(request, caller)
    return JSONResponse({"requests": [views.request_view(r, full=full(r)) for r in chosen]})


async def get_request(request: Request) -> Response:
    caller = await reader(request)
    request_id = request.path_params["request_id"]
    store = request.app.state.broker.store
    found = (
        await run_in_threadpool(store.get_request, request_id)
        if REQUEST_ID.fullmatch(request_id)
        else None
    )
    if found is None:
        raise HTTPException(404, f"no approval request {request_id[:80]!r}")
    votes = await run_in_threadpool(store.votes, request_id)
    return JSONResponse(
        views.request_view(found, votes, full=(await reviews(request, caller))(found))
    )


async def vote(request: Request) -> Response:
    caller = await authenticate(request)
    require_csrf(caller, request.headers.get("x-csrf-token"))
    request.app.state.vote_limit.hit(caller.identity)
    verdict, reason, revision, args = parse_vote(await read_json(request))
    result = await cast_vote(
        request.app.state.broker,
        caller,
        request.path_params["request_id"],
        verdict,
        reason,
        revision,
        args,
    )
    return JSONResponse(
        {
            "request": views.request_view(
                result.request, full=(await reviews(request, caller))(result.request)
            ),
            "counted": result.counted,
            "message": result.message,
        }
    )


async def audit(request: Request) -> Response:
    caller = await reader(request)
    fmt = _param(request, "format") or "jsonl"
    if fmt not in ("jsonl", "csv"):
        raise HTTPException(400, "format must be jsonl or csv")
    try:
        since = views.parse_since(_param(request, "since"))
    except ValueError:
        raise HTTPException(
            400, "since must be an ISO time like 2026-11-28T09:00:00Z or a duration like 24h"
        ) from None
    after = _int(request, "after_seq", 0, 0, 2**62)
    limit = _int(request, "limit", AUDIT_PAGE, 1, MAX_AUDIT)
    store = request.app.state.broker.store
    may = await reviews(request, caller)

    def rows() -> tuple[list[AuditRecord], dict[str, bool]]:
        out: list[AuditRecord] = []
        for r in store.audit_rows(after):
            if r.ts >= since:
                out.append(r)
                if len(out) >= limit:
                    break
        full: dict[str, bool] = {}
        for rid in {r.request_id for r in out if r.request_id}:
            found = store.get_request(rid)
            full[rid] = found is not None and may(found)
        return out, full

    found, full = await run_in_threadpool(rows)

    def shown(r: AuditRecord) -> bool:
        return r.request_id is None or full.get(r.request_id, False)

    headers = {"X-Next-After-Seq": str(found[-1].seq)} if len(found) >= limit else None
    if fmt == "csv":
        return PlainTextResponse(
            views.audit_csv(found, shown), media_type="text/csv; charset=utf-8", headers=headers
        )
    return PlainTextResponse(
        views.audit_jsonl(found, shown),
        media_type="application/x-ndjson; charset=utf-8",
        headers=headers,
    )


def verify_chain(store: Any) -> dict[str, Any]:
    checker = RequestChecker()
    result = store.verify_audit(observe=checker.observe)
    problems = checker.problems(store.iter_requests(), store.iter_votes())
    return {
        "ok": result.ok and not problems,
        "chain_ok": result.ok,
        "rows": result.checked,
        "first_bad_seq": result.first_bad_seq,
        "problem": result.problem,
        "head": {"seq": result.head.seq, "hash": result.head.hash} if result.head else None,
        "requests": {
            "checked": checker.checked,
            "problems": [{"request_id": r, "problem": p} for r, p in problems],
        },
    }


async def verify(request: Request) -> Response:
    caller = await authenticate(request)
    request.app.state.verify_limit.hit(caller.identity)
    return JSONResponse(await run_in_threadpool(verify_chain, request.app.state.broker.store))


async def openapi(request: Request) -> Response:
    return JSONResponse(document(request.app.state.settings.public_url))


def routes() -> list[Route]:
    return [
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1/requests", list_requests, methods=["GET"]),
        Route("/api/v1/requests/{request_id}", get_request, methods=["GET"]),
        Route("/api/v1/requests/{request_id}/votes", vote, methods=["POST"]),
        Route("/api/v1/audit", audit, methods=["GET"]),
        Route("/api/v1/audit/verify", verify, methods=["GET"]),
    ]
