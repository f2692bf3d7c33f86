"""Fixes beyond the eleven red-team tests (docs/reports/issue16-redteam.md, "Noticed, not
tested", and the edges of F1/F4/F5): identities are compared in one canonical form everywhere,
step-up sticks to an edited request and records the provider's evidence, readers who are not a
request's approvers get the masked view in every read, sessions rotate in a real browser and
end with their ID token, API tokens are not sign-in ID tokens, HSTS on https, bounded reads.

Same harness as test_issue16_redteam.py: oidc-provider-mock, ``serve`` in a subprocess, a
SQLite store; in-process pieces (`Provider`, `Sessions`, the ASGI app) where no server is
needed.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.approvals.stepup import SignInEvidence
from guardrails_plugin.errors import PolicyError, SelfApproval, StepUpRequired
from guardrails_plugin.policy import Policy
from guardrails_plugin.policy.directory import (
    UnusableIdentity,
    canonical_identity,
)
from guardrails_plugin.store import Event
from guardrails_plugin.store.records import Verdict
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall
from guardrails_plugin.web.auth import SESSION_COOKIE
from guardrails_plugin.web.signin import SIGNIN_COOKIE
from guardrails_plugin.web.views import WITHHELD

from ..helpers import KEY
from .test_issue16_redteam import (
    POLICY,
    _cookie,
    _provider_for,
    _signed,
    api,
    csrf_of,
    make,
    sign_in,
)
from .test_issue16_redteam import broker as broker
from .test_issue16_redteam import idp as idp
from .test_issue16_redteam import service as service
from .test_issue16_redteam import tokens as tokens

pytestmark = pytest.mark.timeout(180)


def evidence(identity: str) -> SignInEvidence:
    """What the web layer builds after verifying a token (the broker only checks its shape)."""
    return SignInEvidence(identity, "https://idp.example.com", "sub-1", "ab" * 32, 1)


# One canonical identity (F1, F3).


def test_identities_are_checked_before_they_are_folded():
    """E-mail identities must be ASCII (checked on the raw string), then lowercased; other
    identities must be NFKC and keep their case."""
    assert canonical_identity("oidc:Ana@Example.COM") == "oidc:ana@example.com"
    assert canonical_identity("cli:Bob") == "cli:Bob"
    for bad in ("oidc:\u212aate@example.com", "cli:\uff42ob", "oidc:a b@x.org", "nocolon"):
        with pytest.raises(UnusableIdentity):
            canonical_identity(bad)


def test_the_policy_refuses_a_look_alike_address_and_folds_case():
    """``people:`` with a KELVIN SIGN address is a policy error naming it; a mixed-case address
    is the lowercase one, so the web's identity finds its person."""
    base = "version: 1\ndefaults: {effect: allow}\npeople:\n  kate: [%s]\n"
    with pytest.raises(PolicyError, match="non-ASCII"):
        Policy.from_string(base % '"oidc:\u212aate@example.com"')
    policy = Policy.from_string(base % "oidc:Kate@Example.com")
    assert policy.directory.person_of("oidc:kate@example.com") == "kate"
    assert policy.directory.person_of("oidc:KATE@example.com") == "kate"


def test_a_look_alike_of_the_person_served_is_barred_and_cannot_vote(broker):
    """The broker, whatever channel calls it: a voter identity that is not canonical is refused,
    and one that only differs in case from the person served is that person."""
    request = make(broker, on_behalf_of="oidc:ANA@example.com")
    with pytest.raises(SelfApproval):
        broker.vote(request.id, "oidc:Ana@Example.com", "approve", channel="web", revision=0)
    with pytest.raises(Exception, match="non-ASCII"):
        broker.vote(request.id, "oidc:\u212aate@example.com", "approve", channel="web", revision=0)
    assert broker.store.votes(request.id) == []


# Step-up (F4, and the edit that moved a request to a rule without step-up).

STEPUP_POLICY = """
version: 1
defaults: {effect: allow}
people:
  bob: [oidc:bob@example.com, cli:bob]
  carol: [oidc:carol@example.com, cli:carol]
rules:
  - id: big-wire
    match: {tool: wire, args: {amount: {gt: 1000}}}
    effect: require_approval
    approval: {approvers: [bob, carol], quorum: 2, allow_edit: true, authentication: oidc}
  - id: small-wire
    match: {tool: wire}
    effect: require_approval
    approval: {approvers: [bob, carol], quorum: 2, allow_edit: true}
"""


