"""Several hosts on one PostgreSQL server (issue 15): agent processes, two instances of the Slack
app (the real Bolt app over real HTTP, Slack's Web API replaced by the local fake) and the CLI,
each a separate process logged in with its own role. Each request is posted to Slack once across
both app instances, one decisive vote wins wherever it was cast, and kill -9 of an app instance
or an agent in the middle of its work loses nothing and decides nothing twice
(RELIABILITY P6, P22, P25, P27, P29, P34)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from guardrails_plugin.notify.slack.blocks import ACTION_APPROVE, VIEW_DENY
from guardrails_plugin.notify.slack.testing import FakeSlackAPI, signed
from guardrails_plugin.store import Event, Status
from guardrails_plugin.store.factory import open_store
from guardrails_plugin.store.postgres_roles import apply_roles

from ..helpers import KEY, ME

REPO = Path(__file__).resolve().parents[2]
SECRET = "5e0d1b2c3a4f5e6d7c8b9a0f1e2d3c4b"
CHANNEL = "C0OPS"
POLICY = f"""
version: 1
defaults: {{effect: allow}}
people:
  alice: [slack:UALICE]
  bob: [slack:UBOB]
  me: [cli:{ME}]
groups:
  ops: [alice, bob, me]
rules:
  - id: restart
    match: {{tool: restart}}
    effect: require_approval
    approval: {{approvers: [ops], timeout: 10m}}
