"""Characters folded to the ASCII a reader sees: for comparing tool names and for scanning text
(the masker's detection copy).

A character folds to:
- nothing, if it is invisible (format characters such as zero-width spaces and bidi controls,
  soft hyphens, Hangul fillers) or a combining mark (``é`` written as ``e`` + U+0301, an
  overline on a digit, stacked "zalgo" marks): marks hide values from patterns, not from
  readers;
- its compatibility decomposition, marks removed (NFKD: fullwidth ``ｅ``, mathematical ``𝐞``,
  circled ``ⓔ``, ligatures ``ﬁ``, accented ``é``), when that is one character or plain ASCII;
- an ASCII digit, for a decimal digit of any script (``٤``, ``४``);
- the ASCII look-alike that Unicode's confusables data (UTS #39, via the
  ``confusable-homoglyphs`` package) gives for it, of the same kind: a letter for a letter
  (Cyrillic ``а``, Greek ``ο``, Armenian ``օ``, Cherokee ``Ꭺ``, Lisu ``ꓐ``), a digit for a digit,
  punctuation for punctuation (so Cyrillic ``З`` does not become ``3``, and a name stays
  letters); a letter keeps its case where the data allows (Cyrillic ``в`` looks like a small
  capital B: ``b``);
- the base letter of a Latin letter Unicode names as one (``ł`` LATIN SMALL LETTER L WITH STROKE,
  ``ᴅ`` LATIN LETTER SMALL CAPITAL D), which the confusables data leaves alone;
- itself, otherwise (most of Greek, Cyrillic, CJK, ...). Hangul syllables are kept whole.

`HOMOGLYPHS` is a ``str.translate`` table over all of Unicode, filled lazily: each code point is
worked out once, on first sight. `fold` applies it to a string.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources
from typing import Any

__all__ = ["HOMOGLYPHS", "IRREGULAR", "fold", "fold_char", "preload"]

# Invisible characters that are not in category Cf.
_INVISIBLE = frozenset("\u00ad\u034f\u115f\u1160\u3164\uffa0")
_MARKS = frozenset(("Mn", "Me"))
_LATIN_NAME = re.compile(
    r"^(?:[A-Z ]+ )?LATIN (?:(?P<case>SMALL|CAPITAL) LETTER (?:DOTLESS )?"
    r"|(?P<small_capital>LETTER SMALL CAPITAL ))(?P<letter>[A-Z])(?P<with> WITH .+)?$"
)
_DIRECTION_MARKS = "\u200e\u200f"
# Every code point seen is remembered; beyond this many (an attacker sending all of Unicode),
# new ones are computed each time instead: slower, never unbounded memory.
_MAX_ENTRIES = 200_000


@functools.lru_cache(maxsize=1)
def _confusables() -> dict[str, list[str]]:
    """Character -> the characters the Unicode confusables data says it looks like."""
    data_file = resources.files("confusable_homoglyphs").joinpath("confusables.json")
    raw: dict[str, list[dict[str, Any]]] = json.loads(data_file.read_text(encoding="utf-8"))
    return {
        ch: [entry["c"].strip(_DIRECTION_MARKS) for entry in entries]
        for ch, entries in raw.items()
        if len(ch) == 1
    }


def preload() -> None:
    """Read the confusables data now (~50 ms) rather than on the first non-ASCII text."""
    _confusables()


def _latin_letter(ch: str, *, small_capital_only: bool = False) -> str | None:
    """``x`` for a character Unicode names as a form of the Latin letter X (``ł``, ``ᴅ``)."""
    m = _LATIN_NAME.match(unicodedata.name(ch, ""))
    if m is None or (small_capital_only and not m.group("small_capital")):
        return None
    letter = m.group("letter")
    return letter if m.group("case") == "CAPITAL" else letter.lower()


def _same_kind(category: str, target: str) -> bool:
    if category[0] == "L" and category != "Lm":
        return target.isalpha()
    if category[0] == "N":
        return target.isdigit()
    if category == "Lm":
        return not target.isdigit()
    return category[0] in "PSZ" and not target.isalnum()


def _ascii_candidates(similar: Iterable[str], category: str) -> list[str]:
    out = [c for c in similar if len(c) == 1 and c.isascii() and c.isprintable()]
    # Small capitals read as their letter: Cyrillic 'в' is listed only as looking like 'ʙ'.
    # (Not other Latin letters: Greek 'ε' is listed as 'ꞓ', C WITH BAR, and reads as no c.)
    out += [
        b
        for c in similar
        if len(c) == 1 and (b := _latin_letter(c, small_capital_only=True)) is not None
    ]
    return [c for c in out if _same_kind(category, c)]


def _look_alike(ch: str, category: str) -> str | None:
    """The ASCII character of the same kind that ``ch`` is confusable with, if any: among what
    the data lists for it, else among what it lists for those (Cyrillic 'к' is listed as 'ĸ',
    which is listed as small capital 'ᴋ'). A letter keeps its case where the data allows
    (Greek 'Ι' is listed as 'l', and 'l' as looking like 'I')."""
    data = _confusables()
    first = data.get(ch, [])
    second = [c for s in first for c in data.get(s, ()) if c != ch]
    near, far = _ascii_candidates(first, category), _ascii_candidates(second, category)
    if category in ("Lu", "Ll"):
        upper = category == "Lu"
        for c in (*near, *far):
            if c.isupper() == upper:
                return c
    return near[0] if near else far[0] if far else None


# Where the data's choice reads differently from the letter a reader sees in a name: the
# palochka is listed with 'i' but drawn as a bare stroke ('deӏete_db').
_OVERRIDES = {"ӏ": "l"}


def _fold_one(ch: str) -> str:
    """The fold of a character that has no decomposition (or is part of one)."""
    if ch.isascii():
        return ch
    category = unicodedata.category(ch)
    if category in _MARKS or category == "Cf" or ch in _INVISIBLE:
        return ""
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    return _OVERRIDES.get(ch) or _look_alike(ch, category) or _latin_letter(ch) or ch


def fold_char(ch: str) -> str:
    """What one character folds to: "" (invisible or a mark), one character, or a short ASCII
    string (``ﬁ`` -> ``fi``)."""
    if ch.isascii():
        return ch
    if "\uac00" <= ch <= "\ud7a3":
        return ch  # a Hangul syllable decomposes into its letters, which no reader sees
    decomposed = unicodedata.normalize("NFKD", ch)
    if decomposed != ch:
        folded = "".join(_fold_one(c) for c in decomposed)
        if len(folded) <= 1 or folded.isascii():
            return folded
    return _fold_one(ch)


IRREGULAR: set[int] = set()
"""Code points seen so far whose fold is not exactly one character."""


class _FoldTable(dict[int, str]):
    """``str.translate`` table: code point -> its fold, worked out on first lookup."""

    def __missing__(self, code_point: int) -> str:
        folded = fold_char(chr(code_point))
        if len(folded) != 1:
            IRREGULAR.add(code_point)
        if len(self) < _MAX_ENTRIES:
            self[code_point] = folded
        return folded


HOMOGLYPHS: dict[int, str] = _FoldTable()
"""``text.translate(HOMOGLYPHS)`` folds ``text`` (see the module docstring)."""


def fold(text: str) -> str:
    """``text`` as a reader sees it: invisible characters and marks gone, look-alikes made
    ASCII. Lengths can change; `guardrails_plugin.masking.normalize` keeps the offsets."""
    return text if text.isascii() else text.translate(HOMOGLYPHS)
