"""API v1 over HTTP against a real server (uvicorn subprocess) and a real identity provider.

Holds: votes go through the broker (P-duties: approver set, no self-approval, revision, step-up),
only tokens the provider signed for this audience, unexpired, count (401 otherwise), and every
malformed request gets a JSON 4xx, never a 500.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import StepUpRequired
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall

from ..helpers import KEY
from .harness import (
    Agent,
    Service,
    forged_token,
    identity_provider,
    provider_token,
    wait_for_pending,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def idp():
    with identity_provider() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def service(idp, tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("web-api"), idp)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tokens(idp):
    return {sub: provider_token(idp, sub) for sub in ("alice", "bob", "mallory", "ana")}


@pytest.fixture
def broker(service):
    store = SQLiteStore(service.db, key=KEY)
    yield ApprovalBroker(store, Policy.load(service.policy))
    store.close()


def make(broker, tool="send_email", args=None, principal=None):
    call = ToolCall(
        tool,
        args or {"to": "ops@example.org", "body": "hello"},
        call_id=uuid.uuid4().hex,
        run_id="run-api",
        principal=principal or Principal("agent:support-bot", "oidc:ana@example.com"),
    )
    return broker.request(call, broker.policy.evaluate(call), masked_args=dict(call.args))


def vote(service, token, request_id, **body):
    with service.client(token) as client:
        return client.post(f"/api/v1/requests/{request_id}/votes", json=body)


def test_an_agent_in_another_process_waits_until_an_approver_approves_over_the_api(service, tokens):
    """The agent suspends on its call; bob's bearer token approves revision 0 through the
    broker; the agent's tool runs once, with its arguments."""
    args = {"to": "ops@example.org", "body": "weekly report"}
    agent = Agent(service, "send_email", args, "c-api-1")
    with service.client(tokens["bob"]) as client:
        [pending] = [
            r
            for r in wait_for_pending(client, "send_email")
            if r["args"]["body"] == "weekly report"
        ]
        answer = vote(service, tokens["bob"], pending["id"], verdict="approve", revision=0)
        assert answer.status_code == 200, answer.text
        assert answer.json()["request"]["status"] == "approved"
        detail = client.get(f"/api/v1/requests/{pending['id']}").json()
    result = agent.result()
    assert result["allowed"] and result["ran"] == [args]
    [recorded] = detail["votes"]
    assert recorded["identity"] == "oidc:bob@example.com" and recorded["channel"] == "api"


@pytest.mark.parametrize(
    "kind", ["none", "not-bearer", "garbage", "expired", "audience", "issuer", "key"]
)
def test_tokens_the_provider_did_not_sign_for_us_get_401(service, idp, broker, kind):
    """No token, a token for another audience or from another issuer (same provider key),
    an expired one (real signature) or one signed by another key: 401, JSON, and no vote."""
    request = make(broker)
    header = {
        "none": None,
        "not-bearer": "Basic YWxpY2U6eA==",
        "garbage": "Bearer not.a.jwt",
        "expired": "Bearer " + provider_token(idp, "stale"),
        "audience": "Bearer " + provider_token(idp, "alice", client_id="another-app"),
        "issuer": "Bearer " + provider_token(idp, "alice", host="127.0.0.1"),
        "key": "Bearer " + forged_token(idp, {"email": "alice@example.com", "sub": "alice"}),
    }[kind]
    headers = {"Authorization": header} if header else {}
    with httpx.Client(base_url=service.url, headers=headers, timeout=30) as client:
        read = client.get(f"/api/v1/requests/{request.id}")
        voted = client.post(
            f"/api/v1/requests/{request.id}/votes", json={"verdict": "approve", "revision": 0}
        )
    for answer in (read, voted):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["status"] == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert broker.store.votes(request.id) == []


def test_non_approvers_the_requester_and_the_person_served_get_403_and_no_vote(
    service, tokens, broker
):
    """mallory is no approver; ana is who the agent acts for; bob is the requester when the
    agent runs as him: each 403, the request stays pending with no vote."""
    request = make(broker, principal=Principal("oidc:bob@example.com", "oidc:ana@example.com"))
    for who in ("mallory", "ana", "bob"):
        answer = vote(service, tokens[who], request.id, verdict="approve", revision=0)
        assert answer.status_code == 403, (who, answer.text)
        assert "error" in answer.json()
    assert broker.store.votes(request.id) == []
    assert broker.store.get_request(request.id).status.value == "pending"


def test_a_step_up_rule_refuses_slack_and_cli_votes_and_takes_a_signed_in_one(
    service, tokens, broker
):
    """approval: {authentication: oidc}: alice's Slack id and bob's CLI account are refused
    (StepUpRequired, pointing at the inbox); bob's token approves."""
    request = make(broker, tool="wire_money", args={"amount": 10, "to": "ACME"})
    for identity in ("slack:UALICE", "cli:bob"):
        with pytest.raises(StepUpRequired, match="inbox"):
            broker.vote(request.id, identity, "approve", revision=0, channel="slack")
    with service.client(tokens["bob"]) as client:
        shown = client.get(f"/api/v1/requests/{request.id}").json()
    assert shown["needs_sign_in"] and shown["authentication"] == "oidc"
    answer = vote(service, tokens["bob"], request.id, verdict="approve", revision=0)
    assert answer.status_code == 200 and answer.json()["request"]["status"] == "approved"


