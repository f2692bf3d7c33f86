"""Injected time. Every timestamp and every wait in the package goes through a `Clock`, so tests
can move time instead of sleeping."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol

__all__ = ["Clock", "FrozenClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...

    async def sleep_async(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    async def sleep_async(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FrozenClock:
    """A clock that moves only when told to, or when someone sleeps on it.

    Sleeping advances the time by the amount slept (and yields briefly to other threads), so a
    wait with a deadline ends after a bounded number of polls, without real waiting.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            self._now = float(when)

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        time.sleep(0.0005)

    async def sleep_async(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0.0005)
