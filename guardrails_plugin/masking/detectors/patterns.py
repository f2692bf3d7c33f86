"""Validated patterns: emails, phones, payment cards, IBANs, national ids, IP addresses, dates
of birth.

Each candidate comes from a regular expression over the raw text and must then pass a
validator (Luhn, mod-97, an address parser, a national id's own rules) or sit next to words that
say what it is. Generated test data often fails real checksums (phone numbers with invalid area
codes, INSEE numbers with wrong keys), so format plus context is accepted where a validator
would be too strict, at a lower score.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
from collections.abc import Iterator, Sequence

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.es import dni as es_dni
from stdnum.us import ssn as us_ssn

from guardrails_plugin.masking.deadline import checkpoint_long
from guardrails_plugin.masking.detectors.base import Cell, Leaf
from guardrails_plugin.masking.keys import normalize_key
from guardrails_plugin.masking.spans import Span

__all__ = ["PatternDetector", "context_before", "validated_values"]

_WORD_BOUNDARY = r"(?<![\w@.+-])"

EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w-])"
)

CARD = re.compile(r"(?<![\w.-])(?:\d[ -]?){12,30}\d(?![\w-]|\.\d)")

IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"
)

# A full stop after the address ends a sentence ('from 10.2.3.4.'); a dot and more of a word or
# number makes it something longer (1.2.3.4.5, an OID, 4.3.2.1.in-addr.arpa).
IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\w|\.\w)"
)
# Candidates only; ipaddress validates. Times (12:30:45) fail validation or the group count.
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_VERSION_WORDS = re.compile(r"(?i)(?:version|release|build|ver\.?|v)[\s:=]*$")
PHONE = re.compile(
    _WORD_BOUNDARY + r"(?:"
    r"(?:\+|00)\d{1,3}[\s.-]?(?:\(0\)\s?)?\(?\d{1,5}\)?(?:[\s.-]?\d{2,5}){1,4}"  # international
    r"|\(\d{2,5}\)\s?\d{3,5}(?:[\s.-]?\d{2,5}){0,2}"  # (029) 2018 0370
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # 222-281-6559, 475.905.3028
    r"|001-\d{3}-\d{3}-\d{4}"
    r"|0\d{9,10}"  # 0173518494, 01144960496
    r"|[1-9]\d{9}"  # 6167569714: only with a phone word before it (checked below)
    r"|0\d(?:[ .]\d{2}){4}"  # 01 73 95 00 38
    r"|0\d{2,4}[ ]\d{3,4}[ ]\d{3,4}"  # 0115 496 0374
    r"|0\d{2,4}[\s/-]\d{5,8}"
    r")"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?"
    r"(?![\w-]|\.\d)"
)
_PHONE_WORDS = re.compile(
    r"(?i)(?:phone|tel|mobile|cell|fax|call|number|contact|reach|ring|whatsapp|sms|"
    r"telefon|t[ée]l[ée]phone|tel[ée]fono|m[óo]vil|portable|handy|nummer|num[ée]ro|n[úu]mero)"
)
_ID_WORDS = re.compile(
    r"(?i)(?:sku|model|order|invoice|inv|po|ref|reference|tracking|ticket|case|part|item|"
    r"serial|build|version|id|#|no\.)[\s:#-]*$"
)

SSN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
NINO = re.compile(
    r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
)
INSEE = re.compile(
    r"(?<![\w])[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w])"
)
DNI = re.compile(r"(?<![\w])(?:\d{8}|[XYZ]\d{7})-?[A-HJ-NP-TV-Z](?![\w])")
DIGITS_ID = re.compile(r"(?<![\w-])\d{9,11}(?![\w-])")
DOCUMENT_NO = re.compile(r"(?<![\w-])[A-Z]{0,3}\d[A-Z0-9]{5,11}(?![\w-])")
_DOCUMENT_CONTEXT = re.compile(
    r"(?i)(?:passport|driver'?s? licen[cs]e|driving licen[cs]e|licen[cs]e (?:no|number)|"
    r"id card|identity card|personalausweis|reisepass)[\w .:#-]*$"
)
_ID_CONTEXT = re.compile(
    r"(?i)(?:ssn|social security|national[ _-]?id|tax[ _-]?id|steuer|idnr|identifi|insee|nir\b|"
    r"dni|nie\b|nino|national insurance|passport|personalausweis|\bid\b|id number|id no)"
)

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
DATE = re.compile(
    r"(?<![\w/.-])(?:"
    r"(?:19|20)\d{2}-\d{2}-\d{2}(?![T\d:])"
    r"|(?:19|20)\d{2}[./]\d{1,2}[./]\d{1,2}"
    r"|\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d{2}"
    r"|\d{1,2}\. \d{1,2}\. (?:19|20)\d{2}"  # Czech and Slovak: '4. 7. 1972'
    rf"|{_MONTHS}\.? \d{{1,2}},? (?:19|20)\d{{2}}"
    rf"|\d{{1,2}} {_MONTHS}\.?,? (?:19|20)\d{{2}}"
    # Month names of any language ('2. März 1984', '2 de marzo de 1984', '2 marca 1984'): only
    # ever read after a birth word, so any word in the month's place will do.
    r"|\d{1,2}\.? (?:de )?[^\W\d_]{3,12}\.?,? (?:de |del )?(?:19|20)\d{2}"
    r"|[^\W\d_]{3,12}\.? \d{1,2},? (?:19|20)\d{2}"
    # Compact YYYYMMDD (HL7, registries), month and day checked.
    r"|(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)"
    r")(?![\w/-])"
)
# Birth words in folded text (accents dropped: 'né' reads 'ne', 'doğum' 'dogum').
_BIRTH_WORDS = re.compile(
    r"(?i)(?:\bdob\b|\bd\.o\.b|birth|\bborn\b|\bgeb\.|\bgeb\b|geboren|geburt|\bn[ée]e?\b|"
    r"naissance|\bnacid[oa]\b|nacimiento|\bnat[oa]\b|nascita|nascimento|geboorte|urodz|"
    r"\bdogum|f[oø]delse|f[oø]dsel|foedsel|syntym|narozen|\bur\.|рожд|γ[εέ]νν|"
    # 'I was born' and its abbreviations: es 'nací', pt 'nasci', it 'nacque', sv 'född', da/no
    # 'født', cs 'nar.'/'narodil(a) jsem se', fi 'syntynyt', hu 'született'/'szül.', tr 'doğdum'
    # and 'd.t.' (doğum tarihi).
    r"\bnaci\b|\bnasci\b|\bnacque|\bf[oø]dd\b|\bf[oø]dt\b|\bnar\.|narodil|syntyn|"
    r"\bszulet|\bszul\.|\bdogdu|\bd\.[ ]?t\.|"
    r"生年月日|出生|생년월일|ngay sinh)[^\W\d_]*"  # to the end of the word ('urodzenia:')
)


def context_before(text: str, start: int, width: int = 40) -> str:
    return text[max(0, start - width) : start]


def _email(text: str) -> Iterator[Span]:
    for m in EMAIL.finditer(text):
        yield Span(m.start(), m.end(), "EMAIL", "email", 0.95)


# Words before a number that say it is a product, shipment or order number, in the languages
# of the cue lists ('pedido', 'Bestellung', 'commande', 'zamówienie', 'sipariş', ...), folded.
_NOT_CARD = re.compile(
    r"(?i)(?:ean|upc|gtin|isbn|sku|barcode|imei|tracking|order|pedido|encomenda|bestelling|"
    r"bestellung|bestellnummer|commande|ordine|zamowieni[ea]|objednavk[ay]|siparis|ordre|"
    r"tilaus|bestallning|auftrag)[^\W\d_]{0,6}"
    r"[\s:#-]*(?:(?:n[o\u00ba\u00b0]|nr|c|num|number|nummer|numero)\.?[\s:#-]*)?$"
)


# A key names a system's identifier when it has an id word ('order_id', 'sku', 'imei'), or
# a record word qualified by a number word or another record word ('order_no', 'ref_number',
# 'order_ref'). A bare 'ref', 'order', 'ticket' or 'transaction' says too little: it is a
# word of prose as much as a key ('ref: <card>').
_ID_KEY_WORDS = frozenset(
    {"id", "ids", "uuid", "guid", "sku", "snowflake", "ean", "upc", "gtin", "isbn", "imei",
     "barcode", "serial"}
)  # fmt: skip
_RECORD_KEY_WORDS = frozenset(
    {"order", "invoice", "variant", "product", "item", "ticket", "tracking", "ref",
     "reference", "transaction", "txn", "shipment"}
)  # fmt: skip
_NUMBER_KEY_WORDS = frozenset({"no", "nr", "num", "number"})
_CARD_KEY_WORDS = frozenset({"card", "pan", "cc", "credit", "debit", "visa", "mastercard", "amex"})


@functools.lru_cache(maxsize=4096)
def _id_key(key: str | None) -> bool:
    if key is None:
        return False
    words = normalize_key(key)
    if not words or set(words) & _CARD_KEY_WORDS:
        return False
    if set(words) & _ID_KEY_WORDS:
        return True
    records = sum(w in _RECORD_KEY_WORDS for w in words)
    return records > 1 or (records == 1 and bool(set(words) & _NUMBER_KEY_WORDS))


def _card_numbers(text: str, keyed_card: bool = False) -> Iterator[tuple[int, int]]:
    """(start, end) of each Luhn-valid number with an issuer's prefix and length, not after a
    product or order word. ``keyed_card``: the structure around the text says card."""
    for m in CARD.finditer(text):
        if _NOT_CARD.search(context_before(text, m.start(), 20)):
            continue
        cued = keyed_card or _CARD_CUE.search(context_before(text, m.start(), 30)) is not None
        found = _valid_card(m.group(), cued)
        if found is not None:
            yield m.start() + found[0], m.start() + found[1]


def _cards(text: str, leaf: Leaf) -> Iterator[Span]:
    """Card numbers, but for an ungrouped one that is the whole value of an id key (one order or
    variant id in ten is Luhn-valid). Grouped as cards are printed ('4242 4242 ...'), a number
    is a card under any key: ids are not written that way."""
    id_cells: list[tuple[int, int]] | None = None
    for start, end in _card_numbers(text, _card_structure(leaf)):
        if text[start:end].isdigit():
            if _id_key(leaf.key) and _bare(text, 0, start) and _bare(text, end, len(text)):
                continue
            if id_cells is None:
                id_cells = _record_id_cells(text, leaf.cells)
            i = bisect.bisect_right(id_cells, (start, len(text))) - 1
            if i >= 0 and end <= id_cells[i][1]:
                cell_start, cell_end = id_cells[i]
                if _bare(text, cell_start, start) and _bare(text, end, cell_end):
                    continue
        yield Span(start, end, "CREDIT_CARD", "card.luhn", 0.95)


# Keys a card object has beside its number (Stripe, Adyen, Braintree shapes): an expiry split in
# month and year, or a security code. A lone 'exp_date' is as much an invoice's.
_CARD_SIBLINGS = frozenset(
    {"cvc", "cvv", "cvc_check", "cvv_check", "cvv2", "exp_month", "exp_year", "expiry_month",
     "expiry_year", "expiration_month", "expiration_year"}
)  # fmt: skip


def _card_structure(leaf: Leaf) -> bool:
    """The value's own key says card ('kartennummer'), or the key is only a number word and
    the mapping it sits in is a card: named so ('card': {'number': …}) or holding a card's
    other fields. Stands in for a card word before the number, which a JSON value lacks."""
    key = leaf.key
    if key is None:
        return False
    if _CARD_CUE.search(key) and not _id_key(key):
        return True
    if not set(normalize_key(key)) <= _NUMBER_KEY_WORDS:
        return False
    if leaf.parents and _CARD_CUE.search(leaf.parents[-1]) and not _id_key(leaf.parents[-1]):
        return True
    return leaf.siblings.once(_has_card_siblings)


def _has_card_siblings(keys: frozenset[str]) -> bool:
    return any(k.lower() in _CARD_SIBLINGS for k in keys)


def _bare(text: str, start: int, end: int) -> bool:
    """Nothing but blanks and quotes between start and end (a value's padding)."""
    return end - start <= 16 and not text[start:end].strip(" \t\"'")


_LETTER = re.compile(r"[^\W\d_]")


def _record_id_cells(text: str, cells: Sequence[Cell]) -> list[tuple[int, int]]:
    """(start, end) of the id-keyed cells that belong to a record, in order: a line of two or
    more cells ('order_id=… status=paid', a CSV row, a header block's line), or one cell alone on
    its line. A cell inside a sentence ('please charge order_id=… today') is prose. Each line is
    read once, so this stays linear in the text."""
    if not any(_id_key(c.key) for c in cells):
        return []
    ordered = sorted(cells, key=lambda c: c.start)
    out: list[tuple[int, int]] = []
    line_start = line_end = -1
    on_line = 0
    starts = [c.start for c in ordered]
    for cell in ordered:
        if cell.start > line_end:
            line_start = text.rfind("\n", 0, cell.start) + 1
            line_end = text.find("\n", cell.start)
            line_end = len(text) if line_end < 0 else line_end
            on_line = bisect.bisect_left(starts, line_end) - bisect.bisect_left(starts, line_start)
        if not _id_key(cell.key):
            continue
        if on_line > 1 or _alone_on_line(text, cell, line_start, line_end):
            out.append((cell.start, cell.end))
    return out


def _alone_on_line(text: str, cell: Cell, line_start: int, line_end: int) -> bool:
    """Nothing but the cell's key, separators and the cell's value on its line."""
    before = text[line_start : cell.start]
    at = before.rfind(cell.key)
    if at >= 0:
        before = before[:at] + before[at + len(cell.key) :]
    return not _LETTER.search(before) and not _LETTER.search(text, cell.end, line_end)


_GROUP = re.compile(r"\d+")
_MAX_TRIM = 3


def _valid_card(candidate: str, cued: bool) -> tuple[int, int] | None:
    """The card number in a run of digit groups: the whole run, or the run without up to
    three groups at either end ('0 4242 4242 4242 4242': a number glued to a card) when what
    is left is grouped as cards are (groups of four or more digits)."""
    groups = [(g.start(), g.end()) for g in _GROUP.finditer(candidate)]
    for trim in range(min(_MAX_TRIM, len(groups) - 1) + 1):
        for lead in range(trim + 1):
            kept = groups[lead : len(groups) - (trim - lead)]
            if trim and any(end - start < 4 for start, end in kept):
                continue
            first, last = kept[0], kept[-1]
            digits = re.sub(r"\D", "", candidate[first[0] : last[1]])
            grouped = first != last
            if _plausible_card(digits, grouped, cued) and luhn.is_valid(digits):
                return first[0], last[1]
    return None


# Issuer prefix -> lengths its cards have (Visa, Mastercard, Amex, Diners, JCB, Discover,
# UnionPay), first match wins.
_CARD_LENGTHS = (
    (re.compile(r"4"), (13, 16, 19)),
    (re.compile(r"5[1-5]|2[2-7]"), (16,)),
    (re.compile(r"3[47]"), (15,)),
    (re.compile(r"3(?:0[0-5]|095|[689])"), (14, 16, 17, 18, 19)),
    (re.compile(r"35"), (16, 17, 18, 19)),
    (re.compile(r"6(?:011|4[4-9]|5|2)"), (16, 17, 18, 19)),
)
# Maestro and the domestic debit schemes on its ranges (RuPay, Verve, Elo): 12 to 19 digits by
# the standard, taken from 16 up, where nearly all of them are. These ranges are wide, so an
# ungrouped run is a card only after a word that says card ('kortnummer 5018…'); an order
# number of the same shape is not.
_DEBIT_PREFIX = re.compile(r"50|5[6-8]|6")
_CARD_CUE = re.compile(
    r"(?i)(?:card|kart|carte|tarjeta|cartao|carta|kaart|kort|maestro|debit|\bcc\b|\bpan\b)"
)


def _plausible_card(digits: str, grouped: bool, cued: bool) -> bool:
    """An issuer's prefix and one of its lengths. An ungrouped run of 17 or more digits is an
    id (snowflakes, variant ids): cards that long are written in groups."""
    if len(digits) > 16 and not grouped:
        return False
    if any(p.match(digits) and len(digits) in lengths for p, lengths in _CARD_LENGTHS):
        return True
    return (grouped or cued) and 16 <= len(digits) <= 19 and _DEBIT_PREFIX.match(digits) is not None


# An IBAN typed in lower case ('auf de89 3704 …', 'iban: fr76…'), read the same way and
# validated upper-cased: the country's length and the mod-97 check leave a hex digest that
# starts like one ('be12…') about one chance in 100,000.
_IBAN_LOWER = re.compile(
    r"(?<![A-Za-z0-9])[a-z]{2}\d{2}(?:[ ]?[a-z0-9]{4}){2,7}(?:[ ]?[a-z0-9]{1,4})?(?![A-Za-z0-9])"
)


def _ibans(text: str) -> Iterator[Span]:
    for m in IBAN.finditer(text):
        compact = m.group().replace(" ", "")
        if std_iban.is_valid(compact):
            yield Span(m.start(), m.end(), "IBAN", "iban.mod97", 0.95)
    for m in _IBAN_LOWER.finditer(text):
        compact = m.group().replace(" ", "")
        if std_iban.is_valid(compact.upper()):
            yield Span(m.start(), m.end(), "IBAN", "iban.mod97", 0.95)


def _ips(text: str) -> Iterator[Span]:
    for m in IPV4.finditer(text):
        if _VERSION_WORDS.search(context_before(text, m.start(), 12)):
            continue  # v1.2.3.4, "version 10.0.0.1"
        yield Span(m.start(), m.end(), "IP_ADDRESS", "ip", 0.9)
    for m in IPV6.finditer(text):
        candidate = m.group()
        if candidate.count(":") < 2:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        # 12:30:45 is a time; a real IPv6 address has hex groups or a '::'.
        if "::" not in candidate and candidate.count(":") < 5:
            continue
        yield Span(m.start(), m.end(), "IP_ADDRESS", "ip", 0.9)


def _phones(text: str) -> Iterator[Span]:
    for m in PHONE.finditer(text):
        value = m.group()
        digits = re.sub(r"\D", "", value.split("x")[0].split("ext")[0])
        if not 7 <= len(digits) <= 15:
            continue
        before = context_before(text, m.start(), 30)
        if _ID_WORDS.search(before):
            continue
        international = value.startswith(("+", "00"))
        if international and not _possible_international(value):
            international = False
        has_context = bool(_PHONE_WORDS.search(before))
        if re.fullmatch(r"\d+", value) and not (has_context or value.startswith("0")):
            continue
        score = 0.85 if (has_context or international) else 0.7
        yield Span(m.start(), m.end(), "PHONE", "phone", score)


def _possible_international(value: str) -> bool:
    """phonenumbers knows each country's number lengths; generated numbers often have invalid
    area codes, so this checks possibility, not validity."""
    number = "+" + value[2:] if value.startswith("00") else value
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(number, None)))
    except phonenumbers.NumberParseException:
        return False


