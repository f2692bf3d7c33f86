"""Spans found in one string, and how overlapping candidates are settled."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Span", "resolve"]


@dataclass(frozen=True, slots=True)
class Span:
    """A candidate: ``text[start:end]`` looks like ``label``. Higher ``score`` wins overlaps."""

    start: int
    end: int
    label: str
    detector: str
    score: float = 0.8

    def __len__(self) -> int:
        return self.end - self.start


def resolve(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: best score first, then longest; the result is in text order.

    A validated or context-backed detection (higher score) beats a guess; between equals, the
    longer span hides more, which is the safe choice.
    """
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if span.end <= span.start:
            continue
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
