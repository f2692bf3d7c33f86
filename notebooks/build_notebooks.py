"""Write the notebooks in this folder from the cells below (stored without outputs).

    .venv/bin/python notebooks/build_notebooks.py

Each notebook runs top to bottom with no network and no API key; CI executes all of them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''import tempfile
from pathlib import Path

# Run from the repository or from notebooks/: find the example policies either way.
REPO = Path.cwd() if (Path.cwd() / "policies").is_dir() else Path.cwd().parent
# A fresh folder per run for the SQLite store. A new store creates its audit key beside it
# (guardrails.db.key, mode 0600): no key to set, and none to print.
WORK = Path(tempfile.mkdtemp(prefix="guardrails-"))'''

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_quickstart_langchain.ipynb": [
        ("md", "# Quickstart: a LangChain agent behind the guard\n\n"
               "A `create_agent` agent with a scripted model (no API key), guarded by "
               "`GuardMiddleware`. We will see a masked tool output, a denial the model reads, "
               "a call that waits for a human, and that human approving it **from a second "
               "process with the real `guardrails-plugin` CLI**, as a reviewer in another shell "
               "would. Then the audit trail."),
        ("code", SETUP),
        ("code", """from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from guardrails_plugin import Guard
from guardrails_plugin.integrations.langchain import GuardMiddleware
from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel, tool_call

@tool
def lookup_customer(customer_id: int) -> dict:
    \"\"\"Look up a customer by id.\"\"\"
    return {"id": customer_id, "name": "Ana Lopez", "email": "ana.lopez@example.org"}

@tool
def run_sql(query: str) -> str:
    \"\"\"Run a SQL statement.\"\"\"
    return "ok"

