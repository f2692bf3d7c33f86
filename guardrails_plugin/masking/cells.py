"""Find keyed values inside text: ``key=value``, ``Key: value`` lines, ``"key": "value"`` pairs,
keyword arguments, CSV and psql columns, SQL ``INSERT`` columns.

This is how key-name context reaches text that is not a parsed structure: a log line, an env
file, HTTP headers, a CSV export. Parsing is shallow on purpose: each finder recognises its own
shape and gives up quietly on anything else.

Every pattern here runs in linear time; the comments at each say why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from guardrails_plugin.masking.detectors.base import Cell
from guardrails_plugin.masking.hl7 import hl7_cells, looks_like_hl7
from guardrails_plugin.masking.keys import classify_key

__all__ = ["find_cells"]

_KV = re.compile(
    r"(?<![\w.-])(?P<key>[A-Za-z_][\w.-]{0,63})=(?P<q>[\"'])?"
    r"(?P<value>(?(q)[^\"'\n]*|[^\s&;,\"'<>)]+))(?(q)(?P=q))"
)
# The value runs to the end of the line and trailing blanks are trimmed in code: a lazy value
# followed by '[ \t]*$' re-read a run of blanks once per character of it (quadratic).
_HEADER_LINE = re.compile(
    r"(?m)^[ \t]*+(?:-[ \t]+)?(?P<key>[A-Za-z][\w.-]{0,63})[ \t]*:[ \t]++(?P<value>[^\n]*)"
)
# A quoted value's body: characters other than the quote, a backslash or a newline, and runs of
# backslashes, each possibly escaping a quote. A run is read whole (possessive), so the body
# splits one way only; only the choice to end at an escaped quote is kept, as before ('\\"'
# may end a value when no plain quote follows). The old '(?:\\.|(?!q).)*' split a run of
# backslashes in exponentially many ways.
_BODY = r"(?:(?!(?P=q))[^\\\n]|\\++(?P=q)?)*"
_QUOTED_PAIR = re.compile(
    r"(?P<kq>[\"'])(?P<key>[\w.@ -]{1,64})(?P=kq)\s*+:\s*+"
    r"(?:(?P<q>[\"'])(?P<value>" + _BODY + r")(?P=q)"
    r"|(?P<bare>-?\d[\d.eE+-]*|true|false|null|None|True|False))"
)
_KWARG = re.compile(
    r"(?<![\w.])(?P<key>[A-Za-z_]\w{0,63})\s*+[:=]\s*+(?P<q>[\"'])(?P<value>" + _BODY + r")(?P=q)"
)
# 'KEY = value' lines of env, ini and properties files: a blank beside '=' ('_KV' takes the
# rest, and 'PGPASSWORD=x psql -h db' is a value and a command). The value runs to the end of
# the line and is trimmed in code, as in '_HEADER_LINE'.
_SPACED_LINE = re.compile(
    r"(?m)^[ \t]*+(?:(?:export|set)[ \t]++)?(?P<key>[A-Za-z_][\w.-]{0,63})"
    r"(?:[ \t]++=[ \t]*+|=[ \t]++)"
    r"(?P<value>[^\n]*)"
)
# Long command-line flags: '--password=x', '--password x', "--token 'x y'". A value after a blank
# is taken only when it does not start another flag.
_FLAG = re.compile(
    r"(?<![\w-])--(?P<key>[A-Za-z][\w-]{0,40})(?:=|[ \t]++(?=[^\s-]))"
    r"(?:(?P<q>[\"'])(?P<quoted>[^\"'\n]*)(?P=q)|(?P<value>[^\s\"';|&]+))"
)
# A flag and its value as two items of an argument list written in text: a YAML or JSON flow
# list ('args: ["--requirepass", "x"]') or a YAML block list ('- --requirepass' then '- x').
_ARG_ITEM = r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s\"',\]#][^\n,\]]*))"
_FLOW_ARGS = re.compile(
    r"(?P<fq>[\"'])--?(?P<key>[A-Za-z][\w-]{1,40})(?P=fq)[ \t]*+,[ \t]*+" + _ARG_ITEM
)
_BLOCK_ARGS = re.compile(
    r"(?m)^[ \t]*+-[ \t]++([\"']?)--?(?P<key>[A-Za-z][\w-]{1,40})\1[ \t]*+\r?\n"
    r"[ \t]*+-[ \t]++" + _ARG_ITEM
)
_INSERT = re.compile(
    r"(?is)\bINSERT\s++INTO\s++[\w.\"`\[\]]{1,200}\s*+\((?P<cols>[^)]{0,4000})\)\s*+VALUES\s*+"
    r"(?P<rows>.*)"
)
# One row of VALUES: quoted strings ('' is an escaped quote) and anything but parentheses. A
# string is an atomic unit, so a run of quotes is read one way only (it was exponential).
_ROW = re.compile(r"\((?P<vals>(?:(?>'(?:[^']|'')*+')|[^()'])*+)\)")


# A column name: words in any script, with the marks headers carry ('N° client', 'Né(e) le',
# 'birth number (rodné číslo)', 'Geb.-Datum'); a value (a number, an address) rarely starts
# with a letter and has none of a sentence's commas.
_HEADER_CELL = re.compile(r"[^\W\d][\w .()°º'’/#&+-]{0,63}")


def _split_fields(line: str, sep: str) -> list[tuple[int, int]]:
    """Field (start, end) offsets in a line, honouring double quotes; quotes excluded."""
    fields = []
    i, n = 0, len(line)
    while i <= n:
        if i < n and line[i] == '"':
            j = i + 1
            while j < n and not (line[j] == '"' and (j + 1 >= n or line[j + 1] != '"')):
                j += 2 if line[j] == '"' else 1
            fields.append((i + 1, min(j, n)))
            k = line.find(sep, j)
            if k < 0:
                break
            i = k + 1
            continue
        k = line.find(sep, i)
        if k < 0:
            fields.append((i, n))
            break
        fields.append((i, k))
        i = k + 1
    return fields


def _csv(text: str) -> Iterator[Cell]:
    lines = text.split("\n")
    if len(lines) < 2:
        return
    delimiter = _delimiter(lines)
    if delimiter is None:
        return
    header = [lines[0][s:e].strip() for s, e in _split_fields(lines[0], delimiter)]
    if len(header) < 2 or not all(_HEADER_CELL.fullmatch(h) for h in header):
        return
    yield from _rows(lines[1:], len(lines[0]) + 1, header, delimiter)


# A column name: a letter first, then words, blanks and the marks headers use ('N° client',
# 'Né(e) le', 'birth number (rodné číslo)' folded); no '@' or digit first, so a data row
# ('7824;Dvořák;x@y.cz') is not taken for a header.
def _delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits most rows into as many fields as the header."""
    best, best_rows = None, 0
    rows = [ln for ln in lines[1:] if ln.strip()]
    for d in (",", ";", "\t"):
        if d not in lines[0]:
            continue
        width = len(_split_fields(lines[0], d))
        matching = sum(len(_split_fields(ln, d)) == width for ln in rows)
        if matching * 2 >= len(rows) and matching > best_rows:
            best, best_rows = d, matching
    return best