@pytest.fixture
def stepup_broker(tmp_path):
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    yield ApprovalBroker(store, Policy.from_string(STEPUP_POLICY))
    store.close()


def test_an_edit_never_drops_step_up_and_signed_in_votes_carry_evidence(stepup_broker):
    """bob, signed in, edits a step-up wire down to an amount a rule without step-up covers:
    the request keeps ``authentication: oidc``, so carol's CLI vote is still refused; her
    signed-in vote counts, and its audit row records the provider's evidence."""
    b = stepup_broker
    call = ToolCall(
        "wire", {"amount": 5000}, call_id="c1", principal=Principal("agent:x", "oidc:z@x.org")
    )
    request = b.request(call, b.policy.evaluate(call), masked_args={"amount": 5000})
    assert request.authentication == "oidc"
    with pytest.raises(StepUpRequired):
        b.vote(request.id, "oidc:bob@example.com", "approve", channel="cli", revision=0)
    edited = b.vote(
        request.id,
        "oidc:bob@example.com",
        "approve",
        edited_args={"amount": 500},
        channel="web",
        revision=0,
        sign_in=evidence("oidc:bob@example.com"),
    )
    assert edited.request.rule_id == "small-wire"
    assert edited.request.authentication == "oidc"
    with pytest.raises(StepUpRequired):
        b.vote(request.id, "cli:carol", "approve", channel="cli", revision=1)
    with pytest.raises(StepUpRequired):  # evidence for someone else proves nothing for carol
        b.vote(
            request.id,
            "oidc:carol@example.com",
            "approve",
            channel="web",
            revision=1,
            sign_in=evidence("oidc:bob@example.com"),
        )
    b.vote(
        request.id,
        "oidc:carol@example.com",
        "approve",
        channel="api",
        revision=1,
        sign_in=evidence("oidc:carol@example.com"),
    )
    rows = [r for r in b.store.audit_rows() if r.event == Event.VOTE_RECORDED]
    assert rows[-1].data["sign_in"]["token_sha256"] == "ab" * 32


def test_a_vote_through_the_api_records_the_tokens_evidence(service, broker, tokens):
    """A signed-in vote on a step-up rule counts, and its audit row names the issuer, the
    subject and a digest of the token: a provider-backed vote is told from a written one."""
    request = make(broker, tool="wire_money", args={"amount": 5, "to": "DE00"})
    answer = api(
        service,
        tokens["bob"],
        "POST",
        f"/api/v1/requests/{request.id}/votes",
        json={"verdict": "approve", "revision": 0},
    )
    assert answer.status_code == 200, answer.text
    row = [
        r
        for r in broker.store.audit_rows()
        if r.request_id == request.id and r.event == Event.VOTE_RECORDED
    ]
    assert row[-1].data["sign_in"]["sub"] == "bob"
    assert row[-1].data["sign_in"]["iss"] == service.issuer


# Reading (F5): approvers see the reviewer view, everyone else the reader view.


def test_only_approvers_read_the_reviewer_view_votes_reasons_and_audit(service, broker, tokens):
    """bob (an approver) reads the clear value; mallory (no approver) gets the masked
    arguments in one request, the list and the audit export, and no vote reasons."""
    secret = "jane.fix16@customer.example"
    request = make(
        broker,
        args={"to": "<EMAIL_1>", "body": "hi"},
        review=("clear", {"to": secret, "body": "hi"}),
    )
    broker.vote(
        request.id,
        "oidc:alice@example.com",
        Verdict.APPROVE,
        reason=f"yes, {secret} is ours",
        channel="web",
        revision=0,
    )
    bob = api(service, tokens["bob"], "GET", f"/api/v1/requests/{request.id}")
    assert secret in bob.text
    for path in (f"/api/v1/requests/{request.id}", "/api/v1/requests", "/api/v1/audit"):
        answer = api(service, tokens["mallory"], "GET", path)
        assert answer.status_code == 200 and secret not in answer.text, path
    one = api(service, tokens["mallory"], "GET", f"/api/v1/requests/{request.id}").json()
    assert one["args"]["to"] == "<EMAIL_1>" and one["votes"][0]["reason"] is None


