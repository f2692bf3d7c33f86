"""OpenTelemetry: each guarded call is a span under the current one, with its decision, votes
and wait as attributes and events, decisions and waits as metrics, and no value anywhere.

The real SDK, with its in-memory span exporter and metric reader (no global provider is set:
the observer is given the providers, as an application with several would)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.otel import SPAN_NAME, OpenTelemetryObserver
from guardrails_plugin.integrations.otel import flush as otel_flush
from guardrails_plugin.masking import Masker
from guardrails_plugin.observe import default_observers
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.testing import ScriptedApprover

from ..helpers import KEY

POLICY = """
version: 1
defaults: {effect: allow}
people: {alice: [cli:alice], bob: [cli:bob]}
groups: {ops: [bob]}
rules:
  - id: no-drop
    match: {tool: drop_table}
    effect: deny
    reason: Dropping tables is forbidden
  - id: deploy
    match: {tool: deploy}
    effect: require_approval
    approval: {approvers: [ops]}
"""
CANARY_EMAIL = "canary.otel.7f3a@example.com"
CANARY_KEY = "sk_live_51CanaryOtelValue9xQzT0kenAbCdEfGh"
CANARY_OUT = "canary-output-8812 call me at " + CANARY_EMAIL


class FlushedSpans(InMemorySpanExporter):
    """The in-memory exporter, read once the observer has ended the spans of finished calls
    (it ends them on its own thread, so an exporter never holds a call)."""

    def get_finished_spans(self):  # type: ignore[no-untyped-def]
        assert otel_flush(10), "spans of finished calls were not ended"
        return super().get_finished_spans()


@pytest.fixture
def telemetry(tmp_path):
    spans = FlushedSpans()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    observer = OpenTelemetryObserver(tracer_provider, meter_provider)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(
        Policy.from_string(POLICY),
        store,
        principal="agent:bot",
        on_behalf_of="cli:alice",
        masker=Masker(ner=False),
        observers=[observer],
    )
    yield guard, tracer_provider, spans, reader
    store.close()


def _exported(spans, reader) -> str:
    """Everything exported, as text: spans (attributes, events, status) and metric points."""
    data = [json.loads(span.to_json()) for span in spans.get_finished_spans()]
    metrics = reader.get_metrics_data()
    return json.dumps(data) + (metrics.to_json() if metrics else "")


def _points(reader, name):
    found = []
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def test_allowed_call_is_a_child_span_of_the_current_span_and_the_tool_runs_inside_it(telemetry):
    """A guarded call is one ``guardrails.tool_call`` span whose parent is the framework's current
    span, and the tool's own spans nest under it; its attributes say tool, effect, rule, data
    classes and outcome, never the argument or output values (RELIABILITY P11: no plaintext in
    transit; a trace backend is one more destination)."""
    guard, provider, spans, reader = telemetry
    tracer = provider.get_tracer("framework")

    def send(args):
        with tracer.start_as_current_span("tool.inner"):
            return CANARY_OUT

    with tracer.start_as_current_span("agent.step") as parent:
        outcome = guard.call(
            "send_email", {"to": CANARY_EMAIL, "api_key": CANARY_KEY}, send, call_id="c1"
        )
    assert outcome.allowed
    by_name = {s.name: s for s in spans.get_finished_spans()}
    span = by_name[SPAN_NAME]
    assert span.parent.span_id == parent.get_span_context().span_id
    assert by_name["tool.inner"].parent.span_id == span.context.span_id
    attrs = dict(span.attributes)
    assert attrs["guardrails.tool"] == "send_email"
    assert attrs["guardrails.call_id"] == "c1"
    assert attrs["guardrails.effect"] == "allow"
    assert attrs["guardrails.outcome"] == "allowed"
    assert {"EMAIL", "API_KEY"} <= set(attrs["guardrails.data_classes"])
    assert [e.name for e in span.events] == ["guardrails.decision"]
    text = _exported(spans, reader)
    for canary in (CANARY_EMAIL, CANARY_KEY, "canary-output-8812"):
        assert canary not in text


def test_denied_call_and_decision_counter(telemetry):
    """A denial is a span with effect deny, the rule id and outcome denied; the decisions counter
    counts calls by effect and rule."""
    guard, _provider, spans, reader = telemetry
    ran = []
    guard.call("drop_table", {"name": CANARY_EMAIL}, ran.append)
    guard.call("drop_table", {"name": "x"}, ran.append)
    guard.call("read", {}, lambda args: "ok")
    assert ran == []
    denied = [s for s in spans.get_finished_spans() if s.attributes["guardrails.effect"] == "deny"]
    assert len(denied) == 2
    assert denied[0].attributes["guardrails.rule_id"] == "no-drop"
    assert denied[0].attributes["guardrails.outcome"] == "denied"
    assert denied[0].parent is None  # no current span: a root
    counts = {
        (p.attributes["guardrails.effect"], p.attributes.get("guardrails.rule_id")): p.value
        for p in _points(reader, "guardrails.decisions")
    }
    assert counts == {("deny", "no-drop"): 2, ("allow", None): 1}
    assert CANARY_EMAIL not in _exported(spans, reader)


def test_approval_wait_votes_and_decision_are_events_and_the_wait_a_histogram(telemetry):
    """An approved call's span carries the request id and the wait; the policy's decision, the
    approval request, each vote (verdict, channel — not who, not the reason typed) and the
    reviewers' decision are events; the wait is recorded in the histogram by final status."""
    guard, _provider, spans, reader = telemetry

    async def deploy(args):
        return "deployed"

    with ScriptedApprover(guard.broker, "cli:bob", channel="cli"):
        outcome = asyncio.run(
            guard.acall("deploy", {"service": "api", "owner": CANARY_EMAIL}, deploy)
        )
    assert outcome.allowed, outcome.message
    (span,) = spans.get_finished_spans()
    attrs = dict(span.attributes)
    assert attrs["guardrails.effect"] == "require_approval"
    assert attrs["guardrails.rule_id"] == "deploy"
    assert attrs["guardrails.request_id"] == outcome.request_id
    assert attrs["guardrails.wait_seconds"] >= 0
    assert attrs["guardrails.outcome"] == "allowed"
    events = [(e.name, dict(e.attributes)) for e in span.events]
    assert [name for name, _ in events] == [
        "guardrails.decision",
        "guardrails.approval_requested",
        "guardrails.vote",
        "guardrails.decision",
    ]
    assert events[2][1] == {
        "guardrails.verdict": "approve",
        "guardrails.channel": "cli",
        "guardrails.revision": 0,
    }
    assert events[3][1]["guardrails.status"] == "approved"
    (wait,) = _points(reader, "guardrails.approval.wait")
    assert wait.count == 1 and wait.attributes["guardrails.status"] == "approved"
    text = _exported(spans, reader)
    assert CANARY_EMAIL not in text and "cli:bob" not in text


