"""OpenID Connect beyond the first sign-in: the provider rotating its keys, the groups-claim
restriction, sessions reaching their lifetime, and the event stream over plain HTTP.

Key rotation runs against a tiny JWKS server of this test (oidc-provider-mock publishes one
fixed key), the clock of the key cache moved by hand; the rest use oidc-provider-mock's real
code flow and the service under uvicorn (a subprocess, or in this process where a clock is
injected), with agents in other processes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.clock import FrozenClock
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall

from ..helpers import KEY
from .harness import (
    API_AUDIENCE,
    INBOX_CLIENT,
    POLICY,
    SESSION_SECRET,
    Agent,
    Service,
    free_port,
    identity_provider,
    provider_token,
)
from .test_inbox import csrf_of, page, sign_in

pytestmark = pytest.mark.timeout(180)

GROUP_MEMBERS = {
    # alice is in the allowed group; bob is a lead by the policy but not in the group.
    "alice-g": {"email": "alice@example.com", "email_verified": True, "groups": ["approvers"]},
    "bob-g": {"email": "bob@example.com", "email_verified": True, "groups": ["contractors"]},
    "nobody-g": {"email": "bob@example.com", "email_verified": True},  # no groups claim
}


@pytest.fixture(scope="module")
def idp():
    with identity_provider(GROUP_MEMBERS) as issuer:
        yield issuer


def _request(db: Path, policy: Path, tool: str = "send_email") -> Any:
    """A pending request written to the service's store, as an agent would."""
    store = SQLiteStore(db, key=KEY)
    broker = ApprovalBroker(store, Policy.load(policy))
    call = ToolCall(
        tool,
        {"to": "ops@example.org", "body": "hello"},
        call_id=uuid.uuid4().hex,
        run_id="run-oidc",
        principal=Principal("agent:support-bot", "oidc:ana@example.com"),
    )
    try:
        return broker.request(call, broker.policy.evaluate(call), masked_args=dict(call.args))
    finally:
        store.close()


# --- key rotation ----------------------------------------------------------------------------


class Keys:
    """An issuer of this test: discovery and a JWKS it changes at will, counting key fetches."""

    def __init__(self) -> None:
        from joserfc.jwk import RSAKey

        self.make = lambda kid: RSAKey.generate_key(2048, parameters={"kid": kid})
        self.published: list[Any] = []
        self.fetches = 0
        self.down = False  # the JWKS endpoint answers 503
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/jwks" and keys.down:
                    keys.fetches += 1
                    self.send_error(503)
                    return
                if self.path == "/jwks":
                    keys.fetches += 1
                    doc = {"keys": [k.as_dict(private=False) for k in keys.published]}
                else:
                    doc = {
                        "issuer": keys.issuer,
                        "authorization_endpoint": keys.issuer + "/authorize",
                        "token_endpoint": keys.issuer + "/token",
                        "jwks_uri": keys.issuer + "/jwks",
                    }
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def token(self, key: Any, email: str = "alice@example.com") -> str:
        from joserfc import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": API_AUDIENCE,
            "sub": email,
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + 600,
        }
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


@pytest.fixture
def keys() -> Iterator[Keys]:
    served = Keys()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def test_rotated_keys_are_taken_after_one_refetch_and_withdrawn_keys_stop_counting(keys):
    """The provider adds a key: a token signed by it verifies after exactly one refetch of the
    JWKS (and a flood of unknown kids makes no more than one). The provider then drops the old
    key: once the service has refetched (a new kid, or the cache's age), a token signed by the
    removed key is refused."""
    from guardrails_plugin.web.oidc import (
        KEYS_MAX_AGE,
        REFETCH_SECONDS,
        InvalidToken,
        Provider,
    )
    from guardrails_plugin.web.settings import WebSettings

    old, new, newer = keys.make("old"), keys.make("new"), keys.make("newer")
    keys.published = [old]
    now = [1000.0]
    settings = WebSettings.resolve(
        issuer=keys.issuer,
        client_id=INBOX_CLIENT,
        audience=API_AUDIENCE,
        public_url="http://127.0.0.1:9",
        env={"GUARDRAILS_SESSION_SECRET": SESSION_SECRET},
    )
    provider = Provider.discover(settings, monotonic=lambda: now[0])

    def verify(token: str) -> str:
        return asyncio.run(provider.verify(token, audience=API_AUDIENCE)).identity

    assert keys.fetches == 1 and verify(keys.token(old)) == "oidc:alice@example.com"
    keys.published = [old, new]
    now[0] += REFETCH_SECONDS + 1
    assert verify(keys.token(new, "bob@example.com")) == "oidc:bob@example.com"
    assert keys.fetches == 2
    for _ in range(5):  # unknown kids inside the refetch interval: refused, no fetch
        with pytest.raises(InvalidToken):
            verify(keys.token(keys.make(uuid.uuid4().hex)))
    assert keys.fetches == 2
    assert verify(keys.token(old)) == "oidc:alice@example.com"  # still published

    keys.published = [new]  # the old key withdrawn, no new kid to announce it
    now[0] += KEYS_MAX_AGE
    with pytest.raises(InvalidToken, match="signature"):
        verify(keys.token(old))
    assert keys.fetches == 3
    keys.published = [newer]  # rotated again: the new kid triggers the refetch
    now[0] += REFETCH_SECONDS + 1
    assert verify(keys.token(newer)) == "oidc:alice@example.com"
    with pytest.raises(InvalidToken):
        verify(keys.token(new))
    assert keys.fetches == 4


