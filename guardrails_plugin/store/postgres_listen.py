"""One LISTEN connection per store, shared by every waiter in the process.

A background thread holds a connection that ``LISTEN``s on the channel the schema's triggers
``NOTIFY`` when a request or a vote changes, and counts the notifications. Sync waiters block
on a condition until the count moves; async waiters get a callback on their event loop. So a
waiting process costs the database one idle connection, not a query per waiter per tick.

Safety net: the count also moves every ``safety_interval`` seconds and whenever the connection
is (re)established, so a notification lost while the connection was down (or a database that
cannot NOTIFY) delays a waiter by at most that long; it never strands one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import psycopg

from guardrails_plugin.store.postgres_schema import CHANNEL
from guardrails_plugin.store.urls import mask_url

__all__ = ["ChangeFeed"]

log = logging.getLogger(__name__)


class ChangeFeed:
    def __init__(self, conninfo: str, *, safety_interval: float = 2.0) -> None:
        self._conninfo = conninfo
        self.safety_interval = safety_interval
        self._count = 0
        self._cond = threading.Condition()
        self._listeners: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self.connected = threading.Event()

    # --- what waiters use ----------------------------------------------------------------------

    def token(self) -> int:
        self._ensure_started()
        with self._cond:
            return self._count

    def wait(self, token: int, timeout: float) -> int:
        """Block until the count differs from ``token`` or ``timeout`` passes; the count. Never
        longer than the safety interval: the safety bump comes from the listener thread, and a
        waiter must still re-read the store if that thread is gone."""
        self._ensure_started()
        with self._cond:
            bound = min(max(0.0, timeout), self.safety_interval)
            self._cond.wait_for(lambda: self._count != token, timeout=bound)
            return self._count

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from the listener thread) on every change; returns the
        unsubscribe function. Callbacks must be quick and thread-safe."""
        self._ensure_started()
        with self._cond:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._cond, contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    # --- the listener thread -------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="guardrails-pg-listen", daemon=True
            )
            self._thread.start()
        # The first waiter should not miss a change made while LISTEN was being set up; the
        # bump on connect covers that too, this only saves the first waiter a slow tick.
        self.connected.wait(timeout=5.0)

    def _bump(self) -> None:
        with self._cond:
            self._count += 1
            listeners = list(self._listeners)
            self._cond.notify_all()
        for callback in listeners:
            try:
                callback()
            except Exception as exc:  # noqa: BLE001 - one broken waiter must not stop the feed
                log.warning("change listener failed: %s", exc)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    self._conn = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    self._bump()  # whatever changed while we were not listening
                    backoff = 0.1
                    self._listen(conn)
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect, never a dead feed
                if self._stop.is_set():
                    return
                self.connected.clear()
                log.warning(
                    "change feed on %s lost its connection (%s); waiters fall back to the "
                    "%.1fs safety poll until it is back",
                    mask_url(self._conninfo),
                    type(exc).__name__,
                    self.safety_interval,
                )
                self._bump()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.safety_interval)
            finally:
                self._conn = None

    def _listen(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            # A short timeout so close() is heard; notifications between calls are kept.
            for _ in conn.notifies(timeout=min(0.5, self.safety_interval)):
                last = time.monotonic()
                self._bump()
            if time.monotonic() - last >= self.safety_interval:
                last = time.monotonic()
                self._bump()

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        self._thread = None