def _psql(text: str) -> Iterator[Cell]:
    lines = text.split("\n")
    sep_index = next(
        (i for i, ln in enumerate(lines[:4]) if re.fullmatch(r"\s*-+(\+-+)+\s*", ln)), -1
    )
    if sep_index < 1:
        return
    header_line = lines[sep_index - 1]
    header = [header_line[s:e].strip() for s, e in _split_fields(header_line, "|")]
    offset = sum(len(ln) + 1 for ln in lines[: sep_index + 1])
    yield from _rows(lines[sep_index + 1 :], offset, header, "|")


def _rows(lines: list[str], offset: int, header: list[str], delimiter: str) -> Iterator[Cell]:
    """The non-empty cells of data rows that have as many fields as the header; ``offset`` is
    where the first row starts in the text."""
    for line in lines:
        fields = _split_fields(line, delimiter) if delimiter in line else []
        if len(fields) == len(header):
            for (s, e), key in zip(fields, header, strict=True):
                s, e = _strip(line, s, e)
                if e > s:
                    yield Cell(offset + s, offset + e, key)
        offset += len(line) + 1


def _insert(text: str) -> Iterator[Cell]:
    m = _INSERT.search(text)
    if not m:
        return
    columns = [c.strip().strip('"`[]') for c in m.group("cols").split(",")]
    rows_start = m.start("rows")
    body = m.group("rows")
    for row in _ROW.finditer(body):
        values = _sql_values(row.group("vals"))
        if len(values) != len(columns):
            continue
        base = rows_start + row.start("vals")
        for (s, e), key in zip(values, columns, strict=True):
            yield Cell(base + s, base + e, key)