@tool
def restart_service(name: str) -> str:
    \"\"\"Restart a service.\"\"\"
    return f"{name} restarted\""""),
        ("md", "The guard reads `policies/default.yaml`: reads are allowed, `DROP` is denied, "
               "and tools no rule mentions (like `restart_service`) need an on-call approval. "
               "The agent acts for Alice (`slack:U024BE7LH`), so Alice cannot approve.\n\n"
               "The CLI votes as `cli:<your OS account>`, taken from the operating system (no "
               "flag can claim another identity). So that you may approve, this notebook copies "
               "the policy and adds you to the `oncall` group, exactly as you would add a "
               "reviewer to `people:` and `groups:` in your own policy."),
        ("code", """import os, pwd
import yaml

me = pwd.getpwuid(os.geteuid()).pw_name                 # who the CLI will say you are
policy = yaml.safe_load((REPO / "policies/default.yaml").read_text())
policy["people"]["you"] = [f"cli:{me}"]
policy["groups"]["oncall"].append("you")
POLICY, DB = WORK / "policy.yaml", WORK / "guardrails.db"
POLICY.write_text(yaml.safe_dump(policy, sort_keys=False))

guard = Guard.from_policy(POLICY, store=DB,
                          principal="agent:support-bot", on_behalf_of="slack:U024BE7LH")
model = ScriptedChatModel(responses=[
    AIMessage("", tool_calls=[tool_call("lookup_customer", {"customer_id": 7})]),
    AIMessage("", tool_calls=[tool_call("run_sql", {"query": "DROP TABLE customers"})]),
    AIMessage("", tool_calls=[tool_call("restart_service", {"name": "billing"})]),
    AIMessage("All done."),
])
agent = create_agent(model, [lookup_customer, run_sql, restart_service],
                     middleware=[GuardMiddleware(guard)])
print(f"you are cli:{me}; store {DB}")"""),
        ("md", "The agent runs in a background thread, as it would inside your service. When it "
               "reaches `restart_service` the guard writes an approval request to the store and "
               "the run waits for a decision."),
        ("code", """import threading

outcome = {}
run = threading.Thread(target=lambda: outcome.update(result=agent.invoke(
    {"messages": [("user", "Help customer 7")]}, {"configurable": {"thread_id": "ticket-42"}})))
run.start()"""),
        ("md", "Now be the reviewer, from a **second process**: `cli()` runs `python -m "
               "guardrails_plugin ...`, the same program as typing `guardrails-plugin ...` in "
               "another shell. It shares nothing with this kernel but the SQLite file (and the "
               "key file beside it)."),
        ("code", """import shlex, subprocess, sys, time
from guardrails_plugin.store import Status

def cli(*args):
    \"\"\"`guardrails-plugin ARGS` in a process of its own; prints what the reviewer sees.\"\"\"
    plain = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    done = subprocess.run([sys.executable, "-m", "guardrails_plugin", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env={**plain, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})
    print(f"$ {shlex.join(['guardrails-plugin', *map(str, args)])}\\n{done.stdout}{done.stderr}")

deadline = time.monotonic() + 60
while not guard.store.list_requests(Status.PENDING):    # wait until the agent has asked
    assert time.monotonic() < deadline and run.is_alive(), "the agent never asked"
    time.sleep(0.05)
request = guard.store.list_requests(Status.PENDING)[0]
cli("pending", "--db", DB)
cli("show", request.id, "--db", DB)"""),
        ("code", """cli("approve", request.id, "--revision", request.revision,
    "--reason", "billing restart is routine", "--db", DB, "--policy", POLICY)

run.join(timeout=60)                                     # the waiting run wakes and goes on
for message in outcome["result"]["messages"]:
    status = getattr(message, "status", "")
    print(f"{type(message).__name__:12} {status:8} {message.content}")"""),
        ("md", "The model saw `<PERSON_1>` and `<EMAIL_1>`, read the `DROP` denial as a "
               "sentence, and got `billing restarted` once you approved. (In tests, "
               "`guardrails_plugin.testing.ScriptedApprover(guard.broker, \"cli:bob\")` casts "
               "the same vote from a thread, through the same broker checks.)\n\n"
               "Every step is in the hash-chained audit log; `audit verify` recomputes the chain "
               "under the store's key."),
        ("code", """cli("audit", "tail", "--db", DB)
cli("audit", "verify", "--db", DB)"""),
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
               "also have matched (first match wins, so they are *shadowed* for this call). A "
               "prod export holding an IBAN is denied by `no-payment-data`; `prod-export` "
               "matches too, but comes later:"),
        ("code", '''e = policy.explain(ToolCall("export_table", {"database": "prod-eu"}), ["IBAN"])
print("decision:", e.decision.effect.value, f"({e.decision.rule_id})", e.decision.reason)
for t in e.checked:
    print("  checked ", t.rule_id, "->", t.reason or "matched")
for t in e.shadowed:
    print("  shadowed", t.rule_id, f"({t.effect.value}, line {t.line}): also matches, comes later")

e = policy.explain(ToolCall("export_csv", {"database": "dev", "limit": 10**6}))
print("decision:", e.decision.effect.value, f"({e.decision.rule_id})", e.decision.reason)
for t in e.checked:
    print("  checked ", t.rule_id, "->", t.reason or "matched")'''),
        ("md", "A rule that can *never* match, because an earlier rule catches every tool it "
               "names, is a mistake worth a warning: `guardrails-plugin policy check` prints it, "
               "and `Policy.shadowed_rules()` lists it."),
        ("code", '''import subprocess, sys, tempfile
from pathlib import Path

dead = Path(tempfile.mkdtemp(prefix="guardrails-")) / "dead-rule.yaml"
dead.write_text("""version: 1
defaults: {effect: deny}
rules:
  - {id: all-db, match: {tool: "db_*"}, effect: allow}
  - {id: no-drop, match: {tool: db_drop}, effect: deny}
""")
print(Policy.load(dead).shadowed_rules())
done = subprocess.run([sys.executable, "-m", "guardrails_plugin", "policy", "check", str(dead)],
                      capture_output=True, text=True, timeout=60)
print(done.stdout + done.stderr)'''),
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
        ("md", "Strategies per data class (from the policy's `masking:`): `partial` keeps the "
               "last digits, `hash` gives a keyed token that is the same for the same value "
               "(see the masking reference for its key), `redact` removes the value. Then the "
               "run's vault: placeholders are stable within a run and reversible only through "
               "its vault."),
        ("code", '''settings = MaskingSettings(strategy="placeholder",
                           classes={"CREDIT_CARD": "partial", "EMAIL": "hash", "SECRET": "redact"})
note = "Ana (ana.lopez@example.org) paid with 4242 4242 4242 4242; key AKIAIOSFODNN7EXAMPLE."
print(masker.mask(note, settings=settings).value)
# hash: the same value gives the same token, so rows stay joinable without the address
print(masker.mask("cc: ana.lopez@example.org", settings=settings).value)

run = Vault("run-1")
masked = masker.mask({"to": "ana.lopez@example.org"}, vault=run).value
print(masked, "->", run.restore(masked))'''),
    ],
    "05_slack_approvals.ipynb": [
        ("md", "# Approving from Slack: setting up a real workspace\n\n"
               "Agents never talk to Slack. They write approval requests to the SQLite store; "
               "one more process, `guardrails-plugin slack serve`, posts each request in a "
               "thread of your approvals channel, takes the Approve / Deny / Edit clicks, checks "
               "who clicked against the policy's `people:` and writes the vote to the same "
               "store, where the waiting agent wakes up.\n\n"
               "Steps 1-5 connect a real workspace (about ten minutes, admin rights to install "
               "an app). The last part runs the **same app offline**, against a local fake of "
               "Slack's Web API, so you can see every step without a workspace."),
        ("md", "## 1. Create the app from a manifest\n\n"
               "At https://api.slack.com/apps choose *Create New App* → *From an app manifest*, "
               "pick the workspace and paste one of these.\n\n"
               "**Socket Mode** (no public URL; the app dials out to Slack — easiest to try, "
               "works behind a firewall):\n\n"
               "```yaml\n"
               "display_information:\n"
               "  name: guardrails\n"
               "features:\n"
               "  bot_user: {display_name: guardrails, always_online: true}\n"
               "oauth_config:\n"
               "  scopes:\n"
               "    bot: [chat:write, chat:write.public]\n"
               "settings:\n"
               "  interactivity: {is_enabled: true}\n"
               "  socket_mode_enabled: true\n"
               "```\n\n"
               "**HTTP** (Slack posts each click to your server, which must be reachable over "
               "HTTPS): the same manifest with\n\n"
               "```yaml\n"
               "settings:\n"
               "  interactivity:\n"
               "    is_enabled: true\n"
               "    request_url: https://YOUR-HOST/slack/events\n"
               "  socket_mode_enabled: false\n"
               "```\n\n"
               "`chat:write` posts and updates the request messages; `chat:write.public` lets "
               "the bot post in a public channel it has not joined (invite it anyway for "
               "private channels)."),
        ("md", "## 2. Collect the tokens\n\n"
               "| setting | where in the app's settings | looks like |\n"
               "|---|---|---|\n"
               "| `SLACK_BOT_TOKEN` | *OAuth & Permissions* → *Install to Workspace* → Bot User "
               "OAuth Token | `xoxb-...` |\n"
               "| `SLACK_SIGNING_SECRET` (HTTP mode) | *Basic Information* → App Credentials → "
               "Signing Secret | 32 hex characters |\n"
               "| `SLACK_APP_TOKEN` (Socket Mode) | *Basic Information* → App-Level Tokens → "
               "Generate, scope `connections:write` | `xapp-...` |\n"
               "| `GUARDRAILS_SLACK_CHANNEL` | the channel's details → bottom of the About tab "
               "| `C0123ABCD` |\n"
               "| `GUARDRAILS_SLACK_TEAM` (optional) | your workspace id; clicks from any other "
               "workspace are refused | `T0123ABCD` |\n\n"
               "Keep them in your secret store or service environment, never in the policy or "
               "the repository. In the channel, `/invite @guardrails`."),
        ("md", "## 3. Socket Mode or HTTP?\n\n"
               "| | Socket Mode (`--socket`) | HTTP (default) |\n"
               "|---|---|---|\n"
               "| network | outbound WebSocket only | a public HTTPS URL to `/slack/events` "
               "(a reverse proxy or a tunnel) |\n"
               "| proof a click is Slack's | the authenticated app-level connection | "
               "the request signature, checked with the signing secret (refuses to start "
               "without it) |\n"
               "| good for | trying it out, hosts behind a firewall | production behind a "
               "load balancer |\n\n"
               "Either way the app also checks that the click comes from the message it posted "
               "for that request, that the Slack user is a person the rule allows, and that "
               "they are not the requester."),
        ("md", "## 4. Map Slack users to people\n\n"
               "Approvals count people, not accounts. Add each reviewer's Slack member id "
               "(their profile → ⋮ → *Copy member ID*) to the policy:\n\n"
               "```yaml\n"
               "people:\n"
               "  bob: [slack:U0G9QF9C6, cli:bob]     # Slack and the CLI count as one person\n"
               "groups:\n"
               "  oncall: [bob]\n"
               "```\n\n"
               "A click from someone not listed gets an ephemeral message saying why it did "
               "not count."),
        ("md", "## 5. Run it and test it\n\n"
               "```sh\n"
               "export SLACK_BOT_TOKEN=xoxb-...  SLACK_APP_TOKEN=xapp-...  "
               "GUARDRAILS_SLACK_CHANNEL=C0123ABCD\n"
               "guardrails-plugin slack serve --policy policies/default.yaml --db guardrails.db "
               "--socket\n"
               "# HTTP instead: export SLACK_SIGNING_SECRET=... and drop --socket (port 3000)\n"
               "```\n\n"
               "In a second shell, in the same folder, make a call that needs approval (under "
               "`policies/default.yaml` any tool no rule names does), acting for someone other "
               "than you so that you may approve:\n\n"
               "```python\n"
               "from guardrails_plugin import Guard\n"
               "guard = Guard.from_policy(\"policies/default.yaml\", store=\"guardrails.db\",\n"
               "                          principal=\"agent:smoke-test\", "
               "on_behalf_of=\"slack:U0AB12CDE\")\n"
               "print(guard.call(\"restart_service\", {\"name\": \"billing\"}, "
               "lambda args: \"restarted\"))\n"
               "```\n\n"
               "The request appears in the channel within a second or two; click *Approve* as "
               "an on-call person and the script prints the allowed outcome. Then "
               "`guardrails-plugin audit tail --db guardrails.db` shows the request, your vote "
               "(as `slack:U...`) and the execution. If nothing is posted: the app's log names "
               "a missing token or channel; `not_in_channel` means the bot needs an invite; a "
               "click that does nothing in HTTP mode usually means Slack cannot reach the "
               "request URL (*Interactivity & Shortcuts* shows failed deliveries)."),
        ("md", "## Offline: the same app against a local fake of Slack\n\n"
               "The real Bolt app, in a background thread, against "
               "`guardrails_plugin.notify.slack.testing.FakeSlackAPI` (what the tests use; "
               "`--api-url` or `SLACK_API_URL` points the app at it). A guarded call waits; the "
               "app posts the request; a signed click, byte for byte what Slack sends in HTTP "
               "mode, approves it."),
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
        ("md", "The request was posted, the click was verified and counted, and the waiting "
               "call ran once. With a real workspace the only differences are the tokens and "
               "where the click comes from."),
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