def test_a_reviewer_removed_from_the_policy_file_reads_the_masked_view(tmp_path):
    """Reads judge by the policy as it is now (`ApprovalBroker.current_policy`, as votes do):
    once bob's removal from ``people:`` has settled, his API read and his inbox page of a
    request show the masked arguments, not the clear reviewer view he saw before (reads used
    the policy the last vote had loaded)."""
    from guardrails_plugin.web.app import create_app
    from guardrails_plugin.web.oidc import SignedIn

    provider, _ = _provider_for("https://idp.example.com")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    broker = ApprovalBroker(store, Policy.load(policy_file))
    broker.follow_policy_file("web", settle=0.05)
    secret = "jane.removed@customer.example"
    request = make(
        broker,
        args={"to": "<EMAIL_1>", "body": "hi"},
        review=("clear", {"to": secret, "body": "hi"}),
    )
    app = create_app(provider.settings, broker, provider)
    session, _ = app.state.sessions.create(
        SignedIn("oidc:bob@example.com", "bob", "Bob", time.time() + 600)
    )

    async def reads() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        cookie = {"cookie": f"{SESSION_COOKIE}={session}"}
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
            paths = (f"/api/v1/requests/{request.id}", f"/inbox/requests/{request.id}")
            answers = [await client.get(path, headers=cookie) for path in paths]
        assert [a.status_code for a in answers] == [200, 200]
        return [a.text for a in answers]

    try:
        assert all(secret in text for text in asyncio.run(reads()))
        policy_file.write_text(
            POLICY.replace("  bob: [oidc:bob@example.com, cli:bob]\n", "").replace(
                "leads: [alice, bob, kate, ana]", "leads: [alice, kate, ana]"
            )
        )
        time.sleep(0.3)  # past the settle time
        api_text, page = asyncio.run(reads())
        assert secret not in api_text and "<EMAIL_1>" in api_text
        assert secret not in page and "EMAIL_1" in page
    finally:
        store.close()


def test_a_non_approvers_inbox_page_shows_the_one_reader_view(tmp_path):
    """The inbox builds its reader view with the API's (`views.reader_view`): mallory, who
    may read but is no approver, gets a request page with the masked arguments and none of the
    clear value, whether in the arguments, the edit box or a vote's reason."""
    from guardrails_plugin.web.app import create_app
    from guardrails_plugin.web.oidc import SignedIn
    from guardrails_plugin.web.views import READER_VIEW

    provider, _ = _provider_for("https://idp.example.com")
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    broker = ApprovalBroker(store, Policy.from_string(POLICY))
    secret = "jane.inbox@customer.example"
    request = make(
        broker,
        args={"to": "<EMAIL_1>", "body": "hi"},
        review=("clear", {"to": secret, "body": "hi"}),
    )
    broker.vote(request.id, "oidc:bob@example.com", "deny", reason=f"not {secret}", channel="web")
    app = create_app(provider.settings, broker, provider)
    who = SignedIn("oidc:mallory@example.com", "mallory", "Mallory", time.time() + 600)
    session, _ = app.state.sessions.create(who)

    async def page() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
            cookie = {"cookie": f"{SESSION_COOKIE}={session}"}
            return await client.get(f"/inbox/requests/{request.id}", headers=cookie)

    try:
        answer = asyncio.run(page())
        assert answer.status_code == 200
        assert secret not in answer.text and "EMAIL_1" in answer.text
        assert READER_VIEW.split(" (")[0] in answer.text
    finally:
        store.close()


def test_a_readers_audit_export_withholds_the_terms_digest(service, broker, tokens):
    """The terms recorded with a request carry a digest of the reviewer view (an unkeyed hash
    over the clear values): a reader who is no approver gets them withheld, as the shown
    arguments, or could confirm a guessed address offline; an approver still gets them."""
    secret = "jane.terms@customer.example"
    request = make(
        broker,
        args={"to": "<EMAIL_1>", "body": "hi"},
        review=("clear", {"to": secret, "body": "hi"}),
    )

    def terms_of(sub: str) -> list[object]:
        answer = api(service, tokens[sub], "GET", "/api/v1/audit", params={"since": "1h"})
        rows = [json.loads(line) for line in answer.text.splitlines()]
        return [
            r["data"]["terms"]
            for r in rows
            if r["request_id"] == request.id and "terms" in r["data"]
        ]

    assert terms_of("mallory") and all(t == WITHHELD for t in terms_of("mallory"))
    assert all(isinstance(t, dict) for t in terms_of("bob"))


# Sessions.


