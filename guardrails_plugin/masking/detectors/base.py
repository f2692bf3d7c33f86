"""The detector interface and the one registry every detector goes through, built-in or not."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from guardrails_plugin.masking.spans import Span

__all__ = [
    "NO_SIBLINGS",
    "Cell",
    "Detector",
    "Leaf",
    "Siblings",
    "detectors",
    "register_detector",
    "unregister_detector",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Cell:
    """A value inside a text whose key is known: ``key=value``, a CSV column, a header."""

    start: int
    end: int
    key: str


class Siblings(frozenset[str]):
    """The keys of the mapping a value sits in: one object shared by all the mapping's values.

    A detector that reads something from the whole set (are these a product's keys?) asks
    `once`, so a mapping of n keys costs n steps once, not n per value: n² in all, which a
    hostile payload of 6,000 keys turns into minutes. It compares and hashes as the plain set.
    """

    __slots__ = ("_memo",)
    _memo: dict[Callable[[frozenset[str]], Any], Any]

    def __new__(cls, keys: Iterable[str] = ()) -> Siblings:
        self = super().__new__(cls, keys)
        self._memo = {}
        return self

    def once(self, work: Callable[[frozenset[str]], _T]) -> _T:
        """``work(self)``, worked out on the first call for this mapping only."""
        try:
            return self._memo[work]  # type: ignore[no-any-return]
        except KeyError:
            result = self._memo[work] = work(self)
            return result


NO_SIBLINGS = Siblings()


@dataclass
class Leaf:
    """One string to scan, with what the structure around it says.

    ``key`` is the nearest mapping key (``email`` for ``{"email": ...}``), ``parents`` the keys
    above it; ``cells`` are keyed values found inside the text itself. Detectors read ``text``
    (already folded against evasion) and return spans in its coordinates. ``found`` holds what
    the cheap detectors already found, so batched (expensive) ones can skip those parts.
    ``siblings`` are the other keys of the mapping the value sits in.
    """

    text: str
    key: str | None = None
    parents: tuple[str, ...] = ()
    cells: list[Cell] = field(default_factory=list)
    found: list[Span] = field(default_factory=list)
    siblings: Siblings = NO_SIBLINGS


@runtime_checkable
class Detector(Protocol):
    """Finds spans in leaves. ``batched`` detectors get every leaf of a payload at once (NER)."""

    name: str
    batched: bool

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        """One list of spans per leaf, in the leaf's text coordinates."""
        ...


_lock = threading.Lock()
_registry: dict[str, Detector] = {}


def register_detector(detector: Detector, *, replace: bool = False) -> Detector:
    """Add a detector to every `Masker` created afterwards (unless it picks its own list)."""
    if not isinstance(detector, Detector):
        raise TypeError(f"{detector!r} does not implement the Detector interface")
    with _lock:
        if detector.name in _registry and not replace:
            raise ValueError(f"a detector named {detector.name!r} is already registered")
        _registry[detector.name] = detector
    return detector


def unregister_detector(name: str) -> None:
    with _lock:
        _registry.pop(name, None)


def detectors() -> list[Detector]:
    with _lock:
        return list(_registry.values())
