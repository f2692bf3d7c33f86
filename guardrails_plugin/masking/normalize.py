"""Undo common evasions before detection, keeping a map back to the original offsets.

Zero-width and other invisible format characters are dropped, fullwidth and other compatibility
forms are folded (NFKC), and Cyrillic/Greek letters that look like Latin ones are mapped to
Latin. Detectors run on the folded text; `Folded.span` maps what they find back onto the
original, so the original characters are what gets masked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["Folded", "fold"]

# Letters that render like Latin ones (UTS #39 confusables, the common subset).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a",
        "в": "B",
        "е": "e",
        "к": "k",
        "м": "M",
        "н": "H",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "T",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ɡ": "g",
        "һ": "h",
        "ӏ": "l",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
        "У": "Y",
        "І": "I",
        "Ј": "J",
        "Ѕ": "S",
        "α": "a",
        "ο": "o",
        "ρ": "p",
        "ν": "v",
        "ι": "i",
        "κ": "k",
        "τ": "t",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Η": "H",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Χ": "X",
        "Υ": "Y",
        "Ζ": "Z",
    }
)


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
        folded = unicodedata.normalize("NFKC", ch).translate(_HOMOGLYPHS)
        if len(folded) != 1:
            # Ligatures and the like expand; keep the original character for alignment.
            folded = ch.translate(_HOMOGLYPHS)
        out.append(folded)
        offsets.append(i)
    folded_text = "".join(out)
    if folded_text == text:
        return Folded(text, None, len(text))
    return Folded(folded_text, tuple(offsets), len(text))
