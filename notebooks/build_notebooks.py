"""Write the notebooks in this folder from the cells below (stored without outputs).

    .venv/bin/python notebooks/build_notebooks.py

Each notebook runs top to bottom with no network and no API key; CI executes all of them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''import os, tempfile
from pathlib import Path

# Run from the repository or from notebooks/: find the example policies either way.
REPO = Path.cwd() if (Path.cwd() / "policies").is_dir() else Path.cwd().parent
WORK = Path(tempfile.mkdtemp(prefix="guardrails-"))   # a fresh SQLite file per run
os.environ.setdefault("GUARDRAILS_AUDIT_KEY", "00" * 32)  # demo key; use a real secret'''

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_quickstart_langchain.ipynb": [
        ("md", "# Quickstart: a LangChain agent behind the guard\n\n"
               "A `create_agent` agent with a scripted model (no API key), guarded by "
               "`GuardMiddleware`. We will see a masked tool output, a denial the model reads, "
               "an approval by a simulated reviewer, and the audit trail."),
        ("code", SETUP),
        ("code", '''from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from guardrails_plugin import Guard
from guardrails_plugin.integrations.langchain import GuardMiddleware
from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel, tool_call

@tool
def lookup_customer(customer_id: int) -> dict:
    """Look up a customer by id."""
    return {"id": customer_id, "name": "Ana Lopez", "email": "ana.lopez@example.org"}

@tool
def run_sql(query: str) -> str:
    """Run a SQL statement."""
    return "ok"

@tool
def restart_service(name: str) -> str:
    """Restart a service."""
    return f"{name} restarted"'''),
        ("md", "The guard reads `policies/default.yaml`: reads are allowed, `DROP` is denied, "
               "and tools no rule mentions (like `restart_service`) need an on-call approval. "
               "The agent acts for Alice (`slack:U024BE7LH`), so Alice cannot approve."),
        ("code", '''guard = Guard.from_policy(REPO / "policies/default.yaml", store=WORK / "guardrails.db",
                          principal="agent:support-bot", on_behalf_of="slack:U024BE7LH")
model = ScriptedChatModel(responses=[
    AIMessage("", tool_calls=[tool_call("lookup_customer", {"customer_id": 7})]),
    AIMessage("", tool_calls=[tool_call("run_sql", {"query": "DROP TABLE customers"})]),
    AIMessage("", tool_calls=[tool_call("restart_service", {"name": "billing"})]),
    AIMessage("All done."),
])
agent = create_agent(model, [lookup_customer, run_sql, restart_service],
                     middleware=[GuardMiddleware(guard)])'''),
        ("md", "A simulated reviewer (Bob, on call) approves whatever is pending. It votes "
               "through the real broker, so the same rules apply as in Slack or the CLI."),
        ("code", '''from guardrails_plugin.testing import ScriptedApprover

with ScriptedApprover(guard.broker, "cli:bob"):
    result = agent.invoke({"messages": [("user", "Help customer 7")]},
                          {"configurable": {"thread_id": "ticket-42"}})

for message in result["messages"]:
    status = getattr(message, "status", "")
    print(f"{type(message).__name__:12} {status:8} {message.content}")'''),
        ("code", '''from guardrails_plugin.store import verify_chain

for row in guard.store.audit_rows():
    print(row.seq, row.event, row.actor, {k: row.data[k] for k in ("tool", "effect", "rule_id")
                                          if k in row.data})
print(verify_chain(guard.store.audit_rows()))'''),
    ],
    "02_llamaindex.ipynb": [
        ("md", "# The same story with a LlamaIndex `FunctionAgent`\n\n"
               "Guarding is done by wrapping tools (`guard_tools`); LlamaIndex's instrumentation "
               "can observe tool calls but not block them."),
        ("code", SETUP),
        ("code", '''import asyncio
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool

from guardrails_plugin import Guard
from guardrails_plugin.integrations.llamaindex import guard_tools
from guardrails_plugin.testing import ScriptedApprover

def lookup_customer(customer_id: int) -> dict:
    """Look up a customer by id."""
    return {"id": customer_id, "name": "Ana Lopez", "email": "ana.lopez@example.org"}

def run_sql(query: str) -> str:
    """Run a SQL statement."""
    return "ok"

def restart_service(name: str) -> str:
    """Restart a service."""
    return f"{name} restarted"

turns = [[("lookup_customer", {"customer_id": 7})],
         [("run_sql", {"query": "DROP TABLE customers"})],
         [("restart_service", {"name": "billing"})]]

def reply(messages, **kwargs):
    turn = sum(1 for m in messages if m.role == "assistant")
    if turn < len(turns):
        calls = [ToolSelection(tool_id=f"t{turn}", tool_name=n, tool_kwargs=a) for n, a in turns[turn]]
        return ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": calls})
    return ChatMessage(role="assistant", content="All done.")'''),
        ("code", '''guard = Guard.from_policy(REPO / "policies/default.yaml", store=WORK / "guardrails.db",
                          principal="agent:support-bot", on_behalf_of="slack:U024BE7LH")
tools = guard_tools([FunctionTool.from_defaults(f) for f in (lookup_customer, run_sql, restart_service)],
                    guard, events=True)
agent = FunctionAgent(tools=tools, llm=MockFunctionCallingLLM(response_generator=reply))

async def run():
    handler = agent.run("Help customer 7")
    async for event in handler.stream_events():
        name = type(event).__name__
        if name == "ToolCallResult":
            print("tool ->", event.tool_name, "error" if event.tool_output.is_error else "ok",
                  event.tool_output.content)
        elif "Approval" in name:
            print("event ->", name, getattr(event, "status", ""), event.request_id)
    return await handler

# Jupyter runs an event loop already: await at the top level (in a script: asyncio.run(run())).
with ScriptedApprover(guard.broker, "cli:bob"):
    print(await run())'''),
    ],
    "03_policies.ipynb": [
        ("md", "# Writing policies\n\nRules match tool names, argument paths, data classes "
               "the masker found, and who is calling. The first matching rule wins."),
        ("code", '''from guardrails_plugin import Policy, PolicyError, Principal, ToolCall

policy = Policy.from_string("""
version: 1
defaults: {effect: require_approval, approval: {approvers: [dba]}}
people:
  dana: [slack:U01DBA0001, cli:dana]
  eve: [slack:U01DBA0002, cli:eve]