def test_deny_and_edit_go_through_the_broker_with_its_checks(service, tokens, broker):
    """A deny needs a reason (422); a stale revision is 409; an edit becomes revision 1 and
    counts as the editor's approval; a vote on a decided request is 409."""
    request = make(broker)
    assert vote(service, tokens["alice"], request.id, verdict="deny").status_code == 422
    stale = vote(service, tokens["alice"], request.id, verdict="approve", revision=3)
    assert stale.status_code == 409
    edited = vote(
        service,
        tokens["alice"],
        request.id,
        verdict="edit",
        revision=0,
        args={"to": "ops@example.org", "body": "shorter"},
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()["request"]
    assert body["status"] == "approved" and body["revision"] == 1
    assert body["args"] == {"to": "ops@example.org", "body": "shorter"}
    late = vote(service, tokens["bob"], request.id, verdict="deny", reason="too late")
    assert late.status_code == 409


def test_malformed_requests_get_a_json_4xx_never_a_500(service, tokens, broker):
    """Wrong content type, not JSON, not an object, too deep, too large, unknown fields or
    verdicts, bad revisions, unknown ids, paths and methods, bad filters: each a JSON 4xx."""
    request = make(broker)
    path = f"/api/v1/requests/{request.id}/votes"
    deep: object = "x"
    for _ in range(100):
        deep = {"a": deep}
    with service.client(tokens["alice"]) as client:
        answers = [
            client.post(path, content=b"verdict=approve"),
            client.post(path, content=b"{nope", headers={"content-type": "application/json"}),
            client.post(path, content=b"\xff\xfe", headers={"content-type": "application/json"}),
            client.post(path, json=[1, 2]),
            client.post(path, json={"verdict": "edit", "revision": 0, "args": deep}),
            client.post(
                path, json={"verdict": "edit", "revision": 0, "args": {"x": "y" * 300_000}}
            ),
            client.post(path, json={"verdict": "approve", "revision": 0, "extra": 1}),
            client.post(path, json={"verdict": "maybe"}),
            client.post(path, json={"verdict": "approve", "revision": -1}),
            client.post(path, json={"verdict": "approve", "revision": True}),
            client.post(path, json={"verdict": "approve"}),
            client.post(path, json={"verdict": "edit", "revision": 0, "args": "x"}),
            client.post(
                "/api/v1/requests/req_nothing/votes", json={"verdict": "deny", "reason": "x"}
            ),
            client.post("/api/v1/requests/<script>/votes", json={"verdict": "deny", "reason": "x"}),
            client.get("/api/v1/requests/req_" + "0" * 32),
            client.get("/api/v1/requests", params={"status": "weird"}),
            client.get("/api/v1/requests", params={"limit": "-4"}),
            client.get("/api/v1/audit", params={"format": "xml"}),
            client.get("/api/v1/audit", params={"since": "yesterday-ish"}),
            client.delete(f"/api/v1/requests/{request.id}"),
            client.get("/api/v2/nothing"),
        ]
    for answer in answers:
        assert 400 <= answer.status_code < 500, (answer.request.url, answer.text)
        assert answer.headers["content-type"].startswith("application/json"), answer.text
        assert answer.json()["error"]["status"] == answer.status_code
    assert broker.store.votes(request.id) == []


def test_reads_audit_export_verification_and_openapi(service, tokens, broker):
    """Listing filters by tool and rule; audit exports as JSON lines and CSV; the chain
    verifies; the OpenAPI document describes every API route; security headers are set."""
    made = make(broker, args={"to": "x@example.org", "body": "=HYPERLINK(1)"})
    with service.client(tokens["mallory"]) as client:  # anyone signed in may read
        listed = client.get("/api/v1/requests", params={"rule": "email-out", "limit": 500})
        assert made.id in [r["id"] for r in listed.json()["requests"]]
        assert client.get("/api/v1/requests", params={"tool": "nope"}).json()["requests"] == []
        jsonl = client.get("/api/v1/audit", params={"since": "1h"})
        csv = client.get("/api/v1/audit", params={"format": "csv"})
        checked = client.get("/api/v1/audit/verify").json()
        spec = client.get("/api/v1/openapi.json")
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert made.id in jsonl.text and csv.text.startswith("seq,ts,event")
    assert checked["ok"] and checked["rows"] > 0
    doc = spec.json()
    assert doc["openapi"].startswith("3.1") and set(doc["paths"]) >= {
        "/api/v1/requests",
        "/api/v1/requests/{request_id}",
        "/api/v1/requests/{request_id}/votes",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/stream",
    }
    csp = listed.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert listed.headers["cache-control"] == "no-store"


def test_votes_are_rate_limited_per_identity(service, tokens, broker):
    """More than 30 votes in a minute from one identity (mallory voted earlier in this module
    too): refused with 429, never reaching the broker."""
    request = make(broker)
    codes = [
        vote(service, tokens["mallory"], request.id, verdict="approve", revision=0).status_code
        for _ in range(31)
    ]
    first = codes.index(429)
    assert set(codes[:first]) == {403} and set(codes[first:]) == {429}
