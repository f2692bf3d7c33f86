"""Red team of issue 17 (the MCP gateway and OpenTelemetry), as an outsider: a hostile MCP
client, a hostile or careless upstream server, a hostile web page on the gateway's host, and an
exporter that misbehaves. Each finding was a test marked ``xfail(strict=True)`` on the code as
landed; they run plain since the fixes (with a few tests added for what the fixes promise).
See docs/reports/issue17-redteam.md for severity, reproduction and the fixes.

Real processes as in tests/mcp: a client session over stdio → ``python -m guardrails_plugin mcp
proxy`` → tests/security/mcp_hostile_upstream.py; real SQLite files in tmp_path; the real
OpenTelemetry SDK for the exporter test.
"""

from __future__ import annotations

import base64
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


def _rows(gateway: Gateway) -> list[tuple[str, dict]]:
    """(event, data) of every audit row."""
    store = open_store(gateway.db)
    try:
        return [(r.event, dict(r.data)) for r in store.audit_rows()]
    finally:
        store.close()


# --- HTTP transport ------------------------------------------------------------------------------


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


def test_docs_say_the_http_transport_has_no_authentication():
    """Whoever reaches --transport http calls every allowed tool as the gateway's principal;
    the operator must read that before choosing --host."""
    for page in ("mcp.md", "security.md"):
        text = " ".join((REPO / "docs" / page).read_text().lower().split())
        assert "no authentication" in text, page
        assert "--allow-remote" in text, page


def test_http_gateway_will_not_bind_beyond_loopback_unless_told(hostile):
    """A non-loopback --host would hand every allowed tool to the network: refused, with the
    reason, unless --allow-remote says an authenticating proxy stands in front."""
    done = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "mcp", "proxy",
         "--policy", str(hostile.policy), "--db", str(hostile.db), "--no-ner",
         "--transport", "http", "--host", "0.0.0.0", "--", *hostile.upstream],
        env=hostile.env, cwd=hostile.tmp, capture_output=True, text=True, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no authentication" in done.stderr and "--allow-remote" in done.stderr
    assert not hostile.db.exists()  # refused before anything started


# --- cancellation and hangs ----------------------------------------------------------------------


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
    # The audit says the call was allowed and then cut off, not only that it was allowed.
    events = [(event, data.get("tool")) for event, data in _rows(hostile)]
    assert events[-2:] == [("call.evaluated", "slow"), ("tool.interrupted", "slow")], events


def test_an_upstream_that_never_answers_is_a_tool_error_not_a_hung_client(hostile):
    """An upstream that takes the call and never answers: the client gets an ``isError``
    result naming the timeout in bounded time, as it does for a crashed upstream."""

    hostile.options = ["--upstream-timeout", "1"]

    async def scenario() -> types.CallToolResult:
        async with hostile.session() as client:
            with anyio.fail_after(15):
                return await client.call_tool("hang", {})

    result = anyio.run(scenario)
    assert result.isError
    assert "did not answer" in _text(result) and "--upstream-timeout" in _text(result)
    events = [(event, data.get("tool")) for event, data in _rows(hostile)]
    assert ("tool.failed", "hang") in events, events


# --- what passes through unmasked ----------------------------------------------------------------


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
    assert "<EMAIL_1>" in seen  # masked and delivered, not refused
    # Both reads are in the audit, as calls of the tools resources/read and prompts/get, with
    # the data classes their contents held.
    audit = _audit(hostile)
    assert EMAIL not in audit and SECRET not in audit
    executed = {d["tool"]: d for event, d in _rows(hostile) if event == "tool.executed"}
    assert "EMAIL" in executed["resources/read"]["output_classes"]
    assert "EMAIL" in executed["prompts/get"]["output_classes"]
    evaluated = [d for event, d in _rows(hostile) if event == "call.evaluated"]
    assert {"uri": "customer://jane"} in [d["masked_args"] for d in evaluated]


def test_a_policy_denies_a_read_and_binary_contents_are_withheld(hostile):
    """Reads are calls for the policy (tool ``resources/read``, argument ``uri``; tool
    ``prompts/get``, argument ``name``): a deny rule refuses them before the upstream hears of
    them; a binary resource the masker cannot read is withheld, never passed on."""
    hostile.policy.write_text(
        hostile.policy.read_text()
        + "  - id: no-dossiers\n"
        + "    match: {tool: prompts/get, args: {name: dossier}}\n"
        + "    effect: deny\n"
        + "    reason: Dossiers stay on the server\n"
    )

    async def scenario() -> tuple[str, str]:
        with anyio.fail_after(DEADLINE):
            async with hostile.session() as client:
                with pytest.raises(McpError) as denied:
                    await client.get_prompt("dossier", {})
                photo = await client.read_resource("customer://jane/photo")
                return str(denied.value), photo.model_dump_json()

    denied, photo = anyio.run(scenario)
    assert "Dossiers stay on the server" in denied
    assert "withheld" in photo and EMAIL not in photo
    assert base64.b64encode(EMAIL.encode()).decode() not in photo
    assert "blob" not in json.loads(photo)["contents"][0]