def test_sign_in_ends_the_browsers_old_session_without_the_callback_seeing_it(service):
    """In a browser the Strict session cookie is not sent on the provider's redirect to the
    callback; /auth/login (same-site) sees it, and the new sign-in ends that old session."""
    _, old = sign_in(service, "bob")
    cookie = {"cookie": f"{SESSION_COOKIE}={old}"}
    assert httpx.get(service.url + "/api/v1/requests", headers=cookie).status_code == 200
    start = httpx.get(service.url + "/auth/login", headers=cookie)
    binding = _cookie(start, SIGNIN_COOKIE)
    at_provider = httpx.post(start.headers["location"], data={"sub": "bob"})
    answer = httpx.get(  # no session cookie here, as in a browser
        at_provider.headers["location"], headers={"cookie": f"{SIGNIN_COOKIE}={binding}"}
    )
    new = _cookie(answer, SESSION_COOKIE)
    assert httpx.get(service.url + "/api/v1/requests", headers=cookie).status_code == 401
    fresh = {"cookie": f"{SESSION_COOKIE}={new}"}
    assert httpx.get(service.url + "/api/v1/requests", headers=fresh).status_code == 200


def test_a_session_ends_when_its_id_token_does():
    """The session lives at most until the ID token's exp (then the provider is asked again:
    disabled users and group changes take effect), and at most the configured maximum."""
    from guardrails_plugin.web.oidc import SignedIn
    from guardrails_plugin.web.sessions import Sessions

    sessions = Sessions(8 * 3600)
    soon = SignedIn("oidc:bob@example.com", "bob", "Bob", time.time() + 60)
    _, session = sessions.create(soon)
    assert session.expires_at <= soon.expires_at
    token, _ = sessions.create(SignedIn("oidc:bob@example.com", "bob", "Bob", time.time() - 1))
    assert sessions.get(token) is None
    later = SignedIn("oidc:bob@example.com", "bob", "Bob", time.time() + 10 * 86400)
    assert sessions.create(later)[1].expires_at <= time.time() + 8 * 3600 + 1


def test_the_event_stream_count_per_identity_is_capped(service, broker):
    """One identity holds at most 4 open streams (each polls the store); the 5th gets 429."""
    _, session = sign_in(service, "alice")
    cookie = {"cookie": f"{SESSION_COOKIE}={session}"}
    with httpx.Client(timeout=httpx.Timeout(10, read=8)) as client:
        opened, lines = [], []  # keep each line iterator: dropping one closes its connection
        try:
            for _ in range(4):
                stream = client.stream("GET", service.url + "/api/v1/stream", headers=cookie)
                answer = stream.__enter__()
                opened.append(stream)
                assert answer.status_code == 200
                lines.append(answer.iter_lines())
                assert next(lines[-1]).startswith("retry:")
            extra = httpx.get(service.url + "/api/v1/stream", headers=cookie, timeout=10)
            assert extra.status_code == 429
        finally:
            for stream in opened:
                stream.__exit__(None, None, None)
    csrf_of(service, session)  # the session itself still works


def test_parallel_opens_cannot_pass_the_stream_cap_together(tmp_path):
    """The cap is checked and counted in one step: 10 streams opened at once by one identity,
    each slow to take its headers (a slow client), get exactly 4 answers 200 and 6 answers 429
    (checked at open but counted at body start, all 10 passed). Every slot comes back when the
    clients leave, including one whose body never started."""
    from guardrails_plugin.web.app import create_app
    from guardrails_plugin.web.oidc import SignedIn

    provider, _ = _provider_for("https://idp.example.com")
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    app = create_app(provider.settings, ApprovalBroker(store, None), provider)
    bob = SignedIn("oidc:bob@example.com", "bob", "Bob", time.time() + 600)
    session, _ = app.state.sessions.create(bob)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/api/v1/stream",
        "raw_path": b"/api/v1/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"t"), (b"cookie", f"{SESSION_COOKIE}={session}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("t", 443),
    }

    async def opens() -> list[int]:
        headers_taken, gone = asyncio.Event(), asyncio.Event()
        codes: list[int] = []
        sent_request = [False] * 10

        def client(n: int) -> tuple[Any, Any]:
            async def receive() -> dict[str, Any]:
                if not sent_request[n]:
                    sent_request[n] = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await gone.wait()
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    codes.append(message["status"])
                    if message["status"] == 200:
                        await headers_taken.wait()
                elif gone.is_set():
                    raise OSError("client gone")

            return receive, send

        tasks = [asyncio.create_task(app(dict(scope), *client(n))) for n in range(10)]
        for _ in range(2000):  # every request has its answer's status line
            if len(codes) == 10:
                break
            await asyncio.sleep(0.01)
        found = sorted(codes)
        gone.set()
        headers_taken.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        return found

    try:
        assert asyncio.run(opens()) == [200] * 4 + [429] * 6
        assert not app.state.open_streams  # every slot given back
    finally:
        store.close()