def _national_ids(text: str) -> Iterator[Span]:
    for m in SSN.finditer(text):
        context = bool(_ID_CONTEXT.search(context_before(text, m.start())))
        if us_ssn.is_valid(m.group()) or context:
            yield Span(m.start(), m.end(), "NATIONAL_ID", "id.us_ssn", 0.9 if context else 0.8)
    for m in NINO.finditer(text):
        yield Span(m.start(), m.end(), "NATIONAL_ID", "id.uk_nino", 0.85)
    for m in INSEE.finditer(text):
        if len(re.sub(r"\s", "", m.group())) == 15:
            yield Span(m.start(), m.end(), "NATIONAL_ID", "id.fr_insee", 0.85)
    for m in DNI.finditer(text):
        value = m.group().replace("-", "")
        if es_dni.is_valid(value) or _ID_CONTEXT.search(context_before(text, m.start())):
            yield Span(m.start(), m.end(), "NATIONAL_ID", "id.es_dni", 0.9)
    for m in DIGITS_ID.finditer(text):
        if _ID_CONTEXT.search(context_before(text, m.start(), 30)):
            yield Span(m.start(), m.end(), "NATIONAL_ID", "id.context", 0.85)
    for m in DOCUMENT_NO.finditer(text):
        # Passport and licence numbers have no checksum we can test: the word must be right there.
        if sum(c.isdigit() for c in m.group()) >= 5 and _DOCUMENT_CONTEXT.search(
            context_before(text, m.start(), 30)
        ):
            yield Span(m.start(), m.end(), "NATIONAL_ID", "id.document", 0.85)