def _sql_values(vals: str) -> list[tuple[int, int]]:
    out, i, n = [], 0, len(vals)
    while i < n:
        while i < n and vals[i] in " \t\n":
            i += 1
        if i < n and vals[i] == "'":
            j = i + 1
            while j < n and not (vals[j] == "'" and (j + 1 >= n or vals[j + 1] != "'")):
                j += 2 if vals[j] == "'" else 1
            out.append((i + 1, j))
            i = vals.find(",", j)
        else:
            k = vals.find(",", i)
            end = n if k < 0 else k
            out.append(_strip(vals, i, end))
            i = k
        if i < 0:
            break
        i += 1
    return out


def _strip(line: str, s: int, e: int) -> tuple[int, int]:
    while s < e and line[s] in " \t\r":
        s += 1
    while e > s and line[e - 1] in " \t\r":
        e -= 1
    return s, e


def _spaced_lines(text: str) -> Iterator[Cell]:
    for m in _SPACED_LINE.finditer(text):
        start, end = _strip(text, m.start("value"), m.end("value"))
        if end - start >= 2 and text[start] in "\"'" and text[end - 1] == text[start]:
            start, end = start + 1, end - 1
        if end > start:
            yield Cell(start, end, m.group("key"))


def _flags(text: str) -> Iterator[Cell]:
    """Flags whose name says secret: the rest ('--region eu-west-1', '--name payments') are
    arguments, and a handle after '--user' is not worth the noise on every command line."""
    for m in _FLAG.finditer(text):
        meaning = classify_key(m.group("key"))
        if meaning is None or meaning.label != "SECRET":
            continue
        group = "quoted" if m.group("quoted") is not None else "value"
        if m.end(group) > m.start(group):
            yield Cell(m.start(group), m.end(group), m.group("key"))


def _arg_lists(text: str) -> Iterator[Cell]:
    """The item after a flag that names a secret in an argument list (`_FLOW_ARGS`,
    `_BLOCK_ARGS`): the list's counterpart of '--password x' on a command line."""
    for pattern in (_FLOW_ARGS, _BLOCK_ARGS):
        for m in pattern.finditer(text):
            meaning = classify_key(m.group("key"))
            if meaning is None or meaning.label != "SECRET":
                continue
            group = next(g for g in ("dq", "sq", "bare") if m.group(g) is not None)
            start, end = _strip(text, m.start(group), m.end(group))
            if end > start and not text.startswith("--", start):
                yield Cell(start, end, m.group("key"))


def find_cells(text: str) -> list[Cell]:
    """Keyed values in ``text``, most specific shapes first (duplicates are harmless)."""
    cells: list[Cell] = []
    if looks_like_hl7(text):
        cells.extend(hl7_cells(text))
    if "\n" in text:
        cells.extend(_csv(text))
        cells.extend(_psql(text))
    if "INSERT" in text or "insert" in text:
        cells.extend(_insert(text))
    if "=" in text:
        for m in _KV.finditer(text):
            if m.end("value") > m.start("value"):
                cells.append(Cell(m.start("value"), m.end("value"), m.group("key")))
    if '"' in text or "'" in text:
        for m in _QUOTED_PAIR.finditer(text):
            group = "value" if m.group("value") is not None else "bare"
            if m.end(group) > m.start(group):
                cells.append(Cell(m.start(group), m.end(group), m.group("key")))
        for m in _KWARG.finditer(text):
            if m.end("value") > m.start("value"):
                cells.append(Cell(m.start("value"), m.end("value"), m.group("key")))
    if "=" in text:
        cells.extend(_spaced_lines(text))
    if "--" in text:
        cells.extend(_flags(text))
        cells.extend(_arg_lists(text))
    if ":" in text:
        for m in _HEADER_LINE.finditer(text):
            value = m.group("value").rstrip(" \t")
            if value and not value.startswith(("//", "{", "[")):
                start = m.start("value")
                cells.append(Cell(start, start + len(value), m.group("key")))
    return cells
