"""HL7 v2 messages as keyed cells: each field that holds a person's data becomes a `Cell` under
the key that names it (``family_name``, ``date_of_birth``, ``address``, ``phone``, ``ssn``), so
the key-aware detectors mask it as they would a JSON field of that name.

Segments are lines (``\\r`` or ``\\n``), fields are split on ``|``, repetitions on ``~`` and
components on ``^``, as HL7 v2.x encodes them by default. Only the fields listed here are read;
anything else (MSH routing, codes, visit numbers) is left to the ordinary detectors. One pass
over the text: linear.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from guardrails_plugin.masking.detectors.base import Cell
from guardrails_plugin.masking.keys import classify_key

__all__ = ["hl7_cells", "looks_like_hl7"]

# Field kinds: a person's name (XPN: family^given^middle), a name with an id first (XCN:
# id^family^given), an identifier list (CX: id^check^scheme^authority^type), or a whole field
# read under one key.
_XPN, _XCN, _CX = "xpn", "xcn", "cx"
_FIELDS: dict[str, dict[int, str]] = {
    "PID": {2: _CX, 3: _CX, 4: _CX, 5: _XPN, 6: _XPN, 9: _XPN, 7: "date_of_birth",
            11: "address", 13: "phone", 14: "phone", 19: "ssn", 20: "national_id"},
    "NK1": {33: _CX, 2: _XPN, 4: "address", 5: "phone", 6: "phone", 16: "date_of_birth", 37: "ssn"},
    "GT1": {3: _XPN, 5: "address", 6: "phone", 7: "phone", 8: "date_of_birth", 12: "ssn"},
    "IN1": {16: _XPN, 18: "date_of_birth", 19: "address"},
    "IN2": {2: "ssn", 6: "national_id"},
    "PV1": {7: _XCN, 8: _XCN, 9: _XCN, 17: _XCN},
    "ORC": {12: _XCN},
    "OBR": {16: _XCN},
}  # fmt: skip
_NAME_PARTS = {_XPN: ("family_name", "given_name", "given_name"), _XCN: ("", "family_name",
               "given_name", "given_name")}  # fmt: skip
_SEGMENT = re.compile(r"[^\r\n]+")
_HL7 = re.compile(r"(?:^|[\r\n])(?:MSH\|\^~|PID\||NK1\||GT1\|)")


def looks_like_hl7(text: str) -> bool:
    return "|" in text and _HL7.search(text) is not None


def hl7_cells(text: str) -> Iterator[Cell]:
    for line in _SEGMENT.finditer(text):
        fields = _FIELDS.get(line.group()[:3])
        if fields is None or line.group()[3:4] != "|":
            continue
        pos = line.start()
        for number, value in enumerate(line.group().split("|")):
            kind = fields.get(number)
            if kind is not None and value:
                yield from _field(kind, value, pos)
            pos += len(value) + 1


# CX identifier type codes (HL7 table 0203) of a person's state-issued numbers; the others
# (MR, PI, AN, VN: the hospital's own record, account and visit numbers) are kept.
_PERSONAL_ID_TYPES = {
    "NI": "national_id",  # national unique individual identifier
    "NN": "national_id",
    "NNxxx": "national_id",
    "SS": "ssn",
    "SB": "national_id",  # social beneficiary
    "PPN": "passport",
    "DL": "national_id",  # driver's licence
    "PN": "national_id",  # person number
    "PT": "national_id",  # patient's tax id
    "TAX": "national_id",
    "HC": "national_id",  # health card
    "JHN": "national_id",  # jurisdictional health number
    "CZ": "national_id",  # citizenship card
}


def _cx_key(repetition: list[str]) -> str | None:
    """The key an identifier is read under: its type code (``NI``, ``SS``, ``NNDEU``...) or an
    assigning authority that names a national number (``PESEL``, ``BSN``)."""
    type_code = repetition[4] if len(repetition) > 4 else ""
    if type_code in _PERSONAL_ID_TYPES:
        return _PERSONAL_ID_TYPES[type_code]
    if len(type_code) == 5 and type_code.startswith("NN") and type_code.isupper():
        return "national_id"  # NN + ISO 3166 country code
    authority = repetition[3].split("&", 1)[0] if len(repetition) > 3 else ""
    if authority:
        meaning = classify_key(authority)
        if meaning is not None and meaning.label == "NATIONAL_ID":
            return authority
    return None


def _identifiers(value: str, start: int) -> Iterator[Cell]:
    pos = start
    for repetition in value.split("~"):
        parts = repetition.split("^")
        key = _cx_key(parts)
        if key is not None and parts[0]:
            yield Cell(pos, pos + len(parts[0]), key)
        pos += len(repetition) + 1


def _field(kind: str, value: str, start: int) -> Iterator[Cell]:
    if kind == _CX:
        yield from _identifiers(value, start)
        return
    if kind not in _NAME_PARTS:
        yield Cell(start, start + len(value), kind)
        return
    keys = _NAME_PARTS[kind]
    pos = start
    for repetition in value.split("~"):
        at = pos
        for index, part in enumerate(repetition.split("^")):
            if index < len(keys) and keys[index] and part:
                yield Cell(at, at + len(part), keys[index])
            at += len(part) + 1
        pos += len(repetition) + 1
