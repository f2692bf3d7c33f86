"""The inbox's web security over plain HTTP (httpx; cookies handled by hand, since they are
Secure and the test server is http://127.0.0.1): sign-in state bound to the browser, no open
redirect, cookie attributes and rotation, CSRF on votes, sign-in callbacks rate limited."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import Principal, ToolCall
from guardrails_plugin.web.auth import SESSION_COOKIE
from guardrails_plugin.web.signin import SIGNIN_COOKIE

from ..helpers import KEY
from .harness import Service, identity_provider

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def idp():
    with identity_provider() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def service(idp, tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("web-inbox"), idp)
    yield running
    running.stop()


def _cookie(answer: httpx.Response, name: str) -> tuple[str, str]:
    """(value, the whole Set-Cookie header) of cookie ``name``."""
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return header.split(";", 1)[0].split("=", 1)[1], header
    raise AssertionError(f"no {name} cookie in {answer.headers}")


def start(service: Service, next_path: str = "/inbox") -> tuple[str, str, str]:
    """GET /auth/login: (the provider URL it redirects to, the sign-in cookie, the state)."""
    answer = httpx.get(service.url + "/auth/login", params={"next": next_path})
    assert answer.status_code == 303, answer.text
    where = answer.headers["location"]
    state = parse_qs(urlsplit(where).query)["state"][0]
    return where, _cookie(answer, SIGNIN_COOKIE)[0], state


def provider_login(where: str, sub: str) -> str:
    """Sign in at the provider as ``sub``; the callback URL it sends the browser to."""
    answer = httpx.post(where, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(service: Service, sub: str, old: str | None = None) -> tuple[httpx.Response, str]:
    where, binding, _ = start(service)
    cookies = f"{SIGNIN_COOKIE}={binding}" + (f"; {SESSION_COOKIE}={old}" if old else "")
    answer = httpx.get(provider_login(where, sub), headers={"cookie": cookies})
    assert answer.status_code == 200, answer.text
    return answer, _cookie(answer, SESSION_COOKIE)[0]


def page(service: Service, session: str, path: str) -> httpx.Response:
    return httpx.get(service.url + path, headers={"cookie": f"{SESSION_COOKIE}={session}"})


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def pending(service):
    store = SQLiteStore(service.db, key=KEY)
    broker = ApprovalBroker(store, Policy.load(service.policy))
    call = ToolCall(
        "send_email",
        {"to": "ops@example.org", "body": "hi"},
        call_id=uuid.uuid4().hex,
        run_id="run-inbox",
        principal=Principal("agent:support-bot", "oidc:ana@example.com"),
    )
    yield broker.request(call, broker.policy.evaluate(call), masked_args=dict(call.args))
    store.close()


def test_the_session_cookie_is_strict_httponly_secure_and_rotated_at_sign_in(service):
    """Sign-in sets a SameSite=Strict, HttpOnly, Secure cookie with an expiry; signing in
    again from the same browser replaces the session, and the old cookie stops working."""
    answer, first = sign_in(service, "bob")
    _, header = _cookie(answer, SESSION_COOKIE)
    lowered = header.lower()
    assert "samesite=strict" in lowered and "httponly" in lowered and "secure" in lowered
    assert "max-age=" in lowered
    assert page(service, first, "/inbox").status_code == 200
    _, second = sign_in(service, "bob", old=first)
    assert second != first
    assert page(service, second, "/inbox").status_code == 200
    assert page(service, first, "/inbox").status_code == 401  # the sign-in page


def test_votes_without_or_with_a_wrong_csrf_token_are_403_and_record_nothing(service, pending):
    _, session = sign_in(service, "bob")
    html = page(service, session, f"/inbox/requests/{pending.id}").text
    token = csrf_of(html)
    url = f"{service.url}/inbox/requests/{pending.id}/vote"
    cookie = {"cookie": f"{SESSION_COOKIE}={session}"}
    for form in (
        {"action": "approve", "revision": "0"},
        {"action": "approve", "revision": "0", "csrf": "x" * 43},
        {"action": "approve", "revision": "0", "csrf": ""},
    ):
        answer = httpx.post(url, data=form, headers=cookie)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["status"] == 403
    # The API with a session (no bearer token) needs the token in X-CSRF-Token too.
    api = httpx.post(
        f"{service.url}/api/v1/requests/{pending.id}/votes",
        json={"verdict": "approve", "revision": 0},
        headers=cookie,
    )
    assert api.status_code == 403
    assert SQLiteStore(service.db, key=KEY).votes(pending.id) == []
    ok = httpx.post(url, data={"action": "approve", "revision": "0", "csrf": token}, headers=cookie)
    assert ok.status_code == 303 and ok.headers["location"] == f"/inbox/requests/{pending.id}"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/inbox/../x"]
)
def test_sign_in_never_redirects_off_the_inbox(service, target):
    where, binding, _ = start(service, target)
    answer = httpx.get(
        provider_login(where, "bob"), headers={"cookie": f"{SIGNIN_COOKIE}={binding}"}
    )
    assert answer.status_code == 200
    assert 'content="0;url=/inbox"' in answer.text and "evil" not in answer.text


def test_a_callback_not_started_in_this_browser_or_replayed_is_refused(service):
    """Login CSRF: a state started elsewhere (no or another binding cookie) signs nobody in;
    a callback used once cannot be used again."""
    where, binding, _ = start(service)
    callback = provider_login(where, "mallory")
    for cookies in ({}, {"cookie": f"{SIGNIN_COOKIE}=someone-else"}):
        answer = httpx.get(callback, headers=cookies)
        assert answer.status_code == 400 and SESSION_COOKIE not in str(answer.headers)
    # That state was consumed by the first refused try: even the right browser cannot reuse it.
    again = httpx.get(callback, headers={"cookie": f"{SIGNIN_COOKIE}={binding}"})
    assert again.status_code == 400
    unknown = httpx.get(service.url + "/auth/callback", params={"code": "x", "state": "y"})
    assert unknown.status_code == 400


def test_pages_set_a_strict_csp_and_unknown_requests_are_404(service):
    _, session = sign_in(service, "alice")
    answer = page(service, session, "/inbox/requests/req_doesnotexist")
    assert answer.status_code == 404 and answer.json()["error"]["status"] == 404
    inbox = page(service, session, "/inbox")
    csp = inbox.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "<script>" not in inbox.text and "onclick" not in inbox.text
    assert inbox.headers["x-frame-options"] == "DENY"


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_browsers_get_error_pages_and_programs_keep_json(service):
    """A browser on the inbox (Accept: text/html) gets a page for a 403 (bad CSRF token), a 404
    (unknown request or path) and a 429 (too many votes, with Retry-After); the same refusals
    stay JSON for Accept: application/json and everywhere under /api/."""
    _, session = sign_in(service, "mallory")
    cookie = f"{SESSION_COOKIE}={session}"
    token = csrf_of(page(service, session, "/inbox").text)

    def post(path: str, accept: str, csrf: str = token) -> httpx.Response:
        headers = {"cookie": cookie, "accept": accept}
        data = {"action": "approve", "revision": "0", "csrf": csrf}
        return httpx.post(service.url + path, data=data, headers=headers)

    def is_page(answer: httpx.Response, status: int) -> bool:
        kind = answer.headers["content-type"]
        return answer.status_code == status and kind.startswith("text/html")

    vote = "/inbox/requests/req_missing/vote"
    forbidden = post(vote, BROWSER, csrf="wrong")
    assert is_page(forbidden, 403) and "CSRF" in forbidden.text and "<h1>" in forbidden.text
    assert post(vote, "application/json", csrf="wrong").json()["error"]["status"] == 403
    headers = {"cookie": cookie, "accept": BROWSER}
    assert is_page(httpx.get(service.url + "/inbox/requests/req_missing", headers=headers), 404)
    assert is_page(httpx.get(service.url + "/inbox/nowhere", headers=headers), 404)
    api = httpx.get(service.url + "/api/v1/requests/req_missing", headers=headers)
    assert api.status_code == 404 and api.json()["error"]["status"] == 404
    answers = [post(vote, BROWSER) for _ in range(31)]  # the vote limit is 30 a minute
    assert all(is_page(a, 404) for a in answers[:30])
    limited = answers[30]
    assert is_page(limited, 429) and int(limited.headers["retry-after"]) >= 1
    assert "Too many requests" in limited.text
    assert "content-security-policy" in limited.headers
    assert post(vote, "application/json").json()["error"]["status"] == 429


def test_sign_in_callbacks_are_rate_limited(service):
    """More than 30 callbacks a minute from one address: 429 (this test runs last here)."""
    codes = [
        httpx.get(service.url + "/auth/callback", params={"code": "x", "state": "y"}).status_code
        for _ in range(35)
    ]
    assert 429 in codes and set(codes) <= {400, 429}
