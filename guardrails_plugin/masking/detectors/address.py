"""Street addresses: a house number and a street-type word, in the orders English, German,
French, Spanish and Italian write them, plus the postcode and town that follow. Other orders
and address cue phrases are in `address_intl`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from guardrails_plugin.masking.deadline import checkpoint_long
from guardrails_plugin.masking.detectors.address_intl import international_addresses
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.spans import Span

__all__ = ["AddressDetector"]

_W = r"[^\W\d_][\w'’.-]*"  # a word starting with a letter
_TAIL = r"(?:,[ \t]*[^\n,;:.@\"|<>()]{2,40}){0,3}"  # ", Town", ", Postcode", ", State ZIP"
_EN_TYPES = (
    r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Court|Ct|Close|Way|Place|Pl|Square|Sq|"
    r"Crescent|Boulevard|Blvd|Terrace|Gardens|Grove|Hill|Park|Parkway|Row|Walk|Mews|Summit|"
    r"Ridge|Ridges|Springs|Estates?|Fort|Camp|Well|Wells|Falls|Ferry|Heights|Junction|Loop|"
    r"Manor|Meadows?|Mill|Plains?|Point|Port|Ranch|Shores?|Station|Trail|Valley|Views?|Villas?|"
    r"Crossing|Circle|Cove|Creek|Green|Harbor|Harbour|Island|Lake|Oval|Path|Pike|Rue|Skyway|"
    r"Square|Track|Union|Vista|Brooks?|Burgs?|Centers?|Common|Corners?|Curve|Expressway|Flats?|"
    r"Fords?|Forest|Forges?|Freeway|Gateway|Glen|Haven|Highway|Hollow|Inlet|Isle|Keys?|Knolls?|"
    r"Landing|Light|Lodge|Motorway|Mount|Mountain|Neck|Orchard|Pass|Pines?|Plaza|Prairie|Radial|"
    r"Rapids?|Rest|Routes?|Shoals?|Spur|Stravenue|Stream|Summit|Throughway|Trafficway|Turnpike|"
    r"Underpass|Unions?|Viaduct|Ville|Bypass|Causeway|Cliffs?|Club|Dale|Dam|Divide|Extension|"
    r"Field|Fields|Gardens?|Grounds|Lights|Locks?|Mall|Mission|Parks?|Ports?|Squares?"
)
_PATTERNS = [
    # 8 Knight Court, Holtton, TN1 7HQ / Flat 24, Paula Summit, South Jayne, G4 2BF
    re.compile(
        rf"(?<![\w-])(?:(?:Flat|Apt\.?|Apartment|Suite|Unit|Studio|Room)[ \t]+\w+,[ \t]*)?"
        rf"\d{{1,5}}[A-Za-z]?,?[ \t]+(?:{_W}[ \t]+){{0,4}}(?:{_EN_TYPES})\b\.?{_TAIL}"
    ),
    re.compile(
        rf"(?<![\w-])(?:Flat|Apt\.?|Apartment|Suite|Unit|Studio)[ \t]+\w+,[ \t]*"
        rf"(?:{_W}[ \t]+){{0,4}}(?:{_EN_TYPES})\b\.?{_TAIL}"
    ),
    # Döhnstraße 10/92, 27407 Mühldorf am Inn / Pascal-Gehringer-Allee 2-7, 47671 Erkelenz
    # Starts at the start of a word or after a quote or dot that starts one (not after a '.'
    # inside a word) and reads at most 60 characters: a long 'a.b.a.b…' token cost a pass per
    # '.' (quadratic).
    re.compile(
        r"(?<![\w-])(?<!\w[.'’])[^\W\d_][\w'’.-]{0,60}(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|"
        r"ufer|chaussee|pfad|steig|markt)[ \t]+\d+[a-zA-Z]?(?:[/-]\d+[a-zA-Z]?)?"
        r"(?:,?[ \t]*\d{5}[ \t]+[^\n,;:.@\"|<>()]{2,40})?",
        re.IGNORECASE,
    ),
    # 86, avenue de Chevallier, 97128 Maillardnec
    re.compile(
        r"(?<![\w-])\d{1,4}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?:rue|avenue|av\.|boulevard|bd|place|"
        r"chemin|all[ée]e|impasse|quai|route|cours|passage|square)[ \t]+[^\n,;\"|<>()]{2,50}"
        r"(?:,[ \t]*\d{5}[ \t]+[^\n,;:.@\"|<>()]{2,40})?",
        re.IGNORECASE,
    ),
    # Avenida Chucho Hoyos 36, Cuenca, 14502 / Calle de Gastón Osorio 20 Piso 2 , Segovia, 26749
    re.compile(
        r"(?<![\w-])(?:Calle|C/|Vial|Avenida|Avda\.?|Plaza|Paseo|Camino|Ronda|Carrer|Callej[óo]n|Pasaje|"
        r"Urbanizaci[óo]n|Traves[íi]a|Glorieta|Rambla|V[íi]a|Viale|Piazza|Corso|Vicolo|Largo|Strada|"
        r"Contrada|Borgo)[ \t]+[^\n,;\"|<>()\d]{2,50}?[ \t]*\d{1,4}[a-zA-Z]?"
        r"(?:[ \t]+(?:Piso|Puerta|Esc\.?|Bajo|Interno|Scala)[ \t]*\w+)*[ \t]*"
        r"(?:,[ \t]*[^\n,;:.@\"|<>()]{2,40}){0,2}"
    ),
]


class AddressDetector:
    name = "address"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out = []
        for leaf in leaves:
            text = leaf.text
            spans: list[Span] = []
            if any(c.isdigit() for c in text) and any(c.isalpha() for c in text):
                for number, pattern in enumerate(_PATTERNS, 1):
                    checkpoint_long(text, "address", f"pattern {number}")
                    for m in pattern.finditer(text):
                        value = m.group().rstrip(" \t,.")
                        if len(value) >= 8:
                            spans.append(
                                Span(m.start(), m.start() + len(value), "ADDRESS", "address", 0.85)
                            )
                checkpoint_long(text, "address", "international orders and cues")
                spans.extend(international_addresses(text))
            out.append(spans)
        return out
