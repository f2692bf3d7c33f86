"""The catalogue of personal national ids: python-stdnum's validators, named as people write them.

python-stdnum validates some 200 number formats, most of them company, VAT or bank numbers. The
ones that identify a person are listed here once, each with the names it goes by (as a key,
a CSV column or a cue word in prose, in its own language and in English) and, for the few whose
shape is distinctive and whose checksum is strong, a pattern that may be matched with no name
nearby. Everything else is derived from this table at first use:

- `id_key_kind(words)`: the ids a key names (``tc_kimlik_no``, ``身份证号``, ``nhsNumber``);
- `validate(kinds, text)`: whether a candidate is one of those ids, or has an id's shape with
  a wrong check digit (mistyped or generated data: still a person's number when named);
- `find_cues(text)`: where any of the names occurs in prose.

A candidate is checked against the ids its name points to, not against the whole catalogue:
with 40 validators, a random 11-digit number passes one of them too often.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

from guardrails_plugin.masking.keys_intl import fold_word
from guardrails_plugin.masking.normalize import fold

__all__ = [
    "CATALOGUE",
    "IdKind",
    "Verdict",
    "find_cues",
    "find_keyless",
    "id_key_kinds",
    "kinds_for_cue",
    "validate",
]


@dataclass(frozen=True)
class IdKind:
    """One personal id. ``module`` is a python-stdnum module (or ``local:NAME`` for one it
    lacks); ``names`` are the words it goes by; ``keyless`` a shape safe to match alone."""

    module: str
    names: tuple[str, ...]
    keyless: str | None = None


# Names shorter than four letters, or that are everyday words, only count as a whole key
# (``cpr``, ``cpr_nr``) or right before the number in prose, never as one word of a longer key.
CATALOGUE: tuple[IdKind, ...] = (
    IdKind("us.ssn", ("ssn", "social security number")),
    IdKind("us.itin", ("itin",)),
    IdKind("ca.sin", ("sin", "social insurance number", "numéro d'assurance sociale", "nas")),
    IdKind("gb.nhs", ("nhs number", "nhs no", "nhs")),
    IdKind("gb.upn", ("unique pupil number", "upn")),
    IdKind("ie.pps", ("pps number", "ppsn", "pps")),
    IdKind(
        "fr.nir", ("nir", "insee", "numéro de sécurité sociale", "sécurité sociale", "carte vitale")
    ),
    IdKind("es.dni", ("dni", "documento nacional de identidad")),
    IdKind("es.nie", ("nie", "número de identidad de extranjero")),
    IdKind("pt.cc", ("cartão de cidadão", "cartao de cidadao", "cc number")),
    IdKind(
        "it.codicefiscale",
        ("codice fiscale", "cod fiscale", "cod. fiscale", "cf"),
        r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]",
    ),
    IdKind(
        "de.idnr",
        (
            "steuer-id",
            "steuerid",
            "steuer id",
            "idnr",
            "identifikationsnummer",
            "steueridentifikationsnummer",
        ),
    ),
    IdKind(
        "local:de_kvnr",
        (
            "kvnr",
            "krankenversichertennummer",
            "versichertennummer",
            "krankenversicherungsnummer",
            "versicherungsnummer",
        ),
    ),
    IdKind("at.vnr", ("svnr", "vsnr", "sozialversicherungsnummer", "versicherungsnummer")),
    IdKind("ch.ssn", ("ahv", "ahv-nr", "ahv nummer", "avs", "ahvn13")),
    IdKind("nl.bsn", ("bsn", "burgerservicenummer", "sofinummer", "sofi")),
    IdKind(
        "be.nn",
        ("rijksregisternummer", "numéro national", "registre national", "niss", "insz", "rrn"),
        r"\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}",
    ),
    IdKind("se.personnummer", ("personnummer", "personnr", "pnr"), r"(?:19|20)?\d{6}[-+]\d{4}"),
    IdKind("no.fodselsnummer", ("fødselsnummer", "fodselsnummer", "fnr", "personnummer")),
    IdKind("dk.cpr", ("cpr", "cpr-nr", "cpr nummer", "cprnr", "personnummer")),
    IdKind(
        "fi.hetu",
        ("hetu", "henkilötunnus", "henkilotunnus", "personbeteckning"),
        r"\d{6}[-+ABCDEFYXWVU]\d{3}[0-9A-FHJ-NPR-Y]",
    ),
    IdKind("is_.kennitala", ("kennitala", "kt")),
    IdKind("ee.ik", ("isikukood",)),
    IdKind("lt.asmens", ("asmens kodas",)),
    IdKind("pl.pesel", ("pesel",)),
    IdKind("cz.rc", ("rodné číslo", "rodne cislo", "rodné čislo", "rč", "rc"), r"\d{6}/\d{3,4}"),
    IdKind("sk.rc", ("rodné číslo", "rodne cislo", "rč")),
    IdKind("ro.cnp", ("cnp", "cod numeric personal")),
    IdKind("bg.egn", ("egn", "егн")),
    IdKind("hr.oib", ("oib",)),
    IdKind("si.emso", ("emšo", "emso", "jmbg")),
    IdKind("gr.amka", ("amka", "αμκα")),
    IdKind(
        "tr.tckimlik",
        (
            "tc kimlik",
            "tc kimlik no",
            "t.c. kimlik no",
            "tckn",
            "tckimlik",
            "kimlik no",
            "kimlik numarası",
            "tc no",
        ),
    ),
    IdKind("il.idnr", ("mispar zehut", "teudat zehut", "מספר זהות", "ת.ז")),
    IdKind("za.idnr", ("sa id", "south african id", "id number")),
    IdKind("in_.aadhaar", ("aadhaar", "aadhar", "adhaar", "आधार", "uidai")),
    IdKind("in_.pan", ("pan card", "permanent account number")),
    IdKind(
        "cn.ric",
        (
            "身份证",
            "身份证号",
            "身份证号码",
            "身份證",
            "身份證號碼",
            "居民身份证",
            "shenfenzheng",
            "resident id",
            "resident identity card",
            "ric",
        ),
        r"[1-8]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]",
    ),
    IdKind(
        "jp.in_",
        ("my number", "mynumber", "マイナンバー", "個人番号", "kojin bango", "individual number"),
    ),
    IdKind("kr.rrn", ("주민등록번호", "resident registration number", "rrn"), r"\d{6}-[1-8]\d{6}"),
    IdKind("my.nric", ("nric", "mykad")),
    IdKind("id.nik", ("nik", "nomor induk kependudukan")),
    IdKind("th.pin", ("เลขประจำตัวประชาชน", "thai id")),
    IdKind("br.cpf", ("cpf", "cadastro de pessoas físicas"), r"\d{3}\.\d{3}\.\d{3}-\d{2}"),
    IdKind("mx.curp", ("curp",), r"[A-Z][AEIOUX][A-Z]{2}\d{6}[HM][A-Z]{5}[0-9A-Z]\d"),
    IdKind("ar.dni", ("dni",)),
    IdKind("cl.rut", ("rut", "run")),
    IdKind("co.nit", ("cédula", "cedula", "cédula de ciudadanía")),
    IdKind("ec.ci", ("cédula", "cedula", "cédula de identidad")),
    IdKind("pe.cui", ("cui",)),
    IdKind("uy.rut", ("rut",)),
    IdKind("do.cedula", ("cédula", "cedula")),
    IdKind("au.tfn", ("tfn", "tax file number")),
    IdKind("nz.ird", ("ird number", "ird")),
    IdKind("ca.bc_phn", ("phn", "personal health number")),
    IdKind("pk.cnic", ("cnic",)),
)

# What follows an id's name in a key: 'pesel_nr', 'nhs_number', '身份证号'.
_KEY_SUFFIXES = ("", "no", "nr", "num", "number", "numer", "nummer", "numero", "code", "kod", "id")
_SHORT = 4  # names shorter than this match a whole key only


def _joined(name: str) -> str:
    return re.sub(r"[\W_]+", "", fold_word(name))


# Names that are other things as keys ('rc' a return code, 'pnr' a booking, 'sin' a sine): cue
# words in prose only, where the id's shape must follow them.
_PROSE_ONLY = {
    "rc",
    "rč",
    "cf",
    "kt",
    "run",
    "nas",
    "pnr",
    "ric",
    "ird",
    "upn",
    "sin",
    "cui",
    "nik",
    "phn",
    "pps",
    "id number",
    "sa id",
    "avs",
    "tc no",
    "kimlik no",
    "cc number",
    "rrn",
}


@functools.cache
def _key_table() -> tuple[dict[str, tuple[IdKind, ...]], dict[str, tuple[IdKind, ...]]]:
    """(whole key → kinds, one word of a key → kinds), built once."""
    whole: dict[str, list[IdKind]] = {}
    word: dict[str, list[IdKind]] = {}
    for kind in CATALOGUE:
        for name in kind.names:
            if name in _PROSE_ONLY:
                continue
            joined = _joined(name)
            for suffix in _KEY_SUFFIXES:
                whole.setdefault(joined + suffix, []).append(kind)
            if len(joined) >= _SHORT and " " not in name.strip():
                word.setdefault(joined, []).append(kind)
    return (
        {k: tuple(dict.fromkeys(v)) for k, v in whole.items()},
        {k: tuple(dict.fromkeys(v)) for k, v in word.items()},
    )


def id_key_kinds(words: tuple[str, ...]) -> tuple[IdKind, ...]:
    """The ids a key (split into folded words) names: the key ends with an id's name and an
    optional number word ('patient_nhs_number', 'cpr_nr', '身份证号'), or has a long name as
    one of its words ('pesel_verified'); empty when it names none."""
    whole, word = _key_table()
    for i in range(len(words)):
        joined = "".join(words[i:])
        if joined in whole:
            return whole[joined]
    for w in words:
        if w in word:
            return word[w]
        for suffix in ("号码", "号", "號碼", "番号"):
            if w.endswith(suffix) and w.removesuffix(suffix) in whole:
                return whole[w.removesuffix(suffix)]
    return ()


@functools.cache
def _cue_table() -> dict[str, tuple[IdKind, ...]]:
    table: dict[str, list[IdKind]] = {}
    for kind in CATALOGUE:
        for name in kind.names:
            table.setdefault(_joined(name), []).append(kind)
    return {k: tuple(dict.fromkeys(v)) for k, v in table.items()}


def kinds_for_cue(cue: str) -> tuple[IdKind, ...]:
    """The ids a name found by `find_cues` stands for ('T.C. Kimlik No' and 'TC Kimlik No'
    alike: separators are ignored)."""
    return _cue_table().get(_joined(cue), ())


def _is_cjk(ch: str) -> bool:
    return ord(ch) >= 0x2E80  # CJK, kana, hangul: written without spaces between words


_WORD = re.compile(r"[^\W\d_]+")


@functools.cache
def _cue_index() -> tuple[dict[str, re.Pattern[str]], tuple[str, ...]]:
    """(first word → pattern of the names starting with it, CJK names).

    Detectors read folded text (accents and kana voicing marks dropped, look-alikes mapped), so
    names are matched in that form. Blanks, dots and hyphens inside a name match a short run of
    any of them ('T.C. Kimlik', 'CPR-nr').
    """
    names = sorted({fold(n).text for kind in CATALOGUE for n in kind.names}, key=len, reverse=True)
    by_first: dict[str, list[str]] = {}
    cjk: list[str] = []
    for name in names:
        first = _WORD.match(name.lower())
        if _is_cjk(name[0]) or first is None:
            cjk.append(name)
            continue
        pieces = [re.escape(p) for p in re.split(r"[\s.\-]+", name) if p]
        body = r"[\s.\-]{0,2}".join(pieces)
        by_first.setdefault(first.group(), []).append(body + r"(?![^\W\d_])")
    index = {w: re.compile(r"(?i)(?:" + "|".join(b) + r")") for w, b in by_first.items()}
    return index, tuple(cjk)


def find_cues(text: str) -> list[tuple[int, int, str]]:
    """Every name of an id in ``text`` as (start, end, name as written).

    One pass over the words, each looked up by its lower case: an alternation of some 150
    names tried at every position cost 2 ms a record. CJK names, written without spaces, are
    found with ``str.find``.
    """
    index, cjk = _cue_index()
    found: list[tuple[int, int, str]] = []
    for word in _WORD.finditer(text):
        pattern = index.get(word.group().lower())
        if pattern is not None:
            m = pattern.match(text, word.start())
            if m is not None:
                found.append((m.start(), m.end(), m.group()))
    if not text.isascii():
        for name in cjk:
            at = text.find(name)
            while at >= 0:
                found.append((at, at + len(name), name))
                at = text.find(name, at + len(name))
    return found


@functools.cache
def _keyless_pattern() -> tuple[re.Pattern[str], dict[str, IdKind]]:
    """The stand-alone shapes as one alternation of named groups: one pass over the text."""
    kinds = {f"k{i}": kind for i, kind in enumerate(k for k in CATALOGUE if k.keyless)}
    body = "|".join(f"(?P<{g}>{kind.keyless})" for g, kind in kinds.items())
    return re.compile(r"(?<![\w./-])(?:" + body + r")(?![\w/-]|[.-]\w)"), kinds


def find_keyless(text: str) -> list[tuple[int, int, IdKind]]:
    """Where a distinctive id shape stands alone in ``text`` (not yet validated)."""
    pattern, kinds = _keyless_pattern()
    return [(m.start(), m.end(), kinds[m.lastgroup or ""]) for m in pattern.finditer(text)]


class Verdict(Enum):
    VALID = "valid"  # the id's own checks pass
    SHAPED = "shaped"  # right length and format, wrong check digit or date: named, it counts
    NO = "no"


@functools.cache
def _module(path: str) -> tuple[Callable[[str], object], Callable[[str], str]]:
    """(validate, compact) of a stdnum module or a local validator, imported on first use."""
    if path.startswith("local:"):
        return _LOCAL[path.removeprefix("local:")], _compact
    module = importlib.import_module(f"stdnum.{path}")
    return module.validate, module.compact


def _compact(text: str) -> str:
    return re.sub(r"[\s./-]", "", text).upper()


def validate(kinds: Iterable[IdKind], text: str) -> tuple[Verdict, IdKind | None]:
    """The best verdict of ``kinds`` on ``text``, and the kind that gave it."""
    shaped: IdKind | None = None
    for kind in kinds:
        check, _ = _module(kind.module)
        try:
            check(text)
        except (InvalidChecksum, InvalidComponent):
            shaped = shaped or kind
        except ValidationError:  # wrong format or length: not this id
            continue
        except Exception:  # noqa: BLE001 - a validator that breaks on this text cannot clear it
            shaped = shaped or kind
        else:
            return Verdict.VALID, kind
    return (Verdict.SHAPED, shaped) if shaped is not None else (Verdict.NO, None)


def _de_kvnr(text: str) -> str:
    """German health-insurance number (Krankenversichertennummer): a letter and nine digits, the
    last a Luhn-like check over the letter's two-digit position and the next eight digits.
    python-stdnum has no module for it."""
    value = _compact(text)
    if not re.fullmatch(r"[A-Z]\d{9}", value):
        raise ValidationError()
    digits = f"{ord(value[0]) - 64:02d}" + value[1:9]
    total = 0
    for i, ch in enumerate(digits):
        product = int(ch) * (2 if i % 2 else 1)
        total += product // 10 + product % 10
    if total % 10 != int(value[9]):
        raise InvalidChecksum()
    return value


_LOCAL: dict[str, Callable[[str], object]] = {"de_kvnr": _de_kvnr}
