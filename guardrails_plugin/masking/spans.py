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


def _priority(span: Span) -> tuple[float, int, int]:
    return (-span.score, span.start - span.end, span.start)


def resolve(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: best score first, then longest; the result is in text order.

    A validated or context-backed detection (higher score) beats a guess; between equals, the
    longer span hides more, which is the safe choice.

    Cost: one sort, then each candidate's characters are looked up (and a chosen span's marked)
    in a byte per text position, so O(k log k + total candidate length) for k candidates. Each
    detector's candidates for one string barely overlap one another, so the total length is a
    small multiple of the text's (it was all-pairs, quadratic in k, before).
    """
    if len(spans) <= 1:
        return [s for s in spans if 0 <= s.start < s.end]
    taken = bytearray(max(s.end for s in spans))
    chosen: list[Span] = []
    for span in sorted(spans, key=_priority):
        start, end = span.start, span.end
        if start < 0 or end <= start or taken.find(1, start, end) >= 0:
            continue
        taken[start:end] = b"\x01" * (end - start)
        chosen.append(span)
    chosen.sort(key=lambda s: s.start)
    return chosen