def test_keys_that_cannot_be_refreshed_stop_counting_after_their_max_age(keys):
    """The key endpoint stops answering: the keys last fetched still count through
    KEYS_MAX_AGE and a short grace (each token retries the fetch, at most every
    REFETCH_SECONDS), then every token is refused, even one signed by a key still published
    when last seen (it may have been withdrawn since: the promise is KEYS_MAX_AGE). A fetch
    that succeeds again restores them."""
    from guardrails_plugin.web.oidc import (
        KEYS_GRACE,
        KEYS_MAX_AGE,
        REFETCH_SECONDS,
        InvalidToken,
        Provider,
    )
    from guardrails_plugin.web.settings import WebSettings

    key = keys.make("k1")
    keys.published = [key]
    now = [1000.0]
    settings = WebSettings.resolve(
        issuer=keys.issuer,
        client_id=INBOX_CLIENT,
        audience=API_AUDIENCE,
        public_url="http://127.0.0.1:9",
        env={"GUARDRAILS_SESSION_SECRET": SESSION_SECRET},
    )
    provider = Provider.discover(settings, monotonic=lambda: now[0])

    def verify() -> str:
        return asyncio.run(provider.verify(keys.token(key), audience=API_AUDIENCE)).identity

    assert verify() == "oidc:alice@example.com"
    keys.down = True
    now[0] += KEYS_MAX_AGE
    assert verify() == "oidc:alice@example.com"  # the fetch failed; within the grace
    assert keys.fetches == 2
    now[0] += KEYS_GRACE
    with pytest.raises(InvalidToken, match="could not be refreshed"):
        verify()
    assert keys.fetches == 3
    keys.down = False
    now[0] += REFETCH_SECONDS + 1
    assert verify() == "oidc:alice@example.com" and keys.fetches == 4


# --- the groups claim ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grouped(idp, tmp_path_factory):
    running = Service(
        tmp_path_factory.mktemp("web-groups"), idp, env={"GUARDRAILS_OIDC_GROUPS": "approvers"}
    )
    yield running
    running.stop()


def test_only_members_of_the_allowed_groups_use_the_service(grouped, idp):
    """GUARDRAILS_OIDC_GROUPS=approvers: bob, a lead by the policy but in another group (or in
    none), is refused 403 on reads and votes and records no vote; alice, a member, approves."""
    request = _request(grouped.db, grouped.policy)
    path = f"/api/v1/requests/{request.id}"
    vote = {"verdict": "approve", "revision": 0}
    for sub in ("bob-g", "nobody-g"):
        with grouped.client(provider_token(idp, sub)) as client:
            read, voted = client.get(path), client.post(path + "/votes", json=vote)
        assert (read.status_code, voted.status_code) == (403, 403), voted.text
        assert "groups" in voted.json()["error"]["message"]
    with grouped.client(provider_token(idp, "alice-g")) as client:
        assert client.get(path).json()["votes"] == []
        answer = client.post(path + "/votes", json=vote)
    assert answer.status_code == 200, answer.text
    assert answer.json()["request"]["status"] == "approved"
    assert answer.json()["request"]["decided_by"] == "alice"


# --- session lifetime ------------------------------------------------------------------------


