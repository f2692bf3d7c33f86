"""Red-team findings against issue 16 (``guardrails-plugin serve``: API v1, the inbox, OIDC).

Each test states the promise it holds and failed on the code as landed (``751b554``); the
fixes are described per finding in the report's "Fixed" lines.
Report: docs/reports/issue16-redteam.md. Real pieces only: oidc-provider-mock as the identity
provider (its real code flow and signatures), the service under uvicorn in a subprocess, the
store in a SQLite file; tokens a provider would sign with odd claims are made with joserfc
against an in-process `Provider` built from a key set we hold (no mock of our code).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import StepUpRequired
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.records import Verdict
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall
from guardrails_plugin.web.auth import SESSION_COOKIE
from guardrails_plugin.web.signin import SIGNIN_COOKIE

from ..helpers import KEY
from ..web.harness import USERS, Service, provider_token

pytestmark = pytest.mark.timeout(180)

POLICY = """
version: 1
defaults: {effect: allow}
people:
  alice: [oidc:alice@example.com, slack:UALICE]
  bob: [oidc:bob@example.com, cli:bob]
  kate: [oidc:kate@example.com]
  ana: [oidc:ana@example.com]
  mallory: [oidc:mallory@example.com]
groups:
  leads: [alice, bob, kate, ana]
rules:
  - id: email-out
    match: {tool: send_email}
    effect: require_approval
    approval: {approvers: [leads], timeout: 10m, allow_edit: true, reviewer_view: clear}
  - id: wire-money
    match: {tool: wire_money}
    effect: require_approval
    approval: {approvers: [leads], timeout: 10m, authentication: oidc}
