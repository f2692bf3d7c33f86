"""Red team of issue 17 (the MCP gateway and OpenTelemetry), as an outsider: a hostile MCP
client, a hostile or careless upstream server, a hostile web page on the gateway's host, and an
exporter that misbehaves. Each finding is a test marked ``xfail(strict=True)`` on the code as
landed; see docs/reports/issue17-redteam.md for severity, reproduction and suggested fixes.

Real processes as in tests/mcp: a client session over stdio → ``python -m guardrails_plugin mcp
proxy`` → tests/security/mcp_hostile_upstream.py; real SQLite files in tmp_path; the real
OpenTelemetry SDK for the exporter test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import anyio
import pytest

pytest.importorskip("mcp")

import httpx
from mcp import types
from mcp.shared.exceptions import McpError

from guardrails_plugin.store.factory import open_store

from ..mcp.test_gateway import REPO, Gateway, _free_port, _listening, _text
from .mcp_hostile_upstream import EMAIL, SECRET

DEADLINE = 60


@pytest.fixture
def hostile(gateway: Gateway) -> Gateway:
    """The tests/mcp gateway, in front of the hostile upstream instead of the friendly one."""
    gateway.upstream = [sys.executable, "-m", "tests.security.mcp_hostile_upstream"]
    return gateway


@pytest.fixture
def gateway(tmp_path, monkeypatch) -> Gateway:
    from ..helpers import KEY

    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    return Gateway(tmp_path)


def _events(gateway: Gateway) -> list[str]:
    lines = gateway.upstream_log.read_text().splitlines()
    return [json.loads(line)["tool"] for line in lines]


def _audit(gateway: Gateway) -> str:
    store = open_store(gateway.db)
    try:
        return json.dumps([{"actor": r.actor, **r.data} for r in store.audit_rows()])
    finally:
        store.close()


# --- HTTP transport ------------------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="RT17-1: --transport http builds StreamableHTTPSessionManager without "
    "security_settings, so the SDK's DNS-rebinding protection is off: any Host and Origin "
    "are served (and there is no authentication)",
)
def test_http_gateway_refuses_a_request_for_a_foreign_host_and_origin(hostile):
    """A web page the user visits can rebind its own name to 127.0.0.1 and then talk to the
    gateway as a same-origin page: every tool the policy allows is the page's. A gateway on
    loopback must serve only requests whose Host (and Origin, when sent) name the gateway."""
    port = _free_port()
    with (hostile.tmp / "http.log").open("wb") as log:
        proxy = subprocess.Popen(
            [sys.executable, "-m", "guardrails_plugin", "mcp", "proxy",
             "--policy", str(hostile.policy), "--db", str(hostile.db), "--no-ner",
             "--transport", "http", "--port", str(port), "--", *hostile.upstream],
            env=hostile.env, cwd=hostile.tmp, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            _listening(port, proxy, time.monotonic() + DEADLINE)
            initialize = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "evil-page", "version": "1"},
                },
            }
            answer = httpx.post(
                f"http://127.0.0.1:{port}/mcp/",  # Mount redirects /mcp
                json=initialize,
                headers={
                    "Host": f"attacker.example:{port}",
                    "Origin": f"http://attacker.example:{port}",
                    "Accept": "application/json, text/event-stream",
                },
                timeout=30,
            )
        finally:
            proxy.terminate()
            proxy.wait(timeout=30)
    assert answer.status_code in (400, 403, 421), (answer.status_code, answer.text[:200])


@pytest.mark.xfail(
    strict=True,
    reason="RT17-1: docs/mcp.md does not say the HTTP transport has no authentication and "
    "must not be bound beyond loopback",
)
def test_docs_say_the_http_transport_has_no_authentication():
    """Whoever reaches --transport http calls every allowed tool as the gateway's principal;
    the operator must read that before choosing --host."""
    text = (REPO / "docs" / "mcp.md").read_text().lower()
    assert "authentication" in text or "authenticat" in text


# --- cancellation and hangs ----------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="RT17-2: a client's notifications/cancelled during the upstream call cancels only "
    "the gateway's handler; the SDK's ClientSession sends no cancellation upstream, so the "
    "tool runs to its end (and the audit log never records that it ran)",
)
def test_a_cancel_while_the_upstream_runs_reaches_the_upstream(hostile):
    """The client cancels an allowed call while the upstream tool runs: the upstream must hear
    of it (``notifications/cancelled`` for its request), so nothing runs on after the cancel."""

    async def scenario() -> None:
        with anyio.fail_after(DEADLINE):
            async with hostile.session() as client:
                call_id = client._request_id  # the id of the next request (SDK 1.x numbering)

                async def slow() -> None:
                    with pytest.raises(McpError):
                        await client.call_tool("slow", {})

                async with anyio.create_task_group() as group:
                    group.start_soon(slow)
                    while "slow.started" not in _events(hostile):
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
                # The upstream's tool takes 3 s; give it 5.
                await anyio.sleep(5)

    anyio.run(scenario)
    assert "slow.started" in _events(hostile)
    assert "slow.finished" not in _events(hostile), hostile.stderr()


@pytest.mark.xfail(
    strict=True,
    reason="RT17-3: the gateway calls the upstream with no time limit; an upstream that "
    "accepts a call and never answers leaves the client waiting forever (issue 17: 'never a "
    "hung client'); a fix adds a call timeout (an option this test should then set low)",
)
def test_an_upstream_that_never_answers_is_a_tool_error_not_a_hung_client(hostile):
    """An upstream that takes the call and never answers: the client gets an ``isError``
    result naming the timeout in bounded time, as it does for a crashed upstream."""

    async def scenario() -> types.CallToolResult:
        async with hostile.session() as client:
            with anyio.fail_after(15):
                return await client.call_tool("hang", {})

    result = anyio.run(scenario)
    assert result.isError


# --- what passes through unmasked ----------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="RT17-4: resources/read and prompts/get are forwarded unchanged: the upstream's "
    "data reaches the client unmasked and unaudited (documented, but against fail-closed)",
)
def test_resources_and_prompts_reach_the_client_masked(hostile):
    """What the guard cannot check is refused, never passed through: a resource or a prompt
    holding an email address and an API key reaches the client masked (or not at all), as the
    same text returned by a tool does."""

    async def scenario() -> str:
        with anyio.fail_after(DEADLINE):
            async with hostile.session() as client:
                seen = []
                try:
                    read = await client.read_resource("customer://jane")
                    seen.append(read.model_dump_json())
                except McpError as exc:  # refused: fine
                    seen.append(str(exc))
                try:
                    prompt = await client.get_prompt("dossier", {})
                    seen.append(prompt.model_dump_json())
                except McpError as exc:
                    seen.append(str(exc))
                return "\n".join(seen)

    seen = anyio.run(scenario)
    assert EMAIL not in seen and SECRET not in seen


# --- tool names ----------------------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="RT17-5: a tools/call for a name the upstream did not list is forwarded to it; "
    "an upstream that serves hidden tools (or matches names loosely) runs them",
)
def test_a_tool_the_upstream_did_not_list_is_refused_before_it(hostile):
    """The client sees the listing; a call for any other name is refused by the gateway and
    never reaches the upstream (which may serve tools it does not list)."""

    async def scenario() -> types.CallToolResult:
        with anyio.fail_after(DEADLINE):
            async with hostile.session() as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert "admin_reset" not in names
                return await client.call_tool("admin_reset", {"everything": True})

    result = anyio.run(scenario)
    assert not any(event.startswith("admin_reset") for event in _events(hostile)), _text(result)
    assert result.isError


@pytest.mark.xfail(
    strict=True,
    reason="RT17-6: the tool name is client text the gateway neither checks against the "
    "listing nor masks: a value put in it is written raw to the audit log (and to the span's "
    "guardrails.tool attribute)",
)
def test_a_value_in_a_tool_name_never_reaches_the_audit_log(hostile):
    """A prompt-injected model can put data in the tool name instead of the arguments; the
    audit log (and the trace) must not hold it raw (RELIABILITY P10)."""

    async def scenario() -> None:
        with anyio.fail_after(DEADLINE):
            async with hostile.session() as client:
                await client.call_tool(f"lookup {EMAIL} {SECRET}", {})

    anyio.run(scenario)
    audit = _audit(hostile)
    assert EMAIL not in audit and SECRET not in audit


# --- OpenTelemetry -------------------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="RT17-7: spans end synchronously inside the guarded call; with a SimpleSpanProcessor "
    "an exporter that hangs holds the call (and, in the gateway, its event loop) as long as "
    "it hangs",
)
def test_an_exporter_that_hangs_does_not_hold_the_guarded_call(tmp_path):
    """Observers never keep a call from ending (observe.py): a trace backend that stops
    answering must not stall the tool call it describes."""
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from guardrails_plugin.guard import Guard
    from guardrails_plugin.integrations.otel import OpenTelemetryObserver
    from guardrails_plugin.masking import Masker
    from guardrails_plugin.policy import Policy
    from guardrails_plugin.store.sqlite import SQLiteStore

    from ..helpers import KEY

    release = threading.Event()

    class Hanging(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            release.wait(20)
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            release.set()

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Hanging()))
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(
        Policy.from_string("version: 1\ndefaults: {effect: allow}\n"),
        store,
        principal="agent:bot",
        masker=Masker(ner=False),
        observers=[OpenTelemetryObserver(provider)],
        watch_policy=False,
    )
    outcomes = []
    worker = threading.Thread(
        target=lambda: outcomes.append(guard.call("read", {}, lambda args: "ok")), daemon=True
    )
    try:
        worker.start()
        worker.join(timeout=5)
        finished = not worker.is_alive()
    finally:
        release.set()
        worker.join(timeout=30)
        store.close()
    assert finished, "the guarded call waited on the exporter"
