"""Issue 14 #13: running processes follow a changed policy file, safely.

A `Guard` (and the Slack app's broker) re-reads its policy file when it changes, once the file
has settled; a file still being written is not used, a broken one keeps the last good policy
(logged at ERROR and audited once), and every change is audited with the SHA-256 of the bytes
loaded. Real files rewritten between two real calls; "settled" is made true by dating the file's
modification time back, as a file written seconds ago would be.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.errors import NotAnApprover
from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.policy.watch import LivePolicy
from guardrails_plugin.store import Event
from guardrails_plugin.store.sqlite import SQLiteStore

from ..helpers import KEY, make_request
from .conftest import SpyTool

ALLOW = """\
version: 1
defaults: {effect: allow}
rules: []
"""
DENY_DROP = """\
version: 1
defaults: {effect: allow}
rules:
  - id: reads
    match: {tool: read_table}
    effect: allow
  - id: no-drop
    match: {tool: drop_table}
    effect: deny
    reason: Never.
"""
# The first half of DENY_DROP, cut between its rules: valid YAML and a valid policy.
HALF = DENY_DROP[: DENY_DROP.index("  - id: no-drop")]


def settled(path: Path, text: str, age: float = 5.0) -> None:
    """Write ``text`` to ``path`` in place, dated ``age`` seconds back."""
    path.write_text(text)
    then = time.time() - age
    os.utime(path, (then, then))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def setup(tmp_path):
    path = tmp_path / "policy.yaml"
    settled(path, ALLOW, age=60)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(Policy.load(path), store, principal="agent:bot", masker=Masker(ner=False))
    yield guard, path
    store.close()


def reloads(guard: Guard, event: str = Event.POLICY_RELOADED) -> list:
    return [r for r in guard.store.audit_rows() if r.event == event]


def test_a_rewritten_policy_file_is_used_by_the_next_call(setup):
    """Issue 14 #13: a Guard follows its policy file without reload_policy(), and audits the
    change with the SHA-256 of the new file before the call uses it."""
    guard, path = setup
    tool = SpyTool()
    assert guard.call("drop_table", {"name": "t"}, tool).allowed
    settled(path, DENY_DROP)
    outcome = guard.call("drop_table", {"name": "t"}, tool)
    assert not outcome.allowed and "no-drop" in outcome.message and len(tool.runs) == 1
    [row] = reloads(guard)
    assert row.data["digest"] == sha(DENY_DROP)
    assert row.data["previous_digest"] == sha(ALLOW)
    assert row.data["rules"] == 2 and row.data["why"] == "file changed"
    assert guard.broker.policy is guard.policy
    events = [r.event for r in guard.store.audit_rows()]
    assert events.index(Event.POLICY_RELOADED) < len(events) - 1  # before the call's own row


def test_a_file_still_being_written_is_never_half_applied(setup):
    """Issue 14 #13: a file cut between two rules (what a reader sees mid-write) loads as a
    valid, laxer policy; it is not used while it is fresh, and the finished file is."""
    guard, path = setup
    settled(path, DENY_DROP)
    tool = SpyTool()
    assert not guard.call("drop_table", {"name": "t"}, tool).allowed
    path.write_text(HALF)  # just written: maybe more is coming
    assert not guard.call("drop_table", {"name": "t"}, tool).allowed  # still the whole policy
    assert len(reloads(guard)) == 1
    settled(path, DENY_DROP + "  - {id: extra, match: {tool: x}, effect: deny}\n")
    assert not guard.call("drop_table", {"name": "t"}, tool).allowed and tool.runs == []
    latest = reloads(guard)[-1]
    assert latest.data["rules"] == 3 and latest.data["previous_digest"] == sha(DENY_DROP)


def test_a_broken_file_keeps_the_last_good_policy_logs_and_audits_once(setup, caplog):
    """Issue 14 #13: a rewrite that does not load changes nothing: the last good policy stays,
    an ERROR names the file and the problem, one policy.reload_failed row (not one per call);
    the fixed file is used."""
    guard, path = setup
    settled(path, DENY_DROP)
    tool = SpyTool()
    guard.call("drop_table", {"name": "t"}, tool)
    broken = DENY_DROP.replace("effect: deny", "effect: dney")
    with caplog.at_level(logging.ERROR, logger="guardrails_plugin.policy.watch"):
        settled(path, broken)
        for _ in range(3):
            assert not guard.call("drop_table", {"name": "t"}, tool).allowed
    [failed] = reloads(guard, Event.POLICY_RELOAD_FAILED)
    assert failed.data["digest"] == sha(broken) and failed.data["kept_digest"] == sha(DENY_DROP)
    assert "dney" in failed.data["problems"][0]
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(path) in logged.getMessage() and "stays in force" in logged.getMessage()
    settled(path, ALLOW, age=3)
    assert guard.call("drop_table", {"name": "t"}, tool).allowed
    assert reloads(guard)[-1].data["digest"] == sha(ALLOW)


def test_the_same_bytes_rewritten_change_nothing(setup):
    """Issue 14 #13: a touch or a rewrite with the same text writes no audit row."""
    guard, path = setup
    settled(path, ALLOW, age=10)
    guard.call("read_table", {}, SpyTool())
    assert reloads(guard) == []


