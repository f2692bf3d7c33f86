"""Real services for the web tests: the identity provider (oidc-provider-mock, in a thread of
the test process), the service (``python -m guardrails_plugin serve`` under uvicorn, a
subprocess on 127.0.0.1), and a guarded agent in another process.

Tokens come from the provider through its real authorization-code flow (the login form posted
by httpx); a token the provider would never issue (another key) is made here with joserfc.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ..helpers import KEY

ROOT = Path(__file__).resolve().parents[2]
INBOX_CLIENT = "guardrails-inbox"
API_AUDIENCE = "guardrails-api"
SESSION_SECRET = "s" * 40

POLICY = """
version: 1
defaults: {effect: allow}
people:
  alice: [oidc:alice@example.com, slack:UALICE]
  bob: [oidc:bob@example.com, cli:bob]
  mallory: [oidc:mallory@example.com]
  ana: [oidc:ana@example.com]
groups:
  leads: [alice, bob]
rules:
  - id: email-out
    match: {tool: send_email}
    effect: require_approval
    approval: {approvers: [leads], timeout: 10m, allow_edit: true}
  - id: wire-money
    match: {tool: wire_money}
    effect: require_approval
    approval: {approvers: [leads], timeout: 10m, authentication: oidc}
"""

# sub → claims; the provider puts them in the ID token (after its own iss/aud/exp).
USERS = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice Lead"},
    "bob": {"email": "bob@example.com", "email_verified": True, "name": "Bob Lead"},
    "mallory": {"email": "mallory@example.com", "email_verified": True, "name": "Mallory"},
    "ana": {"email": "ana@example.com", "email_verified": True, "name": "Ana (the customer)"},
    # A real signature over an expired token: the provider copies these claims last.
    "stale": {"email": "alice@example.com", "email_verified": True, "exp": 1_000_000_000},
    "robot": {"name": "CI pipeline"},  # a machine client: no email claim
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def identity_provider() -> Iterator[str]:
    """The provider on 127.0.0.1; yields its issuer, ``http://localhost:PORT`` (it names itself
    by the Host it is reached at, which the wrong-issuer test uses)."""
    import werkzeug.serving
    from oidc_provider_mock import User, app

    users = [User(sub=sub, claims=claims) for sub, claims in USERS.items()]
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


def provider_token(
    issuer: str, sub: str, *, client_id: str = API_AUDIENCE, host: str | None = None
) -> str:
    """An ID token (a JWT signed by the provider) for ``sub``, through the code flow."""
    base = issuer if host is None else issuer.replace("localhost", host)
    redirect = "http://127.0.0.1:9/callback"
    with httpx.Client(base_url=base, timeout=30) as client:
        answer = client.post(
            "/oauth2/authorize",
            params={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect,
                "scope": "openid email profile",
                "state": "test",
            },
            data={"sub": sub},
        )
        assert answer.status_code == 302, answer.text
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        token = client.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": client_id,
                "client_secret": "unused",
            },
        )
        assert token.status_code == 200, token.text
        return str(token.json()["id_token"])


def forged_token(issuer: str, claims: dict[str, Any]) -> str:
    """A well-formed token signed by a key the provider never published."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048)
    now = int(time.time())
    payload = {"iss": issuer, "aud": [API_AUDIENCE], "iat": now, "exp": now + 600, **claims}
    return jwt.encode({"alg": "RS256"}, payload, key)


def python_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAILS_", "SLACK_"))}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        "GUARDRAILS_AUDIT_KEY": KEY.hex(),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class Service:
    """``guardrails-plugin serve`` in a subprocess, and httpx clients for it."""

    def __init__(
        self, tmp: Path, issuer: str, policy: str = POLICY, env: dict[str, str] | None = None
    ) -> None:
        self.tmp = tmp
        self.db = tmp / "guardrails.db"
        self.policy = tmp / "policy.yaml"
        self.policy.write_text(policy)
        from guardrails_plugin.store.sqlite import SQLiteStore

        SQLiteStore(self.db, key=KEY).close()  # the service opens an existing store only
        self.issuer = issuer
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = python_env(
            GUARDRAILS_OIDC_ISSUER=issuer,
            GUARDRAILS_OIDC_CLIENT_ID=INBOX_CLIENT,
            GUARDRAILS_OIDC_CLIENT_SECRET="inbox-secret",
            GUARDRAILS_OIDC_AUDIENCE=API_AUDIENCE,
            GUARDRAILS_PUBLIC_URL=self.url,
            GUARDRAILS_SESSION_SECRET=SESSION_SECRET,
            **(env or {}),
        )
        self.log = (tmp / "serve.log").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "guardrails_plugin",
                "serve",
                "--policy",
                str(self.policy),
                "--db",
                str(self.db),
                "--port",
                str(self.port),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.1)

    def output(self) -> str:
        self.log.flush()
        return (self.tmp / "serve.log").read_text()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, follow_redirects=False)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        self.log.close()


AGENT = """
import json, sys
from guardrails_plugin import Guard
from guardrails_plugin.masking import Masker

policy, db, tool, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
guard = Guard.from_policy(policy, store=db, principal="agent:support-bot",
                          on_behalf_of="oidc:ana@example.com", masker=Masker(ner=False))
ran = []
outcome = guard.call(tool, args, lambda a: ran.append(a) or "done", call_id=sys.argv[5])
print(json.dumps({"allowed": outcome.allowed, "ran": ran, "message": outcome.message}))
"""


class Agent:
    """A guarded agent in another process: one call, which waits for a decision."""

    def __init__(self, service: Service, tool: str, args: dict[str, Any], call_id: str) -> None:
        script = service.tmp / "agent.py"
        script.write_text(AGENT)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(service.policy),
                str(service.db),
                tool,
                json.dumps(args),
                call_id,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=python_env(),
        )

    def result(self, timeout: float = 60) -> dict[str, Any]:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err
        return dict(json.loads(out.strip().splitlines()[-1]))


def wait_for_pending(client: httpx.Client, tool: str, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        answer = client.get("/api/v1/requests", params={"status": "pending", "tool": tool})
        assert answer.status_code == 200, answer.text
        found = answer.json()["requests"]
        if len(found) >= count:
            return list(found)
        assert time.monotonic() < deadline, f"no pending {tool} request appeared"
        time.sleep(0.1)


def names(items: Sequence[dict[str, Any]], key: str = "id") -> list[Any]:
    return [i[key] for i in items]
