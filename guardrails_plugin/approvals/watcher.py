"""One asyncio watcher per store and event loop, shared by every async waiter.

The watcher polls the store's change counter (microseconds per poll) and, when something
changed or a deadline came due, reads every watched request that was decided in one query. A
thousand suspended runs cost one task and one query per change, not a thousand threads. On a
store that notifies (PostgreSQL's LISTEN/NOTIFY) the watcher sleeps until told or until the
next deadline, instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from dataclasses import dataclass, field

from guardrails_plugin.approvals import lifecycle
from guardrails_plugin.clock import Clock
from guardrails_plugin.errors import ApprovalTimeout
from guardrails_plugin.store.protocol import Store, real_time_waits
from guardrails_plugin.store.records import ApprovalRequest

__all__ = ["Watcher", "watcher_for"]

_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Watcher]] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class _Waiter:
    future: asyncio.Future[ApprovalRequest]
    expires_at: float
    deadline: float | None


@dataclass
class Watcher:
    store: Store
    clock: Clock
    poll_interval: float
    waiters: dict[str, list[_Waiter]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    polls: int = 0

    async def wait(self, request: ApprovalRequest, deadline: float | None) -> ApprovalRequest:
        future: asyncio.Future[ApprovalRequest] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(future, request.expires_at, deadline)
        self.waiters.setdefault(request.id, []).append(waiter)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        try:
            return await future
        finally:
            remaining = [w for w in self.waiters.get(request.id, []) if w is not waiter]
            if remaining:
                self.waiters[request.id] = remaining
            else:
                self.waiters.pop(request.id, None)

    async def _run(self) -> None:
        notifier = real_time_waits(self.store, self.clock)
        if notifier is None:
            await self._loop(None)
            return
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:  # called from the store's listener thread
            loop.call_soon_threadsafe(woken.set)

        unsubscribe = notifier.on_change(wake)
        try:
            await self._loop(woken)
        finally:
            unsubscribe()

    async def _loop(self, woken: asyncio.Event | None) -> None:
        token = None
        while self.waiters:
            try:
                current = self.store.change_token()
                now = self.clock.now()
                due = any(
                    now >= w.expires_at or (w.deadline is not None and now >= w.deadline)
                    for ws in self.waiters.values()
                    for w in ws
                )
                if current != token or due:
                    token = current
                    self._check(now)
            except Exception as exc:  # noqa: BLE001 - every waiter must hear of it: they deny
                for ws in self.waiters.values():
                    for w in ws:
                        if not w.future.done():
                            w.future.set_exception(exc)
                self.waiters.clear()
                return
            self.polls += 1
            if woken is None:
                await self.clock.sleep_async(self.poll_interval)
            else:
                # asyncio.timeout, not wait_for: no extra task per sleep.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._until_due()):
                        await woken.wait()
                woken.clear()

    def _until_due(self) -> float:
        """Seconds until the nearest expiry or wait deadline of a watched request."""
        due = [
            t
            for ws in self.waiters.values()
            for w in ws
            for t in (w.expires_at, w.deadline)
            if t is not None
        ]
        return max(0.0, min(due, default=self.poll_interval) - self.clock.now())

    def _check(self, now: float) -> None:
        ids = list(self.waiters)
        settled = self.store.settled(ids)  # one query for every decided request, not one each
        for request_id in ids:
            waiters = [w for w in self.waiters.get(request_id, []) if not w.future.done()]
            if not waiters:
                continue
            request: ApprovalRequest | None = settled.get(request_id)
            if request is None and now >= waiters[0].expires_at:
                request = lifecycle.expire(self.store, request_id, now) or self.store.get_request(
                    request_id
                )
            if request is not None and request.terminal:
                for w in waiters:
                    w.future.set_result(request)
                continue
            if request is not None:  # still pending: an edit may have moved its expiry
                for w in waiters:
                    w.expires_at = request.expires_at
            for w in waiters:
                if w.deadline is not None and now >= w.deadline:
                    w.future.set_exception(
                        ApprovalTimeout(
                            f"no decision on approval request {request_id} before the wait "
                            "deadline",
                            request_id,
                        )
                    )


def watcher_for(store: Store, clock: Clock, poll_interval: float) -> Watcher:
    """The watcher of ``store`` on the running loop, created on first use."""
    loop = asyncio.get_running_loop()
    per_loop = _watchers.setdefault(loop, {})
    watcher = per_loop.get(id(store))
    if watcher is None or watcher.store is not store:
        watcher = Watcher(store, clock, poll_interval)
        per_loop[id(store)] = watcher
    return watcher
