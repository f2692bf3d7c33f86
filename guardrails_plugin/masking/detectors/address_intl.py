"""Street addresses in the orders most of the world writes them: street and house number, then
postcode and town (or town and postcode), as in the Nordic countries, the Netherlands, Central
Europe, Greece, Turkey and Latin America; and whatever follows "my new address is" and its
equivalents in other languages.

The postcode is what makes "Cejl 42, 602 00 Brno" an address and "Sprint 3, 2025 Planning"
not: a street without a street word needs a postcode of a national shape (``1012 AB``,
``114 55``, ``00-950``, ``C1425``, ``01304-001``) or a bare number that is not a year.

Linear time: every pattern reads a bounded number of bounded words from where it starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from guardrails_plugin.masking.normalize import fold
from guardrails_plugin.masking.spans import Span

__all__ = ["international_addresses"]

_NW = r"[^\W\d_][^\W\d_'’.-]{0,30}"  # a word of letters (a dot allowed: 'Av.', 'ul.')
_NUM = (
    r"(?:(?:No[:.]?|N[º°]\.?|n[º°]\.?|#)[ \t]*)?\d{1,5}[A-Za-z]?"
    r"(?:[ \t]?[/-][ \t]?\d{1,5}[A-Za-z]?)?"
)
# Floor, flat, staircase: '3. sal', '2 tv', 'piso 3', 'apto 42', 'm. 12', 'D: 6', 'B 7'.
_FLAT = (
    r"(?:,?[ \t]*(?:\d{1,2}\.?[ \t]?(?:sal|th|tv|mf|etg|etage|floor|piso)\b\.?"
    r"|(?:piso|apto|apt\.?|dpto\.?|depto\.?|m\.|lok\.|lgh|bus|bte|app\.?|esc\.?|puerta|"
    r"pta\.?|D:|Daire|Kat:?|Stiege|Top|Tür|Flat|Apt\.?|Apto\.?)[ \t]*\w{1,4})"
    r"|[ \t]+[A-Z](?:[ \t]+\d{1,3})?(?=,))"
)
_POSTCODE = (
    r"(?P<pc>\d{3}[ \t]\d{2}|\d{4}[ \t]?[A-Z]{2}(?![A-Za-z])|\d{2}-\d{3}|\d{5}-\d{3}"
    r"|[A-Z]\d{4}(?:[A-Z]{3})?|\d{4,6})(?![\w-])"
)
_CITY = rf"{_NW}(?:[ \t]+(?:{_NW}|\d{{1,2}})){{0,2}}"
_STREET_FIRST = re.compile(
    rf"(?<![\w-])(?P<street>{_NW}(?:[ \t]+{_NW}){{0,3}})[ \t]+{_NUM}(?:{_FLAT}){{0,2}}"
    rf"(?:,[ \t]*{_POSTCODE}[ \t]+{_CITY}"
    rf"|,[ \t]*{_CITY}[ \t]*,?[ \t]*{_POSTCODE.replace('?P<pc>', '?P<pc2>')})"
)
# Words that make a street a street, written in many languages: a suffix of the street's own
# name (Nørregade, Drottninggatan, Kerkstraat) or a word of its own (ul., Rua, Caddesi, gate).
# Written as the detectors read them, folded: 'väg' is 'vag', 'Vinohradská' ends in 'ska'.
_STREET_WORD = re.compile(
    r"(?i)(?:gata|gatan|gate|gaten|gade|vej|vejen|veien|vegen|vei|veg|vag|vagen|torg|"
    r"torget|plads|plass|stræde|straede|stien|grand|katu|tie|kuja|polku|vayla|kaari|"
    r"straat|laan|gracht|plein|kade|dijk|singel|steeg|dreef|hof|weg|strasse|straße|gasse|allee|"
    r"platz|ring|damm|ufer|ska|ova|ego|iej)$"
    r"|^(?:ul|al|os|pl|av|avda|avenida|rua|r|travessa|alameda|jiron|jr|carrera|cra|calle|cl|"
    r"diagonal|transversal|strada|str|bulevardul|bd|calea|aleea|odos|leoforos|caddesi|cad|"
    r"sokak|sok|sokagi|bulvari|mahallesi|mah|gate|gata|vei|vej|ulica|ulice|namesti|trida)\.?$"
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_PARTICLES_WORDS = """
    de del la le di da van von der den ter dos das du
