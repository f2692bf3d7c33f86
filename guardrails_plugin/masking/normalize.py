"""Undo common evasions before detection, keeping a map back to the original offsets.

Each character is folded as `guardrails_plugin.confusables` says: invisible characters and
combining marks are dropped, compatibility forms (fullwidth, mathematical, ligatures) and
accents undone, and look-alike letters from other scripts mapped to the ASCII they imitate
(Unicode's confusables data). Detectors run on the folded text; `Folded.span` maps what they
find back onto the original, so the original characters are what gets masked.

Cost: ASCII stretches are copied as they are; the rest goes through one ``str.translate`` per
stretch, and character by character only where a character folds to nothing or to several.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guardrails_plugin.confusables import HOMOGLYPHS, IRREGULAR

__all__ = ["Folded", "fold"]

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@dataclass(frozen=True)
class Folded:
    """Folded text; ``offsets[i]`` is the original index of folded character ``i``."""

    text: str
    offsets: tuple[int, ...] | None  # None: identical to the original
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` covering folded ``[start, end)``, with the marks and
        invisible characters that follow its last character in the original."""
        if self.offsets is None:
            return start, end
        if start >= len(self.offsets):
            return self.original_length, self.original_length
        first = self.offsets[start]
        if end <= start:
            return first, first
        if end < len(self.offsets):
            last = self.offsets[end]
            # A character the folded span ends inside (a ligature) is masked whole.
            if last == self.offsets[end - 1]:
                last += 1
        else:
            last = self.original_length
        return first, max(last, first)


def fold(text: str) -> Folded:
    if text.isascii():
        return Folded(text, None, len(text))
    out: list[str] = []
    offsets: list[int] = []
    done = 0
    for m in _NON_ASCII.finditer(text):
        start, end = m.span()
        out.append(text[done:start])
        offsets.extend(range(done, start))
        run = m.group()
        folded = run.translate(HOMOGLYPHS)
        if len(folded) == len(run) and IRREGULAR.isdisjoint(map(ord, run)):
            out.append(folded)
            offsets.extend(range(start, end))
        else:
            for i, ch in enumerate(run, start):
                piece = HOMOGLYPHS[ord(ch)]
                out.append(piece)
                offsets.extend([i] * len(piece))
        done = end
    out.append(text[done:])
    offsets.extend(range(done, len(text)))
    folded_text = "".join(out)
    if folded_text == text:
        return Folded(text, None, len(text))
    return Folded(folded_text, tuple(offsets), len(text))
