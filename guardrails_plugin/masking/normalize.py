"""Undo common evasions before detection, keeping a map back to the original offsets.

Zero-width and other invisible format characters are dropped, fullwidth and other compatibility
forms are folded (NFKC), and Cyrillic/Greek letters that look like Latin ones are mapped to
Latin. Detectors run on the folded text; `Folded.span` maps what they find back onto the
original, so the original characters are what gets masked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from guardrails_plugin.confusables import HOMOGLYPHS

__all__ = ["Folded", "fold"]


@dataclass(frozen=True)
class Folded:
    """Folded text; ``offsets[i]`` is the original index of folded character ``i``."""

    text: str
    offsets: tuple[int, ...] | None  # None: identical to the original
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` covering folded ``[start, end)``."""
        if self.offsets is None:
            return start, end
        if start >= len(self.offsets):
            return self.original_length, self.original_length
        first = self.offsets[start]
        last = self.offsets[end - 1] + 1 if end > start else first
        # Pull in invisible characters that sat inside the span in the original.
        return first, max(last, first)


def _needs_folding(text: str) -> bool:
    return not text.isascii()


def fold(text: str) -> Folded:
    if not _needs_folding(text):
        return Folded(text, None, len(text))
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            out.append(ch)
            offsets.append(i)
            continue
        category = unicodedata.category(ch)
        if category == "Cf" or ch in "\u00ad\u034f\u115f\u1160\u3164\uffa0":
            continue  # invisible: zero-width space/joiners, bidi controls, soft hyphen, tags
        folded = unicodedata.normalize("NFKC", ch).translate(HOMOGLYPHS)
        if len(folded) != 1:
            # Ligatures and the like expand; keep the original character for alignment.
            folded = ch.translate(HOMOGLYPHS)
        out.append(folded)
        offsets.append(i)
    folded_text = "".join(out)
    if folded_text == text:
        return Folded(text, None, len(text))
    return Folded(folded_text, tuple(offsets), len(text))