groups:
  dba: [dana, eve]
rules:
  - id: no-payment-data
    match: {tool: "export_*", data: {contains: [CREDIT_CARD, IBAN]}}
    effect: deny
    reason: Exports may not contain card or bank numbers.
  - id: prod-export
    match: {tool: "export_*", args: {database: {regex: "^prod"}}}
    effect: require_approval
    approval: {approvers: [dba], quorum: 2, timeout: 1h}
  - id: small-dev-export
    match: {tool: "export_*", args: {database: {in: [dev, staging]}, limit: {lte: 10000}}}
    effect: allow
""")
print(len(policy.rules), "rules; default:", policy.default.effect.value)'''),
        ("code", '''samples = [
    (ToolCall("export_table", {"database": "prod-eu"}), []),
    (ToolCall("export_table", {"database": "dev", "limit": 50}), []),
    (ToolCall("export_table", {"database": "dev", "limit": 50}), ["IBAN"]),
    (ToolCall("export_csv", {"database": "dev", "limit": 10**6}), []),
]
print(f"{'tool':14} {'args':40} {'found':6} decision")
for call, found in samples:
    d = policy.evaluate(call, found)
    print(f"{call.tool:14} {str(dict(call.args)):40} {','.join(found):6} {d.effect.value} ({d.rule_id})")'''),
        ("md", "`explain` says why each earlier rule did not match, and which later rules would "
               "also have matched."),
        ("code", '''e = policy.explain(ToolCall("export_csv", {"database": "dev", "limit": 10**6}))
for t in e.checked:
    print(t.rule_id, "->", t.reason or "matched")
print("decision:", e.decision.effect.value, e.decision.reason)'''),
        ("md", "A bad policy refuses to load, and every problem names the file, line, rule and field."),
        ("code", '''try:
    Policy.from_string("""
version: 1
defaults: {effect: deny}
rules:
  - id: r1
    match: {tool: export, args: {db: {regex: "^(prod"}}}
    effect: require_approval
    approval: {approvers: [dbas], quorum: 3}
""", name="broken.yaml")
except PolicyError as err:
    print(err)'''),
    ],
    "04_masking.ipynb": [
        ("md", "# The masker\n\nSchema-less: free text, nested JSON (and JSON inside strings), "
               "logs, CSV. Findings carry the label, detector, path and offsets, never the value."),
        ("code", '''import json
from guardrails_plugin import Masker, Vault
from guardrails_plugin.types import MaskingSettings

masker = Masker()
text = "Hi Ana, call me on +49 30 70053440. Card 4242 4242 4242 4242, key AKIAIOSFODNN7EXAMPLE."
print(masker.mask(text).value)'''),
        ("code", '''payload = {
    "user": {"name": "Ana Lopez", "email": "ana.lopez@example.org", "dob": "1988-02-11"},
    "orders": [{"order_id": "ORD-2025-1", "sku": "SKU 599-826-1036", "total": "EUR 42.00"}],
    "raw": json.dumps({"api_key": "sk_live_51Habc123DEF456ghi789JKL", "note": "ok"}),
}
result = masker.mask(payload)
print(json.dumps(result.value, indent=2))'''),
        ("code", '''log = """2025-05-25 15:30:38,992 INFO login ok user=blanka@orange.fr ip=107.103.149.17 session=8091e2f0-ceda-4b21-a29f-b1bd794d79f4
