"""Async waiters share one watcher per store and loop, and still fail closed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.approvals.watcher import watcher_for
from guardrails_plugin.errors import ApprovalTimeout, StoreError
from guardrails_plugin.store import Status
from guardrails_plugin.store.factory import open_store

from ..helpers import KEY, make_request


def test_a_thousand_waiters_share_one_watcher_task(store, policy, store_url):
    broker = ApprovalBroker(store, policy, max_pending_per_principal=2000)
    requests = [make_request(broker, "restart", {"n": i}, call_id=f"c{i}") for i in range(1000)]

    def approve_all() -> None:
        other = open_store(store_url, key=KEY)
        voter = ApprovalBroker(other, policy)
        for r in requests:
            voter.vote(r.id, "cli:bob", "approve", revision=0)
        other.close()

    async def main() -> list[Status]:
        before = len(asyncio.all_tasks())
        waits = [asyncio.ensure_future(broker.wait_async(r.id)) for r in requests]
        await asyncio.sleep(0.05)
        # 1,000 waiter coroutines, but one watcher task polling the store.
        watcher = watcher_for(store, broker.clock, broker.poll_interval)
        assert len(watcher.waiters) == 1000
        assert len(asyncio.all_tasks()) == before + 1000 + 1
        threading.Thread(target=approve_all).start()
        done = await asyncio.wait_for(asyncio.gather(*waits), timeout=60)
        return [r.status for r in done]

    assert asyncio.run(main()) == [Status.APPROVED] * 1000


def test_async_expiry_with_a_frozen_clock(broker, clock):
    request = make_request(broker)

    async def main():
        waiting = asyncio.ensure_future(broker.wait_async(request.id))
        await asyncio.sleep(0.02)
        clock.advance(3600)
        return await asyncio.wait_for(waiting, timeout=10)

    assert asyncio.run(main()).status is Status.EXPIRED


def test_async_deadline_raises_and_leaves_pending(broker, clock):
    request = make_request(broker)

    async def main():
        return await asyncio.wait_for(
            broker.wait_async(request.id, deadline=clock.now() + 1), timeout=10
        )

    with pytest.raises(ApprovalTimeout):
        asyncio.run(main())
    assert broker.get(request.id).status is Status.PENDING


def test_a_store_failure_reaches_every_waiter(broker, store):
    requests = [make_request(broker, "restart", {"n": i}, call_id=f"c{i}") for i in range(3)]

    async def main():
        waits = [asyncio.ensure_future(broker.wait_async(r.id)) for r in requests]
        await asyncio.sleep(0.02)

        def broken() -> int:
            raise StoreError("disk on fire")

        store.change_token = broken
        return await asyncio.gather(*waits, return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, StoreError) for r in results)


def test_already_decided_returns_at_once(broker):
    request = make_request(broker, "restart", {"service": "x"})
    broker.vote(request.id, "cli:bob", "deny", reason="no")
    assert asyncio.run(broker.wait_async(request.id)).status is Status.DENIED


def test_settled_reads_the_decided_requests_whole_and_nothing_pending(store, broker):
    """The watcher's one query per wake: every decided request among the ids, as `get_request`
    reads it; pending and unknown ids are left out (across SQLite's IN-list chunks too)."""
    broker.max_pending = 2000
    requests = [make_request(broker, "restart", {"n": i}, call_id=f"s{i}") for i in range(1200)]
    broker.vote(requests[0].id, "cli:bob", "approve", revision=0)
    broker.vote(requests[1100].id, "cli:bob", "deny", reason="no", revision=0)
    ids = [r.id for r in requests] + ["req_unknown"]
    settled = store.settled(ids)
    assert set(settled) == {requests[0].id, requests[1100].id}
    for request_id, request in settled.items():
        assert request == store.get_request(request_id)
    assert settled[requests[1100].id].status is Status.DENIED
    assert store.settled([]) == {}


def test_a_pending_request_whose_expiry_moved_does_not_keep_the_watcher_busy(
    store, policy, backend
):
    """Review of issue 15: the async watcher kept the expiry a wait started with. Once an edit
    moved the request's expiry later (an edit landing on another rule restarts its timeout),
    every loop past the old expiry took the write lock to expire a request that was not due —
    on PostgreSQL, where the loop sleeps until the nearest expiry, thousands of locked
    transactions a second, competing with every host's votes."""
    import dataclasses

    from guardrails_plugin.approvals.watcher import Watcher
    from guardrails_plugin.clock import SystemClock

    broker = ApprovalBroker(store, policy)
    request = make_request(broker, "restart", {"n": 1})
    clock = SystemClock()
    started_with = dataclasses.replace(request, expires_at=clock.now() - 1)  # before the edit
    watcher = Watcher(store, clock, poll_interval=0.05)

    async def main() -> None:
        with pytest.raises(ApprovalTimeout):
            await watcher.wait(started_with, deadline=clock.now() + 1.0)

    asyncio.run(main())
    assert store.get_request(request.id).status is Status.PENDING  # not expired: not due
    assert watcher.polls < 40  # one second: ~20 polls at 0.05 s on SQLite, a few on NOTIFY
