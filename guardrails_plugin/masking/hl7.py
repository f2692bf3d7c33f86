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

__all__ = ["hl7_cells", "looks_like_hl7"]

# Field kinds: a person's name (XPN: family^given^middle), a name with an id first (XCN:
# id^family^given), or a whole field read under one key.
_XPN, _XCN = "xpn", "xcn"
_FIELDS: dict[str, dict[int, str]] = {
    "PID": {5: _XPN, 6: _XPN, 9: _XPN, 7: "date_of_birth", 11: "address", 13: "phone",
            14: "phone", 19: "ssn", 20: "national_id"},
    "NK1": {2: _XPN, 4: "address", 5: "phone", 6: "phone", 16: "date_of_birth", 37: "ssn"},
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


def _field(kind: str, value: str, start: int) -> Iterator[Cell]:
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
