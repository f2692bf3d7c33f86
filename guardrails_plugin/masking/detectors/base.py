"""The detector interface and the one registry every detector goes through, built-in or not."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from guardrails_plugin.masking.spans import Span

__all__ = ["Cell", "Detector", "Leaf", "detectors", "register_detector", "unregister_detector"]


@dataclass(frozen=True, slots=True)
class Cell:
    """A value inside a text whose key is known: ``key=value``, a CSV column, a header."""

    start: int
    end: int
    key: str


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
    siblings: frozenset[str] = frozenset()


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