DATABASE_URL=postgres://app:s3cr3t-P4ss@db.internal:5432/app"""
print(masker.mask(log).value)'''),
        ("md", "What was found, as a table:"),
        ("code", '''rows = masker.scan(payload) + masker.scan(log)
print(f"{'label':14} {'detector':22} {'score':5}  path")
for f in rows:
    print(f"{f.data_class:14} {f.detector:22} {f.score:5.2f}  {'/'.join(map(str, f.path))}")'''),
        ("md", "Strategies per data class (from the policy's `masking:`), and the run's vault: "
               "placeholders are stable within a run and reversible only through its vault."),
        ("code", '''settings = MaskingSettings(strategy="placeholder",
                           classes={"CREDIT_CARD": "partial", "EMAIL": "hash", "SECRET": "redact"})
print(masker.mask(text, settings=settings).value)

run = Vault("run-1")
masked = masker.mask({"to": "ana.lopez@example.org"}, vault=run).value
print(masked, "->", run.restore(masked))'''),
    ],
    "05_slack_approvals.ipynb": [
        ("md", "# Approving from Slack\n\nThe real Bolt app, in a background thread, against a "
               "local fake of Slack's Web API. A guarded call waits; the app posts the request; "
               "a signed click (exactly what Slack sends) approves it."),
        ("code", SETUP),
        ("code", '''import threading, time, urllib.request
from guardrails_plugin import Guard, Masker, Policy
from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.notify.slack import SlackServer, SlackSettings, build_app
from guardrails_plugin.notify.slack.blocks import ACTION_APPROVE
from guardrails_plugin.notify.slack.testing import FakeSlackAPI, signed
from guardrails_plugin.store import SQLiteStore, Status

policy = Policy.from_string("""
version: 1
defaults: {effect: allow}
people: {alice: [slack:UALICE], bob: [slack:UBOB]}
groups: {oncall: [alice, bob]}
rules:
  - {id: restarts, match: {tool: restart_service}, effect: require_approval,
     approval: {approvers: [oncall]}}
""")
store = SQLiteStore(WORK / "guardrails.db")
broker = ApprovalBroker(store, policy)
guard = Guard(policy, store, principal="agent:ops-bot", on_behalf_of="slack:UALICE", broker=broker,
              masker=Masker(ner=False))'''),
        ("code", '''slack = FakeSlackAPI().__enter__()
SECRET = "test-signing-secret"
settings = SlackSettings.resolve(bot_token="xoxb-demo", signing_secret=SECRET, channel="C0OPS",
                                 api_url=slack.url, env={})
app, outbox = build_app(settings, broker)
server = SlackServer(app, outbox, port=0, sync_interval=0.1).start()

outcome = {}
agent = threading.Thread(target=lambda: outcome.update(
    result=guard.call("restart_service", {"name": "billing"}, lambda a: f"restarted {a['name']}")))
agent.start()
while not any(r.notify.get("slack", {}).get("state") == "posted" for r in store.list_requests()):
    time.sleep(0.05)
request = store.list_requests(Status.PENDING)[0]
print("posted to Slack:", slack.calls("chat.postMessage")[-1]["text"])'''),
        ("code", '''posted = request.notify["slack"]
payload = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UBOB"},
           "trigger_id": "t", "channel": {"id": posted["channel"]}, "message": {"ts": posted["ts"]},
           "actions": [{"action_id": ACTION_APPROVE, "value": f"{request.id}:0", "type": "button",
                        "block_id": "b", "action_ts": "1"}]}
body, headers = signed(payload, SECRET)
http = urllib.request.Request(f"http://127.0.0.1:{server.port}/slack/events", data=body.encode(),
                              headers=headers, method="POST")
print("Slack click ->", urllib.request.urlopen(http).status)
agent.join(timeout=30)
print(outcome["result"].allowed, outcome["result"].output)
server.stop(); slack.__exit__(None, None, None)'''),
        ("md", "## Connecting a real workspace\n\nCreate the app from the manifest in the README, "
               "export `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET` and `GUARDRAILS_SLACK_CHANNEL`, "
               "and run `guardrails-plugin slack serve --policy policies/default.yaml`. "
               "Agents keep writing requests to the same SQLite file; the app posts and records "
               "the votes."),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                                 for kind, src in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, HERE / name)
        print("wrote", name)


if __name__ == "__main__":
    main()