"""
_PARTICLES = frozenset(_PARTICLES_WORDS.split())


def _street_start(street: str) -> int:
    """Offset of the street's first word: leading words in lower case ('lever aan') or that
    end a sentence are not part of it."""
    words = list(re.finditer(r"\S+", street))
    keep = len(words)
    for index in range(len(words) - 1, -1, -1):
        word = words[index].group()
        if word[:1].isupper() or word.lower() in _PARTICLES or _STREET_WORD.search(word):
            keep = index
        else:
            break
    return words[keep].start() if keep < len(words) else len(street)


def _plausible(street: str, postcode: str, place: str) -> bool:
    """A town is capitalised ('København K', 'Praha 10', 'CABA'); a street without a street
    word needs a postcode of a national shape, not a bare number ('Step 3, 5000 Users')."""
    town = re.search(r"[^\W\d_]+", place)
    if town is None or not town.group()[:1].isupper():
        return False
    if postcode.isdigit() and _YEAR.fullmatch(postcode):
        return False
    return any(_STREET_WORD.search(w) for w in street.split()) or not postcode.isdigit()


def _town_end(text: str, end: int) -> int:
    """Where the town ends: words in lower case after it ('Amsterdam graag') are not part of it
    (the town pattern reads up to three words)."""
    for _ in range(2):
        head = text[:end].rstrip()
        cut = max(head.rfind(" "), head.rfind("\t"))
        word = head[cut + 1 :]
        if cut < 0 or not word[:1].islower() or word in _TOWN_PARTICLES:
            break
        end = len(head[:cut].rstrip())
    return end


_TOWN_PARTICLES_WORDS = """
    am an im der de la le sur en bei upon on di del
"""
_TOWN_PARTICLES = frozenset(_TOWN_PARTICLES_WORDS.split())


# "my new address is", "change my address to", "meine neue Adresse ist"... written as people
# type them and folded as the text is.
_STRONG_CUES = [
    r"my (?:new |current |home |correct )?address is",
    r"(?:change|update|correct) my (?:home |billing |shipping |delivery )?address to",
    r"(?:new|updated) address:?",
    r"meine (?:neue )?(?:adresse|anschrift) (?:ist|lautet)",
    r"ma (?:nouvelle )?adresse (?:est|:)",
    r"mi (?:nueva )?dirección es",
    r"mijn (?:nieuwe )?adres is",
    r"mój (?:nowy )?adres to",
    r"il mio (?:nuovo )?indirizzo è",
    r"meu (?:novo )?endereço é",
    r"min (?:nya )?adress är",
    r"min (?:nye )?adresse (?:er|:)",
    r"adresim",
    r"moje (?:nová )?adresa je",
]
_WEAK_CUES = [
    r"(?:please )?(?:send|ship|deliver|mail|post|forward) (?:it|them|this|the \w+|everything) to",
    r"(?:schicken|senden|liefern) sie (?:es|das|alles) (?:an|nach)",
    r"envoyez(?:-le)? (?:à|au)",
    r"envíe(?:lo)? a",
    r"stuur (?:het )?naar",
]


def _cue_pattern(cues: list[str]) -> str:
    folded = (fold(c).text.replace(" ", r"[ \t]+") for c in cues)
    return "(?:" + "|".join(folded) + ")"


_CUE = re.compile(
    rf"(?i)(?<!\w)(?:(?P<strong>{_cue_pattern(_STRONG_CUES)})|{_cue_pattern(_WEAK_CUES)})"
    r"[ \t]*:?[ \t]*(?P<v>[^\n;!?]{4,100})"
)
_CUE_END = re.compile(
    r"(?i)(?<=[a-z]{3})\.(?:[ \t]|$)|[ \t,]+(?:please|pls|thanks|thank you|bitte|danke|merci|"
    r"por favor|gracias|graag|dank|prosím|dziękuję|lütfen|grazie|asap|from now on|instead)\b"
)
_HOUSE = re.compile(r"\d{1,5}")
_POSTCODE_ANYWHERE = re.compile(_POSTCODE.replace("?P<pc>", ""))


def _after_cue(text: str) -> Iterator[Span]:
    for m in _CUE.finditer(text):
        value = m.group("v")
        end = _CUE_END.search(value)
        if end:
            value = value[: end.start()]
        value = value.rstrip(" \t,.:")
        if not value[:1].isalnum() or not (value[:1].isdigit() or value[:1].isupper()):
            continue
        letters = re.findall(r"[^\W\d_]{2,}", value)
        if not _HOUSE.search(value) or len(letters) < 1 or len(value) < 6:
            continue
        if m.group("strong") is None and not ("," in value or _POSTCODE_ANYWHERE.search(value)):
            continue
        start = m.start("v")
        yield Span(start, start + len(value), "ADDRESS", "address.cue", 0.86)


def international_addresses(text: str) -> Iterator[Span]:
    """Addresses in street-number-postcode-town order and after address cue phrases."""
    for m in _STREET_FIRST.finditer(text):
        street = m.group("street")
        place = text[m.end("street") : m.end()].rsplit(",", 1)[-1]
        if not _plausible(street, m.group("pc") or m.group("pc2"), place):
            continue
        start = m.start("street") + _street_start(street)
        if start < m.end("street"):
            yield Span(start, _town_end(text, m.end()), "ADDRESS", "address.intl", 0.85)
    yield from _after_cue(text)