def test_an_observer_that_raises_changes_nothing(tmp_path):
    """Observers never decide: one that raises everywhere leaves the outcome as it was."""

    class Broken:
        def start(self, tool, call_id, run_id):
            return self

        def __getattr__(self, name):
            def fail(*args):
                raise RuntimeError("observer down")

            return fail

    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(
        Policy.from_string(POLICY),
        store,
        principal="agent:bot",
        masker=Masker(ner=False),
        observers=[Broken()],
    )
    assert guard.call("read", {}, lambda args: "ok").output == "ok"
    assert not guard.call("drop_table", {}, lambda args: "ran").allowed
    store.close()


def test_default_observer_is_opentelemetry_when_installed():
    """With ``opentelemetry-api`` installed a Guard traces by default (into whatever provider the
    application set; the API's no-op one otherwise)."""
    assert [type(o).__name__ for o in default_observers()] == ["OpenTelemetryObserver"]


def test_without_opentelemetry_a_guard_has_no_observer_and_imports_nothing_of_it(tmp_path):
    """Not installed (its import blocked), a Guard checks calls as before, with no observer."""
    code = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] == "opentelemetry":
                    raise ImportError("blocked for this test: " + name)
                return None

        sys.meta_path.insert(0, Block())
        from guardrails_plugin import Guard, Policy
        from guardrails_plugin.masking import Masker
        from guardrails_plugin.store.sqlite import SQLiteStore

        store = SQLiteStore({str(tmp_path / "g.db")!r}, key=bytes(range(32)))
        guard = Guard(Policy.from_string("version: 1\\ndefaults: {{effect: allow}}\\n"), store,
                      principal="agent:bot", masker=Masker(ner=False))
        assert guard.observers.observers == ()
        assert guard.call("t", {{}}, lambda args: "ok").output == "ok"
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_cancelled_wait_ends_its_span_at_once_as_interrupted(telemetry):
    """An async caller that gives up while the call waits for approval (an MCP client's
    cancellation) ends the span, marked interrupted; the tool never runs."""
    guard, _provider, spans, _reader = telemetry

    async def scenario() -> None:
        task = asyncio.create_task(guard.acall("deploy", {"service": "api"}, _never))
        while not guard.store.list_requests(None, limit=1):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Ended with the task (handed to the ender when the task ended), not at shutdown: the
        # ender ends it on its own thread, so wait for it before reading the exporter.
        assert otel_flush(10), "the cancelled call's span was not ended"
        assert len(spans.get_finished_spans()) == 1

    asyncio.run(scenario())
    (span,) = spans.get_finished_spans()
    assert span.attributes["guardrails.outcome"] == "interrupted"
    assert span.events[-1].name == "guardrails.interrupted"


async def _never(args):
    raise AssertionError("the tool must not run")
