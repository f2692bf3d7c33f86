"""API v1: JSON over HTTP for reviewers and other systems (``/api/v1``).

Reads need a verified caller (bearer token or inbox session); votes go through `votes.cast_vote`
to the broker. The OpenAPI document (`openapi.py`) describes exactly these routes.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from guardrails_plugin.approvals.proof import RequestChecker
from guardrails_plugin.store.records import Status
from guardrails_plugin.web import views
from guardrails_plugin.web.auth import authenticate, require_csrf
from guardrails_plugin.web.openapi import document
from guardrails_plugin.web.security import read_json
from guardrails_plugin.web.votes import REQUEST_ID, cast_vote, parse_vote

__all__ = ["routes"]

MAX_LIST = 500
MAX_AUDIT = 100_000


def _param(request: Request, name: str, limit: int = 200) -> str | None:
    value = request.query_params.get(name)
    if value is not None and (len(value) > limit or not value.isprintable()):
        raise HTTPException(400, f"{name} is too long or holds control characters")
    return value or None


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise HTTPException(400, f"{name} must be an integer from {low} to {high}")
    return int(raw)


async def list_requests(request: Request) -> Response:
    await authenticate(request)
    status = _param(request, "status")
    if status is not None and status not in {s.value for s in Status}:
        raise HTTPException(400, f"status must be one of {', '.join(s.value for s in Status)}")
    tool, rule, run = _param(request, "tool"), _param(request, "rule"), _param(request, "run")
    limit = _int(request, "limit", 100, 1, MAX_LIST)
    store = request.app.state.broker.store
    found = await run_in_threadpool(store.list_requests, Status(status) if status else None, 10_000)
    chosen = [
        r
        for r in found
        if (tool is None or r.tool == tool)
        and (rule is None or r.rule_id == rule)
        and (run is None or r.run_id == run)
    ][:limit]
    return JSONResponse({"requests": [views.request_view(r) for r in chosen]})


async def get_request(request: Request) -> Response:
    await authenticate(request)
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
    return JSONResponse(views.request_view(found, votes))


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
            "request": views.request_view(result.request),
            "counted": result.counted,
            "message": result.message,
        }
    )


async def audit(request: Request) -> Response:
    await authenticate(request)
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
    store = request.app.state.broker.store

    def rows() -> list[Any]:
        out = []
        for r in store.audit_rows(after):
            if r.ts >= since:
                out.append(r)
                if len(out) >= MAX_AUDIT:
                    break
        return out

    found = await run_in_threadpool(rows)
    if fmt == "csv":
        return PlainTextResponse(views.audit_csv(found), media_type="text/csv; charset=utf-8")
    return PlainTextResponse(
        views.audit_jsonl(found), media_type="application/x-ndjson; charset=utf-8"
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
