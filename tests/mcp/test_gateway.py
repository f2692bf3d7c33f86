"""The MCP gateway end to end, with the real ``mcp`` SDK on both sides: a client session over
stdio → ``python -m guardrails_plugin mcp proxy`` (a real subprocess) → the test's upstream
server (tests/mcp/upstream.py, another subprocess). The store is a SQLite file in tmp_path;
approvals are decided by the CLI in a third process."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError

from guardrails_plugin.store import Status
from guardrails_plugin.store.factory import open_store

from ..helpers import KEY, as_me
from .upstream import CARD, EMAIL

REPO = Path(__file__).resolve().parents[2]
# Generous: a proxy that hangs fails the test instead of the suite.
DEADLINE = 60

POLICY = """
version: 1
defaults: {effect: allow}
people: {bob: [cli:bob]}
groups: {ops: [bob]}
rules:
  - id: no-drop
    match: {tool: drop_table}
    effect: deny
    reason: Dropping tables is forbidden
  - id: deploy
    match: {tool: deploy}
    effect: require_approval
    approval: {approvers: [ops], timeout: 5m}
"""


class Gateway:
    """Paths and parameters of one gateway under test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.db = tmp_path / "guard.db"
        self.policy = tmp_path / "policy.yaml"
        self.policy.write_text(as_me(POLICY))
        self.upstream_log = tmp_path / "upstream.log"
        self.upstream_log.touch()
        self.env = {
            **os.environ,
            "GUARDRAILS_AUDIT_KEY": KEY.hex(),
            "PYTHONPATH": str(REPO),
            "UPSTREAM_LOG": str(self.upstream_log),
        }
        self.env.pop("GUARDRAILS_DB", None)
        self.upstream = [sys.executable, "-m", "tests.mcp.upstream"]
        self.options: list[str] = []  # more `mcp proxy` options

    def proxy(self) -> StdioServerParameters:
        command = [
            "-m", "guardrails_plugin", "mcp", "proxy",
            "--policy", str(self.policy), "--db", str(self.db),
            "--no-ner", "--progress-interval", "0.2", *self.options,
            "--", *self.upstream,
        ]  # fmt: skip
        return StdioServerParameters(
            command=sys.executable, args=command, env=self.env, cwd=str(self.tmp)
        )

    def direct(self) -> StdioServerParameters:
        return StdioServerParameters(
            command=self.upstream[0], args=self.upstream[1:], env=self.env, cwd=str(self.tmp)
        )

    def ran(self) -> list[str]:
        lines = self.upstream_log.read_text().splitlines()
        return [json.loads(line)["tool"] for line in lines]

    @contextlib.asynccontextmanager
    async def session(
        self, params: StdioServerParameters | None = None
    ) -> AsyncIterator[ClientSession]:
        with (self.tmp / "stderr.log").open("a") as errlog:
            async with (
                stdio_client(params or self.proxy(), errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                yield session

    def stderr(self) -> str:
        path = self.tmp / "stderr.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture
def gateway(tmp_path, monkeypatch) -> Gateway:
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    return Gateway(tmp_path)


def _text(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


def _pending(db: Path) -> list:
    store = open_store(db)
    try:
        return store.list_requests(Status.PENDING, limit=10)
    finally:
        store.close()


def test_tools_listed_unchanged_calls_allowed_masked_denied_resources_and_prompts_masked(gateway):
    """Through the gateway a client sees the upstream's tools exactly (names, descriptions,
    schemas, annotations); an allowed call's text and structured results reach it masked (one
    whose masked structured result no longer fits its output schema is withheld); a
    denied call never reaches the upstream and comes back as ``isError`` with the rule's
    sentence; resources and prompts are read through the guard and reach it masked (the name
    given to the prompt is a PERSON, so it comes back as a placeholder); the audit log holds no
    raw value (RELIABILITY P10, P11, P27)."""

    async def scenario() -> None:
        with anyio.fail_after(DEADLINE):
            async with gateway.session(gateway.direct()) as direct:
                expected = (await direct.list_tools()).tools
            async with gateway.session() as client:
                listed = (await client.list_tools()).tools
                assert [t.model_dump() for t in listed] == [t.model_dump() for t in expected]
                assert {t.name for t in listed} >= {"lookup", "profile", "drop_table", "deploy"}

                text = await client.call_tool("lookup", {"customer": "Acme"})
                assert not text.isError, _text(text)
                assert "Customer Acme" in _text(text)
                assert EMAIL not in _text(text) and CARD not in _text(text)

                structured = await client.call_tool("profile", {"customer": "Acme"})
                assert not structured.isError, _text(structured)
                content = structured.structuredContent
                assert content is not None and set(content) == {"name", "email", "card"}
                assert content["email"] == "<EMAIL_1>" and content["card"] != CARD
                assert EMAIL not in _text(structured) and CARD not in _text(structured)

                unfit = await client.call_tool("contact", {"customer": "Acme"})
                assert unfit.isError and unfit.structuredContent is None
                assert "no longer fits the tool's output schema" in _text(unfit)
                assert EMAIL not in _text(unfit)

                denied = await client.call_tool("drop_table", {"name": "users"})
                assert denied.isError
                assert _text(denied) == (
                    "Denied by policy rule 'no-drop': Dropping tables is forbidden"
                )

                resources = await client.list_resources()
                assert [str(r.uri) for r in resources.resources] == ["config://app"]
                read = await client.read_resource(resources.resources[0].uri)
                assert read.contents[0].text == "mode=test"
                prompt = await client.get_prompt("greet", {"name": "Ann"})
                assert "Hello <PERSON_" in prompt.messages[0].content.text

    anyio.run(scenario)
    assert gateway.ran() == ["lookup", "profile", "contact"], gateway.stderr()
    store = open_store(gateway.db)
    audit = json.dumps([row.data for row in store.audit_rows()])
    store.close()
    assert EMAIL not in audit and CARD not in audit
    assert '"effect": "deny"' in audit and '"rule_id": "no-drop"' in audit


def test_an_approval_decided_by_the_cli_in_another_process_while_the_client_waits(gateway):
    """A call that needs approval waits in the gateway; the client hears progress
    notifications naming the request and the command that decides it; a reviewer approves
    with ``python -m guardrails_plugin approve`` from another process, and the call runs once
    and returns its result (P2, P7)."""
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async def approve() -> str:
        while not (pending := await anyio.to_thread.run_sync(_pending, gateway.db)):
            await anyio.sleep(0.05)
        while not progress:  # the client heard the gateway wait before anyone decided
            await anyio.sleep(0.05)
        request_id = pending[0].id
        done = await anyio.run_process(
            [sys.executable, "-m", "guardrails_plugin", "approve", request_id,
             "--revision", "0", "--reason", "release train", "--db", str(gateway.db)],
            env=gateway.env, cwd=str(gateway.tmp), check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
        return request_id

    async def scenario() -> tuple[types.CallToolResult, str]:
        with anyio.fail_after(DEADLINE):
            async with gateway.session() as client, anyio.create_task_group() as group:
                ids: list[str] = []

                async def reviewer() -> None:
                    ids.append(await approve())

                group.start_soon(reviewer)
                result = await client.call_tool(
                    "deploy", {"service": "api"}, progress_callback=on_progress
                )
                return result, ids[0] if ids else ""

    result, request_id = anyio.run(scenario)
    assert not result.isError, _text(result) + gateway.stderr()
    assert _text(result) == "deployed api"
    assert gateway.ran() == ["deploy"]
    assert progress and request_id in progress[0]
    assert f"guardrails-plugin approve {request_id}" in progress[0]


def test_client_cancellation_during_a_wait_cancels_the_request_and_nothing_runs(gateway):
    """A client that cancels a call while it waits for approval (``notifications/cancelled``)
    gets the request cancelled in the store, so a later approval cannot run it; the tool never
    runs and the gateway goes on serving (P2, P7)."""

    async def scenario() -> None:
        with anyio.fail_after(DEADLINE):
            async with gateway.session() as client:
                # The id the client session gives its next request (the SDK 1.x numbers them).
                call_id = client._request_id
                answers: list[str] = []

                async def deploy() -> None:
                    try:
                        await client.call_tool("deploy", {"service": "api"})
                    except McpError as exc:
                        answers.append(str(exc))

                async with anyio.create_task_group() as group:
                    group.start_soon(deploy)
                    while not await anyio.to_thread.run_sync(_pending, gateway.db):
                        await anyio.sleep(0.05)
                    await client.send_notification(
                        types.ClientNotification(
                            types.CancelledNotification(
                                params=types.CancelledNotificationParams(
                                    requestId=call_id, reason="user pressed stop"
                                )
                            )
                        )
                    )
                    store = open_store(gateway.db)
                    try:
                        while (await anyio.to_thread.run_sync(_all, store))[0].status is (
                            Status.PENDING
                        ):
                            await anyio.sleep(0.05)
                        (request,) = await anyio.to_thread.run_sync(_all, store)
                    finally:
                        store.close()
                    assert request.status is Status.CANCELLED
                assert answers == ["Request cancelled"]
                after = await client.call_tool("lookup", {"customer": "Acme"})
                assert not after.isError

    anyio.run(scenario)
    assert gateway.ran() == ["lookup"]


def _all(store) -> list:
    return store.list_requests(None, limit=10)


def test_an_upstream_crash_is_a_clear_tool_error_and_never_a_hung_client(gateway):
    """The upstream server dies mid-call: that call and every later one end with ``isError``
    and a sentence naming the upstream's failure, well before the deadline (P1, P9)."""

    async def scenario() -> tuple[str, str]:
        with anyio.fail_after(DEADLINE):
            async with gateway.session() as client:
                crashed = await client.call_tool("crash", {})
                assert crashed.isError
                later = await client.call_tool("lookup", {"customer": "Acme"})
                assert later.isError
                return _text(crashed), _text(later)

    crashed, later = anyio.run(scenario)
    closed = "the connection to the upstream MCP server is closed (it exited or crashed)"
    assert crashed.startswith("The upstream MCP server failed on 'crash'"), crashed
    assert later.startswith("The upstream MCP server failed on 'lookup'"), later
    assert closed in crashed and closed in later


def test_proxy_needs_an_upstream_command_or_url_but_not_both(gateway):
    """Without an upstream the command says how to give one, instead of waiting on stdin."""
    done = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "mcp", "proxy", "--policy",
         str(gateway.policy), "--db", str(gateway.db)],
        env=gateway.env, cwd=gateway.tmp, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "-- COMMAND [ARGS...]" in done.stderr and "--upstream-url" in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def test_streamable_http_to_the_upstream_and_for_clients(gateway):
    """``--upstream-url`` reaches a server over streamable HTTP and ``--transport http`` serves
    clients the same way: the same guarded tools, masked and denied as over stdio."""
    up, gw = _free_port(), _free_port()
    deadline = time.monotonic() + DEADLINE
    with (gateway.tmp / "http.log").open("wb") as log:
        upstream = subprocess.Popen(
            [*gateway.upstream, "--http", str(up)],
            env=gateway.env, cwd=gateway.tmp, stdout=log, stderr=log,
        )  # fmt: skip
        proxy = None
        try:
            _listening(up, upstream, deadline)
            proxy = subprocess.Popen(
                [sys.executable, "-m", "guardrails_plugin", "mcp", "proxy",
                 "--policy", str(gateway.policy), "--db", str(gateway.db), "--no-ner",
                 "--upstream-url", f"http://127.0.0.1:{up}/mcp",
                 "--transport", "http", "--port", str(gw)],
                env=gateway.env, cwd=gateway.tmp, stdout=log, stderr=log,
            )  # fmt: skip
            _listening(gw, proxy, deadline)

            async def scenario() -> tuple[types.CallToolResult, types.CallToolResult, list]:
                with anyio.fail_after(DEADLINE):
                    async with (
                        streamable_http_client(f"http://127.0.0.1:{gw}/mcp") as (read, write, _),
                        ClientSession(read, write) as client,
                    ):
                        await client.initialize()
                        tools = (await client.list_tools()).tools
                        looked = await client.call_tool("lookup", {"customer": "Acme"})
                        denied = await client.call_tool("drop_table", {"name": "users"})
                        return looked, denied, tools

            looked, denied, tools = anyio.run(scenario)
        finally:
            for proc in (proxy, upstream):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=30)
    assert "lookup" in {t.name for t in tools}
    assert not looked.isError and "Customer Acme" in _text(looked)
    assert EMAIL not in _text(looked)
    assert denied.isError and "no-drop" in _text(denied)
    assert gateway.ran() == ["lookup"]
