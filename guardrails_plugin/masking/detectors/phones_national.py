"""Phones written the national way, without a country code, right after a word that says so.

'Bel me op 0612 34 56 78', 'Handy 0171 4829365', 'llámame al 96 123456', 'sđt 0912 482 937':
without '+49' nothing in the number says which country's plan to check it against, but the cue
word's language does. Each cue names its candidate regions; `phonenumbers` then decides:

- valid in one of them: 0.85;
- possible there (right length, unknown range): 0.8;
- neither, but grouped like a phone and 7-12 digits long: 0.7, because generated test data and
  new number ranges fail validation, and a number right after 'call me on' is a phone.

Dates and times after a cue ('telefono: vedi ordine 2024-03-11') are not phones. Detectors read
folded text, so cues are written without accents ('telefono' matches 'teléfono') and folded
before use (Greek letters that look Latin become Latin).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

import phonenumbers

from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.detectors.person_cues import folded_forms
from guardrails_plugin.masking.spans import Span

__all__ = ["NationalPhoneDetector"]

_EN = ("GB", "US", "IE", "AU", "NZ", "CA", "IN", "ZA", "SG")
_DE = ("DE", "AT", "CH")
_FR = ("FR", "BE", "CH", "LU", "CA")
_ES = ("ES", "MX", "AR", "CO", "CL", "PE")
_IT = ("IT", "CH")
_NL = ("NL", "BE")
_NORDIC = ("SE", "DK", "NO")
_PT = ("BR", "PT")
_ALL = tuple(
    dict.fromkeys(
        (
            *_EN,
            *_DE,
            *_FR,
            *_ES,
            *_IT,
            *_NL,
            *_NORDIC,
            *_PT,
            "PL",
            "TR",
            "VN",
            "FI",
            "CZ",
            "SK",
            "GR",
            "RO",
            "HU",
        )
    )
)

# Cue phrase (folded, lower case) -> candidate regions. Short, ambiguous words ('tel', 'gsm',
# 'mobil') list every region that uses them.
_CUES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "phone",
            "phone number",
            "mobile",
            "cell",
            "call me on",
            "call me at",
            "reach me on",
            "reach me at",
            "text me on",
            "text me at",
            "ring me on",
            "messages to",
            "message me on",
            "whatsapp",
            "contact number",
            "fax",
        ),
        _EN,
    ),
    "tel": _ALL,
    "tel.": _ALL,
    "gsm": (*_NL, "FI", "TR", "RO"),
    "mobil": (*_DE, *_NORDIC, "CZ", "SK"),
    "telefon": (*_DE, *_NORDIC, "PL", "TR", "CZ", "SK", "RO", "HU"),
    "telefonnummer": (*_DE, *_NORDIC),
    **dict.fromkeys(
        (
            "handy",
            "rufnummer",
            "festnetz",
            "erreichbar unter",
            "ruf mich an unter",
            "anrufen unter",
        ),
        _DE,
    ),
    **dict.fromkeys(
        ("telephone", "portable", "appelez-moi au", "appelle-moi au", "joignable au", "fixe"), _FR
    ),
    **dict.fromkeys(("telefono", "movil", "llamame al", "llamar al", "llamanos al"), _ES + _IT),
    **dict.fromkeys(("cellulare", "chiamami al", "cell."), _IT),
    **dict.fromkeys(("telefoon", "mobiel", "bel me op", "bel ons op", "mobiele nummer"), _NL),
    **dict.fromkeys(("komorka", "zadzwon pod", "numer telefonu"), ("PL",)),
    **dict.fromkeys(("cep", "cep telefonu", "ara beni", "gsm no"), ("TR",)),
    **dict.fromkeys(("sdt", "dien thoai", "goi cho toi", "goi"), ("VN",)),
    **dict.fromkeys(
        ("ring mig pa", "ring meg pa", "ring til mig pa", "ring till", "mobilnummer"), _NORDIC
    ),
    **dict.fromkeys(("puhelin", "matkapuhelin", "puh.", "soita"), ("FI",)),
    **dict.fromkeys(("celular", "telefone", "telemovel", "ligue para", "whats"), _PT),
    **dict.fromkeys(("τηλ", "τηλεφωνο", "κινητο"), ("GR",)),
    # 'Call me on' as people write it in a message, per language.
    **dict.fromkeys(("ligar no", "ligar para", "me ligar", "liga-me para", "contato"), _PT),
    **dict.fromkeys(("llamarme al", "llamenme al", "marcar al", "mi numero es"), _ES),
    **dict.fromkeys(("erreichen mich unter", "erreichen sie mich unter", "unter der nummer"), _DE),
    **dict.fromkeys(("bellen op", "bel mij op", "bereikbaar op", "bereikbaar via"), _NL),
    **dict.fromkeys(
        ("zavolejte mi na", "zavolejte na", "volejte mi na", "volejte na"), ("CZ", "SK")
    ),
    **dict.fromkeys(("dzwonic pod", "dzwonic na", "zadzwon na"), ("PL",)),
    **dict.fromkeys(("chiamarmi al", "contattarmi al"), _IT),
    **dict.fromkeys(("appelez-moi au", "me joindre au"), _FR),
    # Signature and form abbreviations: 'M: …', 'Mob. …', 'tfn …' (Swedish), 'tlf …' (Danish,
    # Norwegian), 'cel. …'; any region may use them.
    **dict.fromkeys(("m:", "mob", "mob.", "tfn", "tlf", "tlf.", "cel", "cel.", "mobile:"), _ALL),
}
# Phone symbols in signatures ('☎ 0912 …', '📞 …'): cues that are no word.
_SYMBOL_CUE = re.compile("[\u260e\u2706\U0001f4de\U0001f4f1]")

_AFTER_CUE = 16  # characters between the cue and the number ('me op ', ': ', ' al ')
# A number: optional +/00, digit groups with one or two separators between them. Each step
# must consume a separator and a run of digits is read whole (possessive, so '0612345678'
# is one group, not '06123' and '45678'), so the text is read one way only: linear.
_NUMBER = re.compile(
    r"(?:\+|00)?\(?\d{1,13}+\)?(?:[ ./-]{1,2}\(?\d{1,13}+\)?){0,6}(?:\s?(?:x|ext\.?)\s?\d{1,6})?"
)
# A phone has seven digits or more, at most two separators apart: cheap to rule out.
_SEVEN_DIGITS = re.compile(r"\d(?:\D{0,2}\d){6}")
_DATE_OR_TIME = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}")


_WORD = re.compile(r"[^\W\d_]+")


@functools.cache
def _folded_cues() -> dict[str, tuple[str, ...]]:
    """The cues as detectors read them, folded (Greek 'τηλ' reads 'tηλ', 'ΤΗΛ' reads 'THΛ'), in
    lower case."""
    out: dict[str, tuple[str, ...]] = {}
    for cue, regions in _CUES.items():
        for form in folded_forms(cue):
            out.setdefault(form.lower(), regions)
    return out


@functools.cache
def _cue_index() -> dict[str, re.Pattern[str]]:
    """First word of a cue → pattern of the cues starting with it: the text's words are looked
    up one by one (an alternation of 90 cues tried at every position cost more)."""
    by_first: dict[str, list[str]] = {}
    for cue in sorted(_folded_cues(), key=len, reverse=True):
        first = _WORD.match(cue)
        if first is not None:
            body = re.escape(cue).replace(r"\ ", r"[ \t]+")
            by_first.setdefault(first.group(), []).append(body + r"(?![^\W\d_])")
    return {w: re.compile(r"(?i)(?:" + "|".join(b) + r")") for w, b in by_first.items()}


def _find_cues(text: str) -> Iterator[re.Match[str]]:
    index = _cue_index()
    for word in _WORD.finditer(text):
        pattern = index.get(word.group().lower())
        if pattern is not None:
            m = pattern.match(text, word.start())
            if m is not None:
                yield m


# Each cue's number is parsed once per candidate region (37 for 'tel'), ~30 µs a parse: text of
# nothing but cues before numbers valid nowhere ('tel 0 0 0 0 0 0 0 …') cost 16 s per 250 KB.
# So verdicts are cached per (number without separators, regions), and one `detect` call parses
# at most `_PARSES` plus one per `_CHARS_PER_PARSE` characters it reads; past that a number of
# 7-13 digits right after a cue is a phone at 0.7 unchecked (fails closed, never kept).
_PARSES = 512
_CHARS_PER_PARSE = 64
_VERDICTS: dict[tuple[str, tuple[str, ...]], float | None] = {}
_VERDICTS_MAX = 4096
_SEPARATORS = re.compile(r"[ ./-]+")
_UNKNOWN = -1.0  # no verdict: not cached, or the budget ran out


class _Budget:
    """Region parses one `detect` call may still make."""

    def __init__(self, chars: int) -> None:
        self.left = _PARSES + chars // _CHARS_PER_PARSE


def _score(number: str, regions: tuple[str, ...], budget: _Budget) -> float | None:
    digits = sum(c.isdigit() for c in number)
    if not 7 <= digits <= 13 or _DATE_OR_TIME.fullmatch(number):
        return None
    key = (_SEPARATORS.sub("", number), regions)
    verdict = _VERDICTS.get(key, _UNKNOWN)  # one lookup: another thread may clear the cache
    if verdict == _UNKNOWN:
        verdict = _validity(number, regions, budget)
        if verdict == _UNKNOWN:
            return 0.7
        if len(_VERDICTS) >= _VERDICTS_MAX:
            _VERDICTS.clear()
        _VERDICTS[key] = verdict
    if verdict is not None:
        return verdict
    # Not a number of the cue's regions (a foreign one, or a range the library does not know):
    # still a phone right after the cue when it is grouped like one or a mobile's 10-11 digits.
    grouped = number.startswith(("0", "(", "+")) or len(re.findall(r"\d+", number)) >= 2
    return 0.7 if grouped or 10 <= digits <= 11 else None


def _validity(number: str, regions: tuple[str, ...], budget: _Budget) -> float | None:
    """0.85 when valid in one of the regions, 0.8 when only possible in one, None when neither,
    `_UNKNOWN` when the budget ran out before an answer."""
    possible = False
    for region in regions:
        if budget.left <= 0:
            return _UNKNOWN
        budget.left -= 1
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return 0.85
        possible = possible or phonenumbers.is_possible_number(parsed)
    return 0.8 if possible else None


def _cues_with_regions(text: str) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(end of the cue, its candidate regions) for each cue word and phone symbol."""
    for cue in _find_cues(text):
        regions = _folded_cues().get(re.sub(r"\s+", " ", cue.group().lower()))
        if regions is not None:
            yield cue.end(), regions
    for symbol in _SYMBOL_CUE.finditer(text):
        yield symbol.end(), _ALL


def _after_cues(text: str, budget: _Budget) -> Iterator[Span]:
    for window_start, regions in _cues_with_regions(text):
        window = text[window_start : window_start + _AFTER_CUE + 30]
        for m in _NUMBER.finditer(window):
            if m.start() > _AFTER_CUE:
                break
            number = m.group().rstrip(" ./-")
            if sum(c.isdigit() for c in number) < 7:
                break  # the first number after the cue is not a phone: 'cell B12 value 20240501'
            score = _score(number, regions, budget)
            if score is not None:
                start = window_start + m.start()
                yield Span(start, start + len(number), "PHONE", "phone.national", score)
            break


class NationalPhoneDetector:
    name = "phones_national"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out: list[list[Span]] = []
        budget = _Budget(sum(len(leaf.text) for leaf in leaves))
        for leaf in leaves:
            spans: list[Span] = []
            if _SEVEN_DIGITS.search(leaf.text):
                spans.extend(_after_cues(leaf.text, budget))
            out.append(spans)
        return out