# --- tool names ----------------------------------------------------------------------------------


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
    assert result.isError and "does not list" in _text(result)
    assert ("tool.unlisted", "admin_reset") in [(e, d["tool"]) for e, d in _rows(hostile)]


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
    (refused,) = [d["tool"] for event, d in _rows(hostile) if event == "tool.unlisted"]
    assert refused.startswith("lookup <EMAIL_1>"), refused
    assert "call.evaluated" not in [event for event, _ in _rows(hostile)]  # no guard, no span


# --- OpenTelemetry -------------------------------------------------------------------------------


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


# --- noticed, not tested (now tested) ------------------------------------------------------------


def test_the_upstream_command_does_not_inherit_the_guards_secrets(hostile):
    """The upstream is a command the gateway launches, perhaps a hostile one: it gets the
    environment without the guard's own GUARDRAILS_* variables (the audit key would let it
    forge audit rows; the mask key, session and OIDC secrets, the store URL with its password),
    except those the operator hands on with --env."""
    hostile.env.update(
        GUARDRAILS_MASK_KEY="ab" * 32,
        GUARDRAILS_SESSION_SECRET="session-secret-canary",
        GUARDRAILS_OIDC_CLIENT_SECRET="oidc-secret-canary",
        GUARDRAILS_DB="postgresql://guard:pw-canary@db.invalid/guard",
        GUARDRAILS_SLACK_CHANNEL="C123",
    )
    hostile.options = ["--env", "GUARDRAILS_SLACK_CHANNEL"]

    async def scenario() -> None:
        with anyio.fail_after(DEADLINE):
            async with hostile.session() as client:
                assert not (await client.call_tool("environment", {})).isError

    anyio.run(scenario)
    lines = [json.loads(line) for line in hostile.upstream_log.read_text().splitlines()]
    (seen,) = [line["names"] for line in lines if line["tool"] == "environment"]
    assert seen == ["GUARDRAILS_SLACK_CHANNEL"]


def test_the_clients_trace_context_is_the_parent_of_the_gateways_span(tmp_path, monkeypatch):
    """An MCP client that sends W3C trace context in the request's ``_meta`` (``traceparent``)
    sees the gateway's ``guardrails.tool_call`` span in its own trace, as the child of its span.
    In process: the gateway's proxy between two in-memory MCP sessions, the upstream being the
    hostile server's tool handler, the real OpenTelemetry SDK with the in-memory exporter."""
    pytest.importorskip("opentelemetry.sdk")
    from mcp.shared.memory import create_connected_server_and_client_session
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from guardrails_plugin.guard import Guard
    from guardrails_plugin.integrations.mcp import GuardedProxy
    from guardrails_plugin.integrations.otel import OpenTelemetryObserver
    from guardrails_plugin.masking import Masker
    from guardrails_plugin.policy import Policy
    from guardrails_plugin.store.sqlite import SQLiteStore

    from ..helpers import KEY
    from . import mcp_hostile_upstream

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    observer = OpenTelemetryObserver(provider)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(
        Policy.from_string("version: 1\ndefaults: {effect: allow}\n"),
        store,
        principal="agent:bot",
        masker=Masker(ner=False),
        observers=[observer],
        watch_policy=False,
    )
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

    async def scenario() -> None:
        with anyio.fail_after(DEADLINE):
            async with create_connected_server_and_client_session(
                mcp_hostile_upstream.server
            ) as upstream:
                info = await upstream.initialize()
                proxy = GuardedProxy(guard, upstream, info)
                async with create_connected_server_and_client_session(proxy.server) as client:
                    result = await client.call_tool(
                        "lookup",
                        {},
                        meta={"traceparent": f"00-{trace_id}-{parent_id}-01"},
                    )
                    assert not result.isError

    monkeypatch.setenv("UPSTREAM_LOG", str(tmp_path / "upstream.log"))
    try:
        anyio.run(scenario)
    finally:
        store.close()
    assert observer.flush(10)
    (span,) = spans.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == parent_id
    assert span.parent.is_remote
