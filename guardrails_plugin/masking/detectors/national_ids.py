"""National ids from the catalogue (`guardrails_plugin.masking.national_ids`), three ways:

1. after the id's name in prose ('mój PESEL to …', 'TC Kimlik No: …', '身份证号码：…'): the
   next number-like run is checked by that id's validators. A valid one scores 0.95; one with
   the right shape but a wrong check digit 0.85 (named, it is still someone's number, and
   generated or mistyped data fails checksums);
2. under a key that names an id generically (``personal_id``, ``identity_number``,
   ``citizen_no``): valid for any id of the catalogue. A key naming one id (``pesel``,
   ``tc_kimlik_no``) is settled by key context already (`masking.keys`);
3. alone, only the shapes that are distinctive and carry a strong check (codice fiscale, CPF
   with its dots, PRC resident id, HETU, ...), at 0.85: under an id key such as ``order_id``
   the key's SAFE span (0.92) wins, and an id word just before it ('order', 'ref') vetoes it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

from guardrails_plugin.masking.detectors.base import Cell, Leaf
from guardrails_plugin.masking.keys import normalize_key
from guardrails_plugin.masking.national_ids import (
    CATALOGUE,
    IdKind,
    Verdict,
    find_cues,
    find_keyless,
    kinds_for_cue,
    validate,
)
from guardrails_plugin.masking.spans import Span

__all__ = ["NationalIdDetector"]

# A number-like run after a name: letters and digits, single separators between them. Bounded
# repetition of a fixed-width step, read in a bounded window: linear.
_CANDIDATE = re.compile(r"[A-Za-z0-9](?:[ ./-]?[A-Za-z0-9]){4,30}")
_WINDOW = 40
_MAX_TOKENS = 6
_ID_WORDS_BEFORE = re.compile(
    r"(?i)(?:order|invoice|sku|ref|reference|tracking|ticket|case|serial|build|version|"
    r"transaction|txn|sha|hash|digest|commit|id)[\s:#-]*$"
)
_PERSON_WORDS = {
    "national",
    "citizen",
    "citizenship",
    "personal",
    "person",
    "identity",
    "identification",
    "resident",
    "residence",
    "insured",
    "insurance",
    "social",
    "taxpayer",
    "civil",
    "voter",
    "ident",
}
_NUMBER_WORDS = {"id", "no", "nr", "number", "num", "code", "numero", "nummer", "numer", "card"}


# Every id here has five digits or more, at most three other characters apart ('473.829.160-22',
# 'BRNLCU79L12F205C'): text without such a run is skipped at C speed. Bounded steps: linear.
_FIVE_DIGITS = re.compile(r"\d(?:\D{0,3}\d){4}")


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _after_cues(text: str) -> Iterator[Span]:
    for _, cue_end, cue in find_cues(text):
        kinds = kinds_for_cue(cue)
        if not kinds:
            continue
        window_start = cue_end
        window = text[window_start : window_start + _WINDOW]
        for candidate in _CANDIDATE.finditer(window):
            found = _best_run(kinds, candidate.group())
            if found is not None:
                start, end, score = found
                base = window_start + candidate.start()
                yield Span(base + start, base + end, "NATIONAL_ID", "id.catalogue.cue", score)
                break


def _best_run(kinds: Sequence[IdKind], candidate: str) -> tuple[int, int, float] | None:
    """The longest run of blank-separated tokens in ``candidate`` that is one of ``kinds``."""
    tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", candidate)][:_MAX_TOKENS]
    shaped: tuple[int, int, float] | None = None
    for length in range(len(tokens), 0, -1):
        for first in range(len(tokens) - length + 1):
            start, end = tokens[first][0], tokens[first + length - 1][1]
            value = candidate[start:end]
            if _digits(value) < 5:
                continue
            verdict, _ = validate(kinds, value)
            if verdict is Verdict.VALID:
                return start, end, 0.95
            if verdict is Verdict.SHAPED and shaped is None:
                shaped = (start, end, 0.85)
    return shaped


@functools.lru_cache(maxsize=4096)
def _generic_person_id(key: str) -> bool:
    words = set(normalize_key(key))
    return bool(words & _PERSON_WORDS) and bool(words & _NUMBER_WORDS)


def _under_generic_keys(leaf: Leaf) -> Iterator[Span]:
    cells = list(leaf.cells)
    if leaf.key is not None:
        cells.append(Cell(0, len(leaf.text), leaf.key))
    for cell in cells:
        if not _generic_person_id(cell.key):
            continue
        value = leaf.text[cell.start : cell.end].strip().strip("\"'")
        if not 5 <= len(value) <= 30 or _digits(value) < 5:
            continue
        verdict, _ = validate(CATALOGUE, value)
        if verdict is Verdict.VALID:
            start = cell.start + leaf.text[cell.start : cell.end].find(value)
            yield Span(
                start, start + len(value), "NATIONAL_ID", f"id.catalogue.key.{cell.key}", 0.95
            )


def _keyless(text: str) -> Iterator[Span]:
    for start, end, kind in find_keyless(text):
        if _ID_WORDS_BEFORE.search(text[max(0, start - 20) : start]):
            continue
        if validate((kind,), text[start:end])[0] is Verdict.VALID:
            yield Span(start, end, "NATIONAL_ID", f"id.{kind.module}", 0.85)


class NationalIdDetector:
    name = "national_ids"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for leaf in leaves:
            text = leaf.text
            spans: list[Span] = []
            if _FIVE_DIGITS.search(text):
                spans.extend(_after_cues(text))
                spans.extend(_keyless(text))
                spans.extend(_under_generic_keys(leaf))
            out.append(spans)
        return out
