"""A time budget for masking one payload, checked cooperatively.

One regular-expression call or one NER batch cannot be interrupted, so the budget is checked
between units of work: between leaves, between detectors, between the patterns of a built-in
detector, between NER batches. Each unit is linear in the text it reads (docs/masking.md,
"Cost"), so a call stops at most one unit after its budget ran out, and raises `MaskingTimeout`,
which the guard turns into a denial.

A detector of your own can call `checkpoint()` between expensive steps; outside a masking call
it does nothing.

    with Budget(seconds=10.0, clock=time.monotonic).running():
        ...                       # masker code
        checkpoint("detector 'ner'")
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from guardrails_plugin.errors import MaskingTimeout

__all__ = [
    "DEFAULT_DEADLINE_SECONDS",
    "LONG_TEXT",
    "Budget",
    "Monotonic",
    "checkpoint",
    "checkpoint_long",
    "paused",
]

# Masking runs at 0.15-0.3 MB/s on ordinary tool output and at >= 0.1 MB/s on the worst
# adversarial text measured (BENCHMARKS.md, "Masking under attack"): 10 s covers a few MB of
# ordinary text and stops an attacker's payload long before an agent's own tool timeouts.
DEFAULT_DEADLINE_SECONDS = 10.0

Monotonic = Callable[[], float]
"""A clock for deadlines: seconds from any fixed point, never going backwards."""

_current: ContextVar[Budget | None] = ContextVar("guardrails_masking_budget", default=None)


class Budget:
    """``seconds`` of ``clock`` time from now; ``None`` means no limit."""

    def __init__(self, seconds: float | None, clock: Monotonic = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._started = clock()
        self._expires = math.inf if seconds is None else self._started + seconds

    def check(self, stage: str, *args: object) -> None:
        """Raise `MaskingTimeout` past the deadline. ``stage % args`` says where masking was;
        it is formatted only then (this runs once per string of every payload)."""
        now = self._clock()
        if now > self._expires:
            assert self.seconds is not None  # an unlimited budget never expires
            stage = stage % args if args else stage
            raise MaskingTimeout(
                f"masking took longer than its {self.seconds:g} s deadline "
                f"({now - self._started:.2f} s, stopped at {stage}); the payload was not "
                "checked. Send less data, or raise Masker(deadline_seconds=...)",
                seconds=self.seconds,
                stage=stage,
            )

    def extend(self, seconds: float) -> None:
        self._expires += seconds

    @contextmanager
    def running(self) -> Iterator[Budget]:
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    @property
    def clock(self) -> Monotonic:
        return self._clock


def checkpoint(stage: str, *args: object) -> None:
    """Raise `MaskingTimeout` if the current masking call is over its budget."""
    budget = _current.get()
    if budget is not None:
        budget.check(stage, *args)


# Strings at least this long get checkpoints between the patterns of a built-in detector too
# (shorter ones are checked between slices of strings by the masker).
LONG_TEXT = 65_536


def checkpoint_long(text: str, detector: str, step: str) -> None:
    """`checkpoint` for a step of ``detector`` over ``text``, if ``text`` is long."""
    if len(text) >= LONG_TEXT and _current.get() is not None:
        checkpoint("detector %r, %s, on %d characters", detector, step, len(text))


@contextmanager
def paused() -> Iterator[None]:
    """Time spent inside does not count: one-off work such as loading the spaCy model, which
    would otherwise deny the first call of a slow-starting process."""
    budget = _current.get()
    if budget is None:
        yield
        return
    started = budget.clock()
    try:
        yield
    finally:
        budget.extend(budget.clock() - started)