"""
DECISIONS = (Event.APPROVED, Event.DENIED)


@pytest.fixture
def backend() -> str:
    return "postgres"


class Hosts:
    """The deployment: one database, a login role per kind of host, the fake Slack."""

    def __init__(self, pg_url: str, cluster: Any, tmp: Path, slack: FakeSlackAPI) -> None:
        self.tmp = tmp
        self.slack = slack
        self.policy = tmp / "policy.yaml"
        self.policy.write_text(POLICY)
        self.owner = open_store(pg_url, key=KEY)  # creates the schema, as the tables' owner
        apply_roles(pg_url)
        db = pg_url.split("/")[3].split("?")[0]
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            for login, group in (
                ("agent_host", "guardrails_agent"),
                ("slack_app", "guardrails_reviewer"),
            ):
                conn.execute(
                    f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') "
                    f"THEN CREATE ROLE {login} LOGIN IN ROLE {group}; END IF; END $$"
                )
        self.agent_url = cluster.url(db, user="agent_host")
        self.reviewer_url = cluster.url(db, user="slack_app")
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "GUARDRAILS_AUDIT_KEY": KEY.hex(),
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "COLUMNS": "1000",
        }
        self.procs: list[subprocess.Popen[str]] = []

    def spawn(self, *args: str, module: str = "guardrails_plugin") -> subprocess.Popen[str]:
        log = open(self.tmp / f"stderr-{len(self.procs)}.log", "w")  # noqa: SIM115 - child owns it
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=self.tmp,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def app(self) -> subprocess.Popen[str]:
        """One Slack app instance (`slack serve`) on a free port, as the reviewer role."""
        return self.spawn(
            "slack", "serve", "--policy", str(self.policy), "--db", self.reviewer_url,
            "--host", "127.0.0.1", "--port", "0", "--channel", CHANNEL,
            "--api-url", self.slack.url,
        )  # fmt: skip

    def port(self, app: subprocess.Popen[str]) -> int:
        line = app.stdout.readline() if app.stdout else ""
        found = re.search(r"127\.0\.0\.1:(\d+)/slack/events", line)
        assert found, f"the Slack app did not start: {line!r} {self.stderr(app)}"
        return int(found.group(1))

    def agent(self, name: str, count: int) -> subprocess.Popen[str]:
        return self.spawn(
            "agent", self.agent_url, str(self.policy), name, str(count), module="tests.store.hosts"
        )

    def ready(self, proc: subprocess.Popen[str]) -> subprocess.Popen[str]:
        assert self.read(proc) == {"ready": True}, self.stderr(proc)
        return proc

    def spammer(self, count: int) -> subprocess.Popen[str]:
        proc = self.spawn(
            "spam", self.agent_url, str(self.policy), "agent:spam", str(count),
            module="tests.store.hosts",
        )  # fmt: skip
        return self.ready(proc)

    def cli(self, *args: str) -> subprocess.Popen[str]:
        return self.spawn(*args, "--db", self.reviewer_url)

    @staticmethod
    def read(proc: subprocess.Popen[str]) -> Any:
        line = proc.stdout.readline() if proc.stdout else ""
        return json.loads(line) if line else None

    def stderr(self, proc: subprocess.Popen[str]) -> str:
        index = self.procs.index(proc)
        return (self.tmp / f"stderr-{index}.log").read_text(errors="replace")[-3000:]

    # --- what Slack would send -----------------------------------------------------------------

    def post(self, port: int, body: str, headers: dict[str, str]) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0  # the instance is gone (killed)

    def approve_click(self, port: int, request_id: str, user: str) -> int:
        posted = self.owner.get_request(request_id).notify["slack"]
        payload = {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user, "team_id": "T0001"},
            "trigger_id": f"t-{user}-{request_id}",
            "channel": {"id": posted["channel"]},
            "message": {"ts": posted["ts"]},
            "actions": [
                {
                    "action_id": ACTION_APPROVE,
                    "value": f"{request_id}:0",
                    "type": "button",
                    "block_id": "b",
                    "action_ts": str(time.time()),
                }
            ],
        }
        return self.post(port, *signed(payload, SECRET))

    def deny_submit(self, port: int, request_id: str, user: str) -> int:
        posted = self.owner.get_request(request_id).notify["slack"]
        private = json.dumps([request_id, 0, posted["channel"], posted["ts"]])
        payload = {
            "type": "view_submission",
            "team": {"id": "T0001"},
            "user": {"id": user, "team_id": "T0001"},
            "trigger_id": "t",
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": VIEW_DENY,
                "private_metadata": private,
                "state": {
                    "values": {"reason": {"value": {"type": "plain_text_input", "value": "no"}}}
                },
            },
        }
        return self.post(port, *signed(payload, SECRET))

    # --- what the database and Slack show ------------------------------------------------------

    def posts(self) -> Counter[str]:
        """How many times each request was posted (a reply in its run's thread)."""
        counted: Counter[str] = Counter()
        for params in self.slack.calls("chat.postMessage"):
            if params.get("thread_ts"):
                found = re.search(r'"value": "([0-9a-z_-]+):\d+"', json.dumps(params["blocks"]))
                assert found, params
                counted[found.group(1)] += 1
        return counted

    def wait_until(self, what: str, check: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                logs = "\n".join(self.stderr(p) for p in self.procs)
                raise AssertionError(f"timed out waiting until {what}\n{logs}")
            time.sleep(0.05)

    def all_posted(self) -> bool:
        return all(
            r.notify.get("slack", {}).get("state") == "posted"
            for r in self.owner.list_requests(Status.PENDING, limit=10_000)
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            if proc.stdout:
                proc.stdout.close()
        self.owner.close()


@pytest.fixture
def hosts(pg_url, pg_cluster, tmp_path):
    with FakeSlackAPI() as slack:
        deployment = Hosts(pg_url, pg_cluster, tmp_path, slack)
        yield deployment
        deployment.stop()


def _race(*votes: Any) -> None:
    threads = [threading.Thread(target=vote) for vote in votes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _outcomes(proc: subprocess.Popen[str]) -> tuple[dict[str, tuple[str, bool]], Counter[str]]:
    """request id -> (call id, allowed); and how often each call's tool ran."""
    out, _ = proc.communicate(timeout=60)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    outcome = {line["request"]: (line["call"], line["allowed"]) for line in lines if "call" in line}
    ran = Counter(line["ran"] for line in lines if "ran" in line)
    return outcome, ran


def test_several_hosts_post_once_decide_once_and_survive_kill_9(hosts):
    owner = hosts.owner
    app_a, app_b = hosts.app(), hosts.app()
    agents = [hosts.agent(name, 3) for name in ("ann", "ben", "cat")]
    port_a, port_b = hosts.port(app_a), hosts.port(app_b)
    for agent in agents:
        hosts.ready(agent)

    # 1. Nine requests from three agent hosts, each posted once across the two app instances.
    hosts.wait_until(
        "9 requests are posted",
        lambda: len(owner.list_requests(Status.PENDING)) == 9 and hosts.all_posted(),
    )
    requests = owner.list_requests(Status.PENDING)
    assert set(hosts.posts().values()) == {1} and set(hosts.posts()) == {r.id for r in requests}
    parents = [p for p in hosts.slack.calls("chat.postMessage") if not p.get("thread_ts")]
    assert len(parents) == 3  # one thread per agent run, opened once

    # 2. Votes race across hosts: approve in app A, deny in app B, approve from the CLI.
    ids = [r.id for r in requests]
    cli_votes: list[str] = []
    for i, request_id in enumerate(ids):
        votes = [
            lambda r=request_id: hosts.approve_click(port_a, r, "UALICE"),
            lambda r=request_id: hosts.deny_submit(port_b, r, "UBOB"),
        ]
        if i < 2:
            # The CLI is a process start per vote (two are enough): give it a head start of
            # about its start-up time, so either side may win.
            cli = hosts.cli("approve", request_id, "--revision", "0", "--json")
            time.sleep(random.Random(i).uniform(0.5, 1.5))
            votes.append(
                lambda c=cli: cli_votes.append(c.communicate(timeout=60)[0] + hosts.stderr(c))
            )
        _race(*votes)
    for said in cli_votes:  # counted, or told the request was decided by then
        assert '"counted": true' in said or "already" in said, said
    results = [_outcomes(agent) for agent in agents]
    assert all(agent.returncode == 0 for agent in agents)
    allowed = {k: v for outcome, _ in results for k, v in outcome.items()}
    ran = sum((r for _, r in results), Counter())
    audit = list(owner.audit_rows())
    for request_id in ids:
        request = owner.get_request(request_id)
        decisions = [r for r in audit if r.request_id == request_id and r.event in DECISIONS]
        assert len(decisions) == 1, "exactly one decisive vote per request"
        call, was_allowed = allowed[request_id]
        assert was_allowed is (request.status is Status.APPROVED)
        assert ran[call] == (1 if request.status is Status.APPROVED else 0)
    assert {owner.get_request(i).status for i in ids} <= {Status.APPROVED, Status.DENIED}

    # 3. kill -9 in the middle of the work: an agent creating requests one transaction after
    #    another, an agent waiting for its verdicts, and app instance A while it posts them
    #    (Slack answering in 50 ms, as it does, keeps A inside a post most of the time).
    hosts.slack.delay["chat.postMessage"] = 0.05
    waiter = hosts.ready(hosts.agent("dan", 3))
    spammer = hosts.spammer(100_000)
    for _ in range(random.Random().randint(5, 30)):  # it commits request after request...
        assert hosts.read(spammer)
    spammer.send_signal(signal.SIGKILL)  # ...and dies inside one, or between two
    posted_before = len(hosts.slack.calls("chat.postMessage"))
    hosts.wait_until(
        "the apps are posting",
        lambda: len(hosts.slack.calls("chat.postMessage")) >= posted_before + 4,
    )
    app_a.send_signal(signal.SIGKILL)
    waiter.send_signal(signal.SIGKILL)
    for proc in (spammer, app_a, waiter):
        assert proc.wait(timeout=30) == -signal.SIGKILL
    # A post app A claimed but never finished is retried once its claim goes stale (60 s in
    # production): the test moves the claim's clock instead of waiting.
    hosts.wait_until("app B has posted what it can", lambda: _settled(owner))
    stale = _posting(owner)
    with psycopg.connect(owner.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE requests SET notify = jsonb_set(notify::jsonb, '{slack,at}', '0')::text "
            "WHERE notify::jsonb #>> '{slack,state}' = 'posting'"
        )
        conn.execute("UPDATE notify_threads SET claimed_at = 0 WHERE state = 'posting'")
    hosts.wait_until("every pending request is posted", hosts.all_posted)

    pending = owner.list_requests(Status.PENDING, limit=10_000)
    assert len(pending) >= 3 + 1  # the waiter's three and at least one of the spammer's
    posts = hosts.posts()
    assert all(posts[r.id] >= 1 for r in pending), "nothing is lost"
    # Slack is outside the transaction: only a post in flight when A died can appear twice.
    assert {r for r, n in posts.items() if n > 1} <= stale
    # Each request the killed agent committed has its audit row, and no audit row lacks its
    # request: the two commit together or not at all.
    requested = {r.request_id for r in owner.audit_rows() if r.event == Event.REQUEST_CREATED}
    assert {r.id for r in owner.iter_requests()} == requested

    # 4. The survivors decide what the dead left pending, once; nothing runs without its agent.
    for request in pending[:5]:
        _race(
            lambda r=request.id: hosts.approve_click(port_b, r, "UALICE"),
            lambda r=request.id: hosts.approve_click(port_b, r, "UBOB"),
        )
    hosts.wait_until(
        "the votes are counted",
        lambda: all(owner.get_request(r.id).status is Status.APPROVED for r in pending[:5]),
    )
    audit = list(owner.audit_rows())
    decided = Counter(r.request_id for r in audit if r.event in DECISIONS)
    assert all(n == 1 for n in decided.values())
    assert all(owner.get_request(r.id).executed_at is None for r in pending)
    verify = hosts.cli("audit", "verify")
    out, _ = verify.communicate(timeout=60)
    assert verify.returncode == 0, out + hosts.stderr(verify)
    assert app_b.poll() is None  # the surviving instance kept serving throughout


def _posting(store: Any) -> set[str]:
    return {
        r.id
        for r in store.list_requests(Status.PENDING, limit=10_000)
        if r.notify.get("slack", {}).get("state") == "posting"
    }


def _settled(store: Any) -> bool:
    """Nothing moves across two passes of app B's outbox: what is left waits on a claim of
    app A's (a request's, or its run's thread) to go stale."""
    before = [(r.id, r.notify) for r in store.list_requests(Status.PENDING, limit=10_000)]
    time.sleep(1.2)
    after = [(r.id, r.notify) for r in store.list_requests(Status.PENDING, limit=10_000)]
    return before == after