@pytest.fixture
def clocked(idp, tmp_path):
    """The service in this process under uvicorn, its broker (and so its sessions) on a
    `FrozenClock` the test moves."""
    import uvicorn

    from guardrails_plugin.web.app import create_app
    from guardrails_plugin.web.oidc import Provider
    from guardrails_plugin.web.settings import WebSettings

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = WebSettings.resolve(
        issuer=idp,
        client_id=INBOX_CLIENT,
        audience=API_AUDIENCE,
        public_url=url,
        env={
            "GUARDRAILS_SESSION_SECRET": SESSION_SECRET,
            "GUARDRAILS_OIDC_CLIENT_SECRET": "inbox-secret",
            # Shorter than the provider's ID tokens (1 h): a session also ends at its token's
            # exp, and this test moves only the service's clock, not the provider's.
            "GUARDRAILS_SESSION_SECONDS": "600",
        },
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    clock = FrozenClock(time.time())
    broker = ApprovalBroker(store, Policy.load(policy), clock=clock)
    app = create_app(settings, broker, Provider.discover(settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield SimpleNamespace(
        url=url, clock=clock, settings=settings, db=tmp_path / "g.db", policy=policy
    )
    server.should_exit = True
    thread.join(30)
    store.close()


def test_a_session_past_its_lifetime_is_refused(clocked):
    """A session works until its lifetime (GUARDRAILS_SESSION_SECONDS) and not a second after:
    the inbox asks to sign in again, and neither a vote form nor the API accepts the old
    cookie."""
    from guardrails_plugin.web.auth import SESSION_COOKIE

    request = _request(clocked.db, clocked.policy)
    _, session = sign_in(clocked, "bob")
    token = csrf_of(page(clocked, session, f"/inbox/requests/{request.id}").text)
    clocked.clock.advance(clocked.settings.session_seconds - 60)
    assert page(clocked, session, "/inbox").status_code == 200
    clocked.clock.advance(61)
    assert page(clocked, session, "/inbox").status_code == 401  # the sign-in page
    cookie = {"cookie": f"{SESSION_COOKIE}={session}"}
    voted = httpx.post(
        f"{clocked.url}/inbox/requests/{request.id}/vote",
        data={"action": "approve", "revision": "0", "csrf": token},
        headers=cookie,
    )
    api = httpx.get(f"{clocked.url}/api/v1/requests/{request.id}", headers=cookie)
    assert (voted.status_code, api.status_code) == (401, 401)
    store = SQLiteStore(clocked.db, key=KEY)
    assert store.votes(request.id) == []
    store.close()


# --- the event stream ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(idp, tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("web-stream"), idp)
    yield running
    running.stop()


def test_the_stream_tells_a_signed_in_client_of_a_request_another_process_made(service, idp):
    """GET /api/v1/stream with a provider token: when an agent in another process suspends on
    a request, a ``request`` event names it (pending), and its approval is a second event.
    Without a token, or with a bad one: 401, no stream."""
    for headers in ({}, {"Authorization": "Bearer not.a.token"}):
        refused = httpx.get(service.url + "/api/v1/stream", headers=headers, timeout=30)
        assert refused.status_code == 401 and refused.json()["error"]["status"] == 401
    token = provider_token(idp, "bob")
    seen: list[dict[str, Any]] = []
    agent: Agent | None = None
    try:
        with (
            httpx.Client(base_url=service.url, timeout=30) as client,
            client.stream(
                "GET", "/api/v1/stream", headers={"Authorization": f"Bearer {token}"}
            ) as s,
        ):
            assert s.status_code == 200 and s.headers["content-type"].startswith(
                "text/event-stream"
            )
            event = None
            for line in s.iter_lines():
                if line.startswith("retry:") and agent is None:
                    agent = Agent(
                        service, "send_email", {"to": "x@example.org", "body": "hi"}, "s1"
                    )
                elif line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "request":
                    seen.append(json.loads(line.removeprefix("data: ")))
                    if seen[-1]["status"] == "pending":
                        vote = client.post(
                            f"/api/v1/requests/{seen[-1]['id']}/votes",
                            json={"verdict": "approve", "revision": 0},
                            headers={"Authorization": f"Bearer {provider_token(idp, 'alice')}"},
                        )
                        assert vote.status_code == 200, vote.text
                    elif seen[-1]["status"] == "approved":
                        break
    except BaseException:
        if agent is not None:
            agent.proc.kill()  # it would wait ten minutes for a decision
        raise
    assert agent is not None
    assert agent.result()["ran"] == [{"to": "x@example.org", "body": "hi"}]
    assert [e["status"] for e in seen] == ["pending", "approved"]
    assert {e["tool"] for e in seen} == {"send_email"} and len({e["id"] for e in seen}) == 1