# Between a birth word and its date: a separator, 'on', 'le', not another key or number
# ('dob = "…", admitted="2024-05-01"': the second date is the admission's).
_OTHER_LABEL = re.compile(r"\d|[^\W\d_]{2,}[\w-]*[\"']?[ \t]*[=:]")


# Dates only a birth word makes dates: a two-digit year ('geb. 31.1.51') and compact YYMMDD
# ('Födelsedatum: 780829', the first half of a Nordic personal number), month and day checked.
_SHORT_DATE = re.compile(
    r"(?<![\w/.-])(?:\d{1,2}[./-]\d{1,2}[./-]\d{2}"
    r"|\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?![\w/-])"
)


def _dates_of_birth(text: str) -> Iterator[Span]:
    yield from _dates_after_cue(text, DATE)
    yield from _dates_after_cue(text, _SHORT_DATE)


def _dates_after_cue(text: str, dates: re.Pattern[str]) -> Iterator[Span]:
    for m in dates.finditer(text):
        before = context_before(text, m.start(), 30)
        cues = list(_BIRTH_WORDS.finditer(before))
        if cues and not _OTHER_LABEL.search(before, cues[-1].end()):
            yield Span(m.start(), m.end(), "DATE_OF_BIRTH", "dob.context", 0.9)


def validated_values(text: str) -> Iterator[Span]:
    """What validates as sensitive on its own, whatever the words around it: card numbers (Luhn
    and an issuer's length), IBANs (mod-97), international phone numbers phonenumbers finds
    possible. A rule that keeps something shaped like personal data (a message id, a team
    mailbox) must leave these out of what it keeps."""
    for start, end in _card_numbers(text):
        yield Span(start, end, "CREDIT_CARD", "card.luhn", 0.95)
    yield from _ibans(text)
    # Without a phone word, only an international number that phonenumbers finds possible
    # scores 0.85; a bare digit run (0.7) is as likely a message or order number.
    yield from (s for s in _phones(text) if s.score >= 0.85)


_FINDERS = (_email, _ibans, _ips, _phones, _national_ids, _dates_of_birth)


class PatternDetector:
    name = "patterns"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out = []
        for leaf in leaves:
            text = leaf.text
            spans: list[Span] = []
            if any(ch.isdigit() or ch == "@" for ch in text):
                checkpoint_long(text, "patterns", "cards")
                spans.extend(_cards(text, leaf))
                for finder in _FINDERS:
                    checkpoint_long(text, "patterns", finder.__name__.strip("_"))
                    spans.extend(finder(text))
            out.append(spans)
        return out