def test_audit_reads_are_paged(service, broker, tokens):
    """``limit`` bounds an audit page (at most 10,000 rows) and a full page names where the
    next one starts; an oversized limit is a 400, not a 100,000-row answer."""
    make(broker)
    make(broker)
    page = api(service, tokens["bob"], "GET", "/api/v1/audit", params={"limit": "2"})
    assert page.status_code == 200 and len(page.text.splitlines()) == 2
    after = page.headers["x-next-after-seq"]
    more = api(service, tokens["bob"], "GET", "/api/v1/audit", params={"after_seq": after})
    assert more.status_code == 200 and more.text.splitlines()
    too_big = api(service, tokens["bob"], "GET", "/api/v1/audit", params={"limit": "100001"})
    assert too_big.status_code == 400


# Tokens.


def test_the_api_takes_no_sign_in_id_token_nor_other_token_types():
    """A token carrying a ``nonce`` is an ID token from a browser sign-in: not an API bearer
    token (it is fine where the sign-in expects that nonce). A ``typ`` other than JWT or
    at+jwt (a logout token, say) is no ID or access token at all."""
    from joserfc import jwt

    from guardrails_plugin.web.oidc import InvalidToken

    provider, key = _provider_for("https://idp.example.com")
    now = int(time.time())
    claims = {"iss": "https://idp.example.com", "aud": "api", "exp": now + 600, "iat": now}
    claims |= {"sub": "u1", "email": "bob@example.com", "email_verified": True, "nonce": "n1"}
    token = _signed(key, claims)
    with pytest.raises(InvalidToken, match="ID token"):
        asyncio.run(provider.verify(token, audience="api"))
    assert asyncio.run(provider.verify(token, audience="api", nonce="n1")).subject == "u1"
    del claims["nonce"]
    logout = jwt.encode({"alg": "RS256", "kid": "k1", "typ": "logout+jwt"}, claims, key)
    with pytest.raises(InvalidToken, match="typ"):
        asyncio.run(provider.verify(logout, audience="api"))
    access = jwt.encode({"alg": "RS256", "kid": "k1", "typ": "at+jwt"}, claims, key)
    assert asyncio.run(provider.verify(access, audience="api")).identity == "oidc:bob@example.com"


def test_unverified_emails_are_accepted_only_when_the_deployment_says_so():
    """A provider that never sends ``email_verified`` (Entra ID) is refused by default; the
    explicit opt-out accepts it."""
    from guardrails_plugin.web.oidc import InvalidToken, Provider
    from guardrails_plugin.web.settings import WebSettings

    provider, key = _provider_for("https://idp.example.com")
    now = int(time.time())
    claims = {"iss": "https://idp.example.com", "aud": "api", "exp": now + 600, "iat": now}
    token = _signed(key, claims | {"sub": "u1", "email": "Bob@Example.com"})
    with pytest.raises(InvalidToken, match="not verified"):
        asyncio.run(provider.verify(token, audience="api"))
    settings = WebSettings.resolve(
        issuer="https://idp.example.com",
        client_id="inbox",
        audience="api",
        public_url="https://guard.example.com",
        env={"GUARDRAILS_SESSION_SECRET": "s" * 40, "GUARDRAILS_OIDC_ALLOW_UNVERIFIED_EMAIL": "1"},
    )
    lax = Provider(settings, provider.metadata, provider._keys)
    assert asyncio.run(lax.verify(token, audience="api")).identity == "oidc:bob@example.com"


def test_https_deployments_send_strict_transport_security(tmp_path):
    """With an https public URL every answer carries HSTS; on http (local use) none does."""
    from guardrails_plugin.web.app import create_app

    provider, _ = _provider_for("https://idp.example.com")
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    try:
        app = create_app(provider.settings, ApprovalBroker(store, None), provider)

        async def get() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
                return await client.get("/health")

        answer = asyncio.run(get())
        assert answer.headers["strict-transport-security"].startswith("max-age=")
    finally:
        store.close()