def test_watching_can_be_turned_off(tmp_path):
    """Issue 14 #13: Guard(watch_policy=False) keeps its policy until reload_policy()."""
    path = tmp_path / "policy.yaml"
    settled(path, ALLOW, age=60)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(
        Policy.load(path), store, principal="a", masker=Masker(ner=False), watch_policy=False
    )
    settled(path, DENY_DROP)
    assert guard.call("drop_table", {}, SpyTool()).allowed
    guard.reload_policy()
    assert not guard.call("drop_table", {}, SpyTool()).allowed
    store.close()


def test_the_slack_apps_broker_follows_the_file_before_each_vote(tmp_path):
    """Issue 14 #13: the broker `slack serve` runs follows its --policy file too: someone
    removed from the approvers stops counting without a restart."""
    from ..helpers import POLICY

    path = tmp_path / "policy.yaml"
    settled(path, POLICY, age=60)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    broker = ApprovalBroker(store, Policy.load(path))
    broker.follow_policy_file("slack-app")
    request = make_request(broker)
    settled(path, POLICY.replace("dba: [alice, bob, carol]", "dba: [alice, carol]"))
    with pytest.raises(NotAnApprover):
        broker.vote(request.id, "slack:UBOB", "approve", revision=0, channel="slack")
    [row] = [r for r in store.audit_rows() if r.event == Event.POLICY_RELOADED]
    assert row.actor == "slack-app"
    store.close()


# --- issue 14 red team, F3-F5: what the watcher reads, when it settles, and that it never hangs


def _in_thread(fn, timeout: float = 10.0):
    """Run ``fn`` in a daemon thread: a regression that hangs fails the test, not the suite."""
    done: list = []
    worker = threading.Thread(target=lambda: done.append(fn()), daemon=True)
    worker.start()
    worker.join(timeout)
    assert done, f"{fn} did not return within {timeout} s"
    return done[0]