"""

# Accounts an identity provider can hold (claims it signs as they are).
EXTRA_USERS = {
    "kate": {"email": "kate@example.com", "email_verified": True, "name": "Kate Lead"},
    # Another account whose address starts with U+212A KELVIN SIGN, not the letter K.
    "kelvin": {"email": "\u212aate@example.com", "email_verified": True, "name": "Not Kate"},
    # Providers that send booleans as strings (AWS Cognito did): "false" means not verified.
    "unverified": {"email": "bob@example.com", "email_verified": "false", "name": "Not Bob"},
}


@contextmanager
def provider() -> Iterator[str]:
    """oidc-provider-mock on 127.0.0.1 with the harness's users and ``EXTRA_USERS``."""
    import werkzeug.serving
    from oidc_provider_mock import User, app

    users = [User(sub=s, claims=c) for s, c in {**USERS, **EXTRA_USERS}.items()]
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, app(user_claims=users, require_nonce=False), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def idp():
    with provider() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def service(idp, tmp_path_factory):
    # Deployed as docs/operations.md says behind a proxy on another host: that proxy (the
    # F10 test connects through 127.0.0.2) is named in GUARDRAILS_TRUSTED_PROXIES.
    running = Service(
        tmp_path_factory.mktemp("rt16"),
        idp,
        policy=POLICY,
        env={"GUARDRAILS_TRUSTED_PROXIES": "127.0.0.1,127.0.0.2"},
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tokens(idp):
    return {s: provider_token(idp, s) for s in ("bob", "ana", "mallory", "kelvin", "unverified")}


@pytest.fixture
def broker(service):
    store = SQLiteStore(service.db, key=KEY)
    yield ApprovalBroker(store, Policy.load(service.policy))
    store.close()


def make(broker, tool="send_email", args=None, on_behalf_of="oidc:ana@example.com", review=None):
    call = ToolCall(
        tool,
        args or {"to": "ops@example.org", "body": "hello"},
        call_id=uuid.uuid4().hex,
        run_id="run-rt16",
        principal=Principal("agent:support-bot", on_behalf_of),
    )
    return broker.request(
        call, broker.policy.evaluate(call), masked_args=dict(call.args), review=review
    )


def api(service, token, method, path, **kw):
    """One request on a fresh connection (a 500 makes uvicorn drop a kept-alive one)."""
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
    return httpx.request(method, service.url + path, headers=headers, timeout=30, **kw)


# Browser sign-in over plain HTTP (cookies by hand: they are Secure, the server is http).


def _cookie(answer: httpx.Response, name: str) -> str:
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie in {answer.headers}")


def sign_in(service: Service, sub: str) -> tuple[httpx.Response, str]:
    """(the callback's answer, the session cookie's value) for ``sub``."""
    start = httpx.get(service.url + "/auth/login")
    assert start.status_code == 303, start.text
    binding = _cookie(start, SIGNIN_COOKIE)
    at_provider = httpx.post(start.headers["location"], data={"sub": sub})
    assert at_provider.status_code == 302, at_provider.text
    answer = httpx.get(
        at_provider.headers["location"], headers={"cookie": f"{SIGNIN_COOKIE}={binding}"}
    )
    assert answer.status_code == 200, answer.text
    return answer, _cookie(answer, SESSION_COOKIE)


def csrf_of(service: Service, session: str) -> str:
    html = httpx.get(service.url + "/inbox", headers={"cookie": f"{SESSION_COOKIE}={session}"})
    found = re.search(r'name="csrf" value="([^"]+)"', html.text)
    assert found, html.text
    return found.group(1)


# Identity: who a token becomes.


def test_a_confusable_email_does_not_become_another_reviewer(service, broker, tokens):
    """An account whose email is ``\\u212aate@example.com`` (KELVIN SIGN) is not Kate: the
    identity must not be ``oidc:kate@example.com``, and its vote must not count as hers."""
    request = make(broker)
    answer = api(
        service,
        tokens["kelvin"],
        "POST",
        f"/api/v1/requests/{request.id}/votes",
        json={"verdict": "approve", "revision": 0},
    )
    assert answer.status_code in (401, 403), answer.text
    assert broker.store.votes(request.id) == []


def test_an_email_the_provider_marks_unverified_as_a_string_is_refused(service, broker, tokens):
    """``email_verified: "false"`` is not a verified email: the token must not read or vote as
    ``oidc:bob@example.com`` (docs: ``email_verified: false`` refused)."""
    request = make(broker)
    assert api(service, tokens["unverified"], "GET", "/api/v1/requests").status_code == 401
    answer = api(
        service,
        tokens["unverified"],
        "POST",
        f"/api/v1/requests/{request.id}/votes",
        json={"verdict": "approve", "revision": 0},
    )
    assert answer.status_code == 401, answer.text
    assert broker.store.votes(request.id) == []


def test_the_person_served_cannot_approve_when_their_address_is_written_in_another_case(
    service, broker, tokens
):
    """The agent acts for ``oidc:Ana@Example.com`` (as the app's user record spells it). The
    web lowercases ana's email, so her token is ``oidc:ana@example.com``; she is a lead, but
    the request is hers: 403 and no vote (P-duties: no self-approval)."""
    request = make(broker, on_behalf_of="oidc:Ana@Example.com")
    answer = api(
        service,
        tokens["ana"],
        "POST",
        f"/api/v1/requests/{request.id}/votes",
        json={"verdict": "approve", "revision": 0},
    )
    assert answer.status_code == 403, answer.text
    assert broker.store.votes(request.id) == []


# Step-up.


def test_a_cli_channel_vote_naming_an_oidc_identity_is_refused_on_a_step_up_rule(broker):
    """Step-up promises only reviewers signed in through the provider count. A caller of the
    broker (a script with the store key, `ScriptedApprover`, any future channel) that writes
    ``oidc:bob@example.com`` with channel ``cli`` proved nothing to the provider: refused."""
    request = make(broker, tool="wire_money", args={"amount": 5000, "to": "DE00"})
    with pytest.raises(StepUpRequired):
        broker.vote(request.id, "oidc:bob@example.com", Verdict.APPROVE, channel="cli", revision=0)
    assert broker.store.votes(request.id) == []


# Reading.


def test_a_non_approver_does_not_read_a_clear_reviewer_view(service, broker, tokens):
    """A rule shows its approvers personal data in clear (reviewer_view: clear). Mallory is
    no approver of it: she may not read those values through the API (only approvers see a
    request's reviewer view; others at most the masked arguments)."""
    secret = "jane.doe.rt16@customer.example"
    request = make(
        broker,
        args={"to": "<EMAIL_1>", "body": "hi"},
        review=("clear", {"to": secret, "body": "hi"}),
    )
    one = api(service, tokens["mallory"], "GET", f"/api/v1/requests/{request.id}")
    listed = api(service, tokens["mallory"], "GET", "/api/v1/requests")
    assert secret not in one.text and secret not in listed.text


# Malformed input: 4xx, never 500 (W5).


def test_unicode_digits_and_huge_integers_get_a_4xx_not_a_500(service, broker, tokens):
    """``str.isdigit`` is true for ``²``, which ``int`` refuses, and JSON with a 5000-digit
    number passes ``json.loads``' syntax but not its int limit: each must be a JSON 4xx."""
    request = make(broker)
    answers = [
        api(service, tokens["bob"], "GET", "/api/v1/audit", params={"after_seq": "²"}),
        api(service, tokens["bob"], "GET", "/api/v1/requests", params={"limit": "²"}),
        api(
            service,
            tokens["bob"],
            "POST",
            f"/api/v1/requests/{request.id}/votes",
            content=b'{"verdict": "approve", "revision": ' + b"9" * 5000 + b"}",
            headers={"content-type": "application/json"},
        ),
    ]
    _, session = sign_in(service, "bob")
    cookie = {"cookie": f"{SESSION_COOKIE}={session}"}
    csrf = csrf_of(service, session)
    for form in (
        {"csrf": csrf, "action": "approve", "revision": "²"},
        {"csrf": csrf, "action": "edit", "revision": "0", "args": '{"n": ' + "9" * 5000 + "}"},
    ):
        answers.append(
            httpx.post(f"{service.url}/inbox/requests/{request.id}/vote", data=form, headers=cookie)
        )
    assert [a.status_code for a in answers if a.status_code >= 500] == []
    assert broker.store.votes(request.id) == []


def _provider_for(issuer: str) -> tuple[Any, Any]:
    """A `Provider` for ``issuer`` (resolved from settings as `serve` does) over a key set we
    hold, and that key: a provider's signature over claims it chose."""
    from joserfc.jwk import KeySet, RSAKey

    from guardrails_plugin.web.oidc import Provider
    from guardrails_plugin.web.settings import WebSettings

    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
    settings = WebSettings.resolve(
        issuer=issuer,
        client_id="inbox",
        audience="api",
        public_url="https://guard.example.com",
        env={"GUARDRAILS_SESSION_SECRET": "s" * 40},
    )
    keys = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    meta = {"jwks_uri": issuer + "jwks", "authorization_endpoint": "a", "token_endpoint": "t"}
    return Provider(settings, meta, keys), key


def _signed(key: Any, claims: dict[str, Any]) -> str:
    from joserfc import jwt

    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def test_a_token_with_an_absurd_expiry_is_an_invalid_token_not_a_crash():
    """``exp`` of 10**400 (valid JSON, signed) must end as `InvalidToken` (a 401), never an
    unexpected exception (a 500 on every API call and sign-in carrying it)."""
    from guardrails_plugin.web.oidc import InvalidToken

    provider_, key = _provider_for("https://idp.example.com")
    now = int(time.time())
    token = _signed(
        key,
        {"iss": "https://idp.example.com", "aud": "api", "exp": 10**400, "iat": now}
        | {"sub": "u1", "email": "bob@example.com"},
    )
    with pytest.raises(InvalidToken):
        asyncio.run(provider_.verify(token, audience="api"))


def test_a_provider_whose_issuer_ends_in_a_slash_can_sign_reviewers_in():
    """Auth0 (and others) name their issuer ``https://tenant.example/`` and put exactly that
    in ``iss``; the settings strip the slash, so every genuine token is refused. An exact
    comparison against the issuer the discovery document names would accept it."""
    issuer = "https://tenant.idp.example/"
    provider_, key = _provider_for(issuer)
    now = int(time.time())
    claims = {"iss": issuer, "aud": "api", "exp": now + 600, "iat": now, "sub": "u1"}
    token = _signed(key, claims | {"email": "bob@example.com", "email_verified": True})
    who = asyncio.run(provider_.verify(token, audience="api"))
    assert who.identity == "oidc:bob@example.com"


# Sessions, streams, rate limits.


def test_the_event_stream_stops_when_the_session_ends(service, broker):
    """After sign-out the session is gone; a stream it opened must not go on delivering
    request changes (tool names, ids) to that browser."""
    _, session = sign_in(service, "bob")
    cookie = {"cookie": f"{SESSION_COOKIE}={session}"}
    csrf = csrf_of(service, session)
    seen: list[str] = []
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=8)) as client,
        client.stream("GET", service.url + "/api/v1/stream", headers=cookie) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        out = httpx.post(service.url + "/auth/logout", data={"csrf": csrf}, headers=cookie)
        assert out.status_code == 303
        assert httpx.get(service.url + "/api/v1/requests", headers=cookie).status_code == 401
        made = make(broker, tool="send_email", args={"to": "x@example.org", "body": "after"})
        deadline = time.monotonic() + 5
        try:
            for line in lines:
                seen.append(line)
                if made.id in line or time.monotonic() > deadline:
                    break
        except httpx.HTTPError:
            pass  # the server closed the stream: what the promise asks
    assert not any(made.id in line for line in seen)


def test_one_client_behind_the_proxy_cannot_lock_everyone_out_of_sign_in(service):
    """Deployed behind a TLS proxy on another host (docs: 'Put the service behind your TLS
    terminating proxy'), every reviewer arrives from the proxy's address. One client making
    60 sign-in starts a minute must not refuse a different reviewer's first sign-in."""
    proxy = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=proxy, base_url=service.url, timeout=30) as via_proxy:
        for _ in range(60):
            via_proxy.get("/auth/login", headers={"x-forwarded-for": "203.0.113.66"})
        other = via_proxy.get("/auth/login", headers={"x-forwarded-for": "198.51.100.7"})
    assert other.status_code == 303, other.text


def test_the_session_cookie_cannot_be_planted_from_a_sibling_subdomain(service):
    """A cookie named ``__Host-…`` is refused by browsers unless Secure, Path=/ and without
    Domain, so a sibling host (``evil.corp.example``) cannot plant its own session (login CSRF
    or session fixation by cookie tossing)."""
    answer, _ = sign_in(service, "bob")
    names = [h.split("=", 1)[0] for h in answer.headers.get_list("set-cookie")]
    assert any(n.startswith("__Host-") for n in names), names
