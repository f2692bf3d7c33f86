"""PyYAML's syntax errors, told the way a policy's author thinks about the file.

PyYAML describes what its parser expected (``expected <block end>, but found '<block mapping
start>'``); the author needs to hear "this line is indented differently". Each known problem
becomes a sentence and the place to look; an unknown one keeps PyYAML's words. The place is the
problem's position, or where the thing left open began (an unclosed quote is fixed where it
opens, not at the end of the file).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from yaml import MarkedYAMLError

__all__ = ["describe", "escape_warning"]

Mark = tuple[int, int]  # 1-based line and column
_Rule = Callable[[re.Match[str], Mark | None], tuple[str, bool]]


def _at(mark: Mark | None) -> str:
    return f"line {mark[0]}" if mark else "above"


def _indent(m: re.Match[str], start: Mark | None) -> tuple[str, bool]:
    if m.group(1) == "-":
        return (
            f"a list item ('- ...') among the keys of the mapping that starts at {_at(start)}: "
            "indent the list under a key (key:, then the items below it), or make every entry "
            "a list item",
            False,
        )
    return (
        f"this line is indented differently from the lines before it (the block starts at "
        f"{_at(start)}): the keys of one mapping, and the items of one list, start in the same "
        "column; indent with spaces only",
        False,
    )


def _tab(_m: re.Match[str], _start: Mark | None) -> tuple[str, bool]:
    return "a tab character: YAML indents with spaces only; replace the tab with spaces", False


def _bad_start(m: re.Match[str], _start: Mark | None) -> tuple[str, bool]:
    char = m.group(1)
    return (
        f"a plain value cannot start with {char!r} in YAML; put the value in quotes ('{char}...')",
        False,
    )


def _unclosed_quote(_m: re.Match[str], start: Mark | None) -> tuple[str, bool]:
    return (
        f"the quoted text that starts at {_at(start)} is never closed; add the closing quote",
        True,
    )


def _escape(m: re.Match[str], _start: Mark | None) -> tuple[str, bool]:
    char = m.group(1)
    return (
        f"'\\{char}' inside double quotes: YAML reads a backslash there as an escape, and "
        f"\\{char} is not one. Write regexes in single quotes ('\\{char}+'), or double the "
        f'backslash ("\\\\{char}+")',
        False,
    )


def _colon(_m: re.Match[str], _start: Mark | None) -> tuple[str, bool]:
    return (
        "a 'key: value' where YAML expects none: a value that contains ': ' must be in quotes "
        "(reason: 'Note: ...'), and a list item needs a space after its '-'",
        False,
    )


def _flow(m: re.Match[str], start: Mark | None) -> tuple[str, bool]:
    close = m.group(1)
    what, opener = ("list", "[") if close == "]" else ("mapping", "{")
    return (
        f"the {what} opened with '{opener}' at {_at(start)} is not closed properly: expected "
        f"',' or '{close}' here (a value with {{ }} [ ] , or : in it needs quotes)",
        False,
    )


def _no_colon(_m: re.Match[str], start: Mark | None) -> tuple[str, bool]:
    return (
        f"{_at(start)} is not 'key: value': a ':' is missing after the key",
        True,
    )


def _alias(m: re.Match[str], _start: Mark | None) -> tuple[str, bool]:
    name = m.group(1)
    return f"*{name} refers to an anchor &{name} that is not defined before it", False


def _stray(m: re.Match[str], _start: Mark | None) -> tuple[str, bool]:
    return f"a stray {m.group(1)!r}: if it is part of a value, put the value in quotes", False


# PyYAML's problem text, and what to say: (sentence, True to point where the construct began).
_RULES: tuple[tuple[re.Pattern[str], _Rule], ...] = (
    (re.compile(r"expected <block end>, but found '(.*)'"), _indent),
    (re.compile(r"found character '\\t' that cannot start any token"), _tab),
    (re.compile(r"found character '(.)' that cannot start any token"), _bad_start),
    (re.compile(r"found unexpected end of stream"), _unclosed_quote),
    (re.compile(r"found unknown escape character '(.)'"), _escape),
    (re.compile(r"mapping values are not allowed here"), _colon),
    (re.compile(r"expected ',' or '([\]}])', but got"), _flow),
    (re.compile(r"could not find expected ':'"), _no_colon),
    (re.compile(r"found undefined alias '(.*)'"), _alias),
    (re.compile(r"expected the node content, but found '(.*)'"), _stray),
)


def _mark(mark: object) -> Mark | None:
    line, column = getattr(mark, "line", None), getattr(mark, "column", None)
    return (line + 1, column + 1) if isinstance(line, int) and isinstance(column, int) else None


def describe(exc: MarkedYAMLError) -> tuple[str, Mark | None]:
    """A plain sentence for ``exc``, and the 1-based (line, column) the author should look at."""
    problem = exc.problem or str(exc)
    at, start = _mark(exc.problem_mark), _mark(exc.context_mark)
    for pattern, rule in _RULES:
        m = pattern.search(problem)
        if m is not None:
            sentence, at_start = rule(m, start)
            return sentence, (start or at) if at_start else (at or start)
    return problem, at or start


def escape_warning(value: str) -> str | None:
    """Why a double-quoted value holding a control character is almost surely a mistake, or
    None. Tab, newline, carriage return, vertical tab and form feed mean the same character in
    YAML and in a regex, so they pass."""
    if "\x08" in value:
        return (
            'YAML read "\\b" in this double-quoted text as a backspace character, so a regex '
            "looks for a backspace, not a word boundary, and never matches; write the value in "
            "single quotes ('\\bDROP\\b') or double the backslash (\"\\\\bDROP\\\\b\")"
        )
    if re.search(r"[\x00-\x07\x0e-\x1f\x7f]", value):
        return (
            "a backslash escape in this double-quoted text made a control character; write the "
            "value in single quotes if the backslash belongs to it"
        )
    return None