def _swap(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    if kind != "dev-zero":  # never touch /dev/zero's dates; its own are old enough
        then = time.time() - 5
        os.utime(path, (then, then))


@pytest.mark.parametrize(
    ("kind", "problem"),
    [("fifo", "FIFO"), ("dev-zero", "device"), ("huge", "limited to 1,048,576 bytes")],
)
def test_a_policy_path_that_is_not_a_small_regular_file_is_refused_not_read(
    setup, caplog, kind, problem
):
    """Red-team F4: a policy file swapped for a FIFO, a symlink to /dev/zero or a huge file
    is never opened blocking nor read without bound: the call decides with the last good policy,
    an ERROR and one policy.reload_failed row say why, and the next good file is followed
    (P1, P13, P27)."""
    guard, path = setup
    settled(path, DENY_DROP)
    assert not guard.call("drop_table", {}, SpyTool()).allowed
    _swap(path, kind)
    with caplog.at_level(logging.ERROR, logger="guardrails_plugin.policy.watch"):
        for _ in range(2):
            assert not _in_thread(lambda: guard.call("drop_table", {}, SpyTool())).allowed
    [failed] = reloads(guard, Event.POLICY_RELOAD_FAILED)
    assert problem in failed.data["problems"][0] and failed.data["kept_digest"] == sha(DENY_DROP)
    assert any(problem in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    path.unlink()
    settled(path, ALLOW)
    assert guard.call("drop_table", {}, SpyTool()).allowed  # following goes on


def test_the_audited_digest_covers_the_included_files_as_parsed(tmp_path):
    """Red-team F3, includes: the reload row's digest is the SHA-256 of exactly the bytes
    parsed, included files first, root last (for one file: what `sha256sum` prints); an
    included file swapped for a FIFO is refused like the root (P27)."""
    people = tmp_path / "people.yaml"
    settled(people, "version: 1\npeople:\n  bob: [cli:bob]\n")
    root = tmp_path / "policy.yaml"
    settled(root, ALLOW)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    guard = Guard(Policy.load(root), store, principal="agent:bot", masker=Masker(ner=False))
    root_text = "include: [people.yaml]\n" + DENY_DROP
    settled(root, root_text)
    assert not guard.call("drop_table", {}, SpyTool()).allowed
    [row] = reloads(guard)
    assert row.data["digest"] == sha(people.read_text() + root_text)
    assert guard.policy.digest == row.data["digest"]
    _swap(people, "fifo")
    assert not _in_thread(lambda: guard.call("drop_table", {}, SpyTool())).allowed
    [failed] = reloads(guard, Event.POLICY_RELOAD_FAILED)
    assert "FIFO" in failed.data["problems"][0]
    store.close()


def test_a_change_dated_in_the_future_is_used_once_unchanged_and_logged_once(tmp_path, caplog):
    """Red-team F5: a file dated an hour ahead settles on the watcher's own clock (unchanged
    for the settle time), is used and audited; the WARNING about its date is logged once."""
    path = tmp_path / "policy.yaml"
    settled(path, ALLOW)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    in_force = [Policy.load(path)]
    now = {"t": time.time()}
    live = LivePolicy(in_force[0], store, "agent:bot", in_force.append, wall=lambda: now["t"])
    path.write_text(DENY_DROP)
    ahead = now["t"] + 3600
    os.utime(path, (ahead, ahead))
    with caplog.at_level(logging.WARNING, logger="guardrails_plugin.policy.watch"):
        for _ in range(3):
            live.refresh()  # seen, not yet settled on our clock
        assert len(in_force) == 1
        now["t"] += 2.5
        live.refresh()
    assert [p.rules[-1].id for p in in_force[1:]] == ["no-drop"]
    [row] = [r for r in store.audit_rows() if r.event == Event.POLICY_RELOADED]
    assert row.data["digest"] == sha(DENY_DROP)
    [warned] = [r for r in caplog.records if "in the future" in r.getMessage()]
    assert str(path) in warned.getMessage()
    store.close()


def test_a_file_that_never_stops_changing_is_reported_once(tmp_path, caplog):
    """Red-team F5: a change that never settles is not ignored in silence: after a minute of
    changes, one WARNING and one policy.reload_failed row say the old policy stays in force."""
    path = tmp_path / "policy.yaml"
    settled(path, ALLOW)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    in_force = [Policy.load(path)]
    now = {"t": time.time()}
    live = LivePolicy(in_force[0], store, "agent:bot", in_force.append, wall=lambda: now["t"])
    with caplog.at_level(logging.WARNING, logger="guardrails_plugin.policy.watch"):
        for i in range(100):  # a rewrite every second, each dated now
            path.write_text(DENY_DROP + f"# {i}\n")
            os.utime(path, (now["t"], now["t"]))
            live.refresh()
            now["t"] += 1.0
    assert len(in_force) == 1
    [failed] = [r for r in store.audit_rows() if r.event == Event.POLICY_RELOAD_FAILED]
    assert failed.data["why"] == "file keeps changing"
    assert "stays in force" in failed.data["problems"][0]
    assert len([r for r in caplog.records if "have not stopped changing" in r.getMessage()]) == 1
    store.close()


def test_a_hung_policy_check_is_abandoned_and_following_goes_on(tmp_path, caplog):
    """Red-team F4, beyond files: a refresh that never returns (here: blocked in the clock it
    reads, standing for a hung file system or store) no longer stops policy following. After
    ``stuck_after`` the next call reports it (ERROR, one audit row), takes over and uses the
    change; what the hung one finds later is discarded."""
    path = tmp_path / "policy.yaml"
    settled(path, ALLOW)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    in_force = [Policy.load(path)]
    entered, release = threading.Event(), threading.Event()

    def wall() -> float:
        if threading.current_thread().name == "hung":
            entered.set()
            release.wait(30)
        return time.time()

    mono = {"t": 0.0}
    live = LivePolicy(
        in_force[0], store, "agent:bot", in_force.append, wall=wall, clock=lambda: mono["t"]
    )
    settled(path, DENY_DROP)
    hung = threading.Thread(target=live.refresh, name="hung", daemon=True)
    hung.start()
    assert entered.wait(10)
    live.refresh()  # not stuck yet: decides with the current policy
    assert len(in_force) == 1
    mono["t"] += 61
    with caplog.at_level(logging.ERROR, logger="guardrails_plugin.policy.watch"):
        _in_thread(live.refresh)
    assert [p.digest for p in in_force[1:]] == [sha(DENY_DROP)]
    release.set()
    hung.join(10)
    assert not hung.is_alive() and len(in_force) == 2  # the abandoned check used nothing
    events = [r.event for r in store.audit_rows()]
    assert events.count(Event.POLICY_RELOADED) == 1
    [stuck] = [r for r in store.audit_rows() if r.event == Event.POLICY_RELOAD_FAILED]
    assert stuck.data["why"] == "policy check stuck"
    assert any("has not returned" in r.getMessage() for r in caplog.records)
    store.close()
