"""Observers: what tracing and metrics hear of a guarded call. They never decide anything.

A `Guard` tells its observers (``Guard(observers=[...])``; by default the OpenTelemetry one when
``opentelemetry-api`` is installed, see `default_observers`) about each call through one
`CallWatch` per observer:

    start(tool, call_id, run_id) -> CallWatch   the call enters the guard
      enter()                                  the watch may make itself current (a span)
      evaluated(decision, data_classes)        policy and masker have spoken
      waiting(request)                         an approval was requested; the wait starts
      decided(request, votes)                  the wait ended (decided, expired, or cancelled)
      finished(outcome) | interrupted(exc)     the call ended, or the framework took over
      exit()                                   always last

What a watch is given is what the audit log holds: masked data, data class names, ids — never an
argument or output value. A watch that raises is logged and ignored: an observer may not change
a decision or keep a call from ending (CONVENTIONS 8: tracers swallow errors, the guard fails
closed). `follow` wraps a flow (`Guard.flow`) so the drivers need not know observers exist.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from guardrails_plugin.flow import Execute, Flow, Outcome, Wait
from guardrails_plugin.store.records import ApprovalRequest, Vote
from guardrails_plugin.types import Decision

__all__ = ["NO_WATCH", "CallWatch", "Observer", "Observers", "Watch", "default_observers"]

log = logging.getLogger(__name__)


class CallWatch(Protocol):
    """One observer's view of one guarded call; see the module docstring for the order."""

    def enter(self) -> None: ...

    def evaluated(self, decision: Decision, data_classes: Sequence[str]) -> None: ...

    def waiting(self, request: ApprovalRequest) -> None: ...

    def decided(self, request: ApprovalRequest, votes: Sequence[Vote]) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...

    def interrupted(self, exc: BaseException) -> None: ...

    def exit(self) -> None: ...


class Observer(Protocol):
    """Hears every call a Guard checks: `start` gives the call's watch."""

    def start(self, tool: str, call_id: str | None, run_id: str) -> CallWatch: ...


class Watch:
    """All observers' watches of one call, each told in turn; their errors are logged."""

    def __init__(self, watches: Sequence[CallWatch], votes: Callable[[str], list[Vote]]) -> None:
        self.watches = tuple(watches)
        self._votes = votes

    def _tell(self, method: str, *args: Any) -> None:
        for watch in self.watches:
            try:
                getattr(watch, method)(*args)
            except Exception as exc:  # noqa: BLE001 - an observer never changes the outcome
                log.warning("observer %s.%s failed: %s", type(watch).__name__, method, exc)

    def evaluated(self, decision: Decision, data_classes: Sequence[str]) -> None:
        self._tell("evaluated", decision, tuple(data_classes))

    def follow(self, flow: Flow) -> Flow:
        """``flow``, with every step and its outcome told to the watches."""
        if not self.watches:
            return flow
        return self._follow(flow)

    def _follow(self, flow: Flow) -> Flow:
        """Delegates to ``flow`` as ``yield from`` would (what the driver throws in, such as a
        framework's interrupt mid-call, reaches the flow, which gives an approval's claim
        back), telling the watches what passes."""
        self._tell("enter")
        try:
            reply: Any = None
            thrown: BaseException | None = None
            while True:
                try:
                    step = flow.send(reply) if thrown is None else flow.throw(thrown)
                except StopIteration as stop:
                    outcome: Outcome = stop.value
                    self._tell("finished", outcome)
                    return outcome
                except BaseException as exc:  # the flow passes the framework's exception on
                    self._tell("interrupted", exc)
                    raise
                thrown = None
                if isinstance(step, Wait):
                    self._tell("waiting", step.request)
                try:
                    reply = yield step
                except GeneratorExit:
                    if isinstance(step, Execute):  # decided, not run (`Guard.authorize`)
                        self._tell(
                            "finished", Outcome(True, None, "", step.decision, step.request_id)
                        )
                    else:
                        self._tell("interrupted", GeneratorExit())
                    flow.close()
                    raise
                except BaseException as exc:  # noqa: BLE001 - not caught: handed on to the flow
                    thrown = exc
                    continue
                if isinstance(step, Wait) and isinstance(reply, ApprovalRequest):
                    self._tell("decided", reply, self._read_votes(reply.id))
        finally:
            self._tell("exit")

    def _read_votes(self, request_id: str) -> list[Vote]:
        try:
            return self._votes(request_id)
        except Exception as exc:  # noqa: BLE001 - the trace misses the votes, nothing else
            log.warning("could not read the votes of request %s for observers: %s", request_id, exc)
            return []


class Observers:
    """A Guard's observers; `start` gives the fan-out watch of one call."""

    def __init__(self, observers: Iterable[Observer], votes: Callable[[str], list[Vote]]) -> None:
        self.observers = tuple(observers)
        self._votes = votes

    def start(self, tool: str, call_id: str | None, run_id: str) -> Watch:
        watches = []
        for observer in self.observers:
            try:
                watches.append(observer.start(tool, call_id, run_id))
            except Exception as exc:  # noqa: BLE001
                log.warning("observer %s failed to start: %s", type(observer).__name__, exc)
        return Watch(watches, self._votes)


NO_WATCH = Watch((), lambda _request_id: [])


def default_observers() -> list[Observer]:
    """The OpenTelemetry observer when ``opentelemetry-api`` is installed, else none. Spans and
    metrics go wherever the application configured its providers; without one, the API's
    no-op providers drop them."""
    try:
        if importlib.util.find_spec("opentelemetry") is None:
            return []
    except ImportError:  # not importable here (a finder refuses it): not installed for us
        return []
    try:
        from guardrails_plugin.integrations.otel import OpenTelemetryObserver
    except (ImportError, ValueError) as exc:  # a broken install: the guard works without tracing
        log.warning("OpenTelemetry is installed but could not be loaded: %s", exc)
        return []
    return [OpenTelemetryObserver()]
