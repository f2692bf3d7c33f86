"""What a piece of SQL does, read by a real parser (sqlglot): the ``sql`` condition operator.

A regex cannot tell ``SELECT 1; COPY t TO PROGRAM 'sh'`` or ``WITH x AS (DELETE ... RETURNING *)
SELECT * FROM x`` from a read-only query. Here every statement is parsed and given *kinds*: its
own (``select``, ``delete``, ``drop`` ...) plus what hides inside it (a data-modifying CTE adds
``delete``; ``SELECT ... INTO`` adds ``select_into``; ``FOR UPDATE`` adds ``lock``; a function the
parser does not know as a side-effect-free built-in adds ``function``).

Databases disagree on comments, quotes and escapes, and an attacker picks text that one of them
reads differently (``--x`` is no comment in MySQL, ``$$`` is a string only in PostgreSQL, ``\\'``
escapes a quote only in MySQL). Unless the rule names its dialect, the text is parsed in each of
`DEFAULT_DIALECTS` and the kinds of all readings count. Text that any of those parsers cannot
read, that is too long, or that uses MySQL's executable comments (``/*! ... */``) could be
anything: it never satisfies ``only`` and always satisfies ``any``, so an allow rule does not
apply and a deny rule does.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

__all__ = [
    "DEFAULT_DIALECTS",
    "KINDS",
    "MAX_SQL_CHARS",
    "SqlCheck",
    "classify",
    "parse_operand",
]

# Parsing costs ~0.3-0.7 ms per dialect for a typical query and grows linearly (adversarial text at
# this size: ~0.5 s for all dialects); past it the text is "could be anything", not parsed.
MAX_SQL_CHARS = 8192

# The dialects read when a rule names none: the databases agents most often reach, chosen so
# their comment, quote and escape rules all get a say. BigQuery and ClickHouse reject standard
# '' escapes, so they are read only when named.
DEFAULT_DIALECTS: tuple[str, ...] = (
    "",
    "postgres",
    "mysql",
    "sqlite",
    "tsql",
    "oracle",
    "snowflake",
)

_STATEMENT_KINDS: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Select, "select"),
    (exp.SetOperation, "select"),  # UNION / INTERSECT / EXCEPT
    (exp.Subquery, "select"),
    (exp.Values, "select"),
    (exp.Insert, "insert"),
    (exp.Update, "update"),
    (exp.Delete, "delete"),
    (exp.Merge, "merge"),
    (exp.Drop, "drop"),
    (exp.TruncateTable, "truncate"),
    (exp.Create, "create"),
    (exp.Alter, "alter"),
    (exp.Comment, "alter"),
    (exp.Grant, "grant"),
    (exp.Revoke, "grant"),
    (exp.Copy, "copy"),
    (exp.LoadData, "copy"),
    (exp.Export, "copy"),
    (exp.Put, "copy"),
    (exp.Get, "copy"),
    (exp.Set, "set"),
    (exp.Use, "set"),
    (exp.Pragma, "set"),
    (exp.Show, "show"),
    (exp.Describe, "show"),
    (exp.Transaction, "transaction"),
    (exp.Commit, "transaction"),
    (exp.Rollback, "transaction"),
    (exp.Execute, "call"),
    (exp.Attach, "attach"),
    (exp.Detach, "attach"),
    (exp.Command, "command"),
)

# Statements nested anywhere inside another one (CTEs, subqueries) that change something.
_NESTED_WRITES = tuple(
    t for t, kind in _STATEMENT_KINDS if kind not in ("select", "show", "transaction")
)

# Built-ins sqlglot knows that read files or change state; any function it does not know at all
# (exp.Anonymous: pg_read_file, lo_export, dblink, xp_cmdshell, load_file, nextval, sleep, user
# functions) counts as `function` too, unless the rule lists it in `functions`.
_SIDE_EFFECT_FUNCTIONS: tuple[type[exp.Expr], ...] = (
    exp.ReadCSV,
    exp.ReadParquet,
    exp.ToFile,
    exp.NextValueFor,
)

KINDS: dict[str, str] = {
    "select": "SELECT, UNION/INTERSECT/EXCEPT, VALUES, TABLE t",
    "insert": "INSERT (and REPLACE)",
    "update": "UPDATE",
    "delete": "DELETE",
    "merge": "MERGE / upsert",
    "drop": "DROP of any object",
    "truncate": "TRUNCATE",
    "create": "CREATE of any object (CREATE TABLE AS included)",
    "alter": "ALTER, COMMENT ON",
    "grant": "GRANT, REVOKE",
    "copy": "COPY, LOAD DATA, EXPORT, PUT/GET (files and programs)",
    "set": "SET, USE, PRAGMA (session and database settings)",
    "show": "SHOW, DESCRIBE",
    "transaction": "BEGIN, COMMIT, ROLLBACK",
    "call": "EXEC / EXECUTE of procedures",
    "attach": "ATTACH / DETACH DATABASE",
    "command": "a statement the parser knows only by its first word (EXPLAIN, CALL, VACUUM, DO, "
    "LOCK ...)",
    "other": "any other statement",
    "select_into": "SELECT ... INTO (creates a table or writes variables)",
    "lock": "SELECT ... FOR UPDATE / FOR SHARE",
    "function": "a call to a function that is not a known side-effect-free built-in",
}

_log_guard = threading.local()


class _QuietWhileClassifying(logging.Filter):
    """sqlglot logs the statement text when it falls back to a plain command; that text is an
    argument value, which never goes to our logs. Other users of sqlglot are unaffected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_log_guard, "active", False)


logging.getLogger("sqlglot").addFilter(_QuietWhileClassifying())

Statements = tuple[frozenset[str], ...]


def classify(
    text: str, dialects: Iterable[str] = DEFAULT_DIALECTS, functions: frozenset[str] = frozenset()
) -> Statements | None:
    """The kinds of each statement of ``text`` read in every dialect, or None when it could be
    anything (unreadable in one of them, too long, or hiding executable comments)."""
    dialects = tuple(dialects)
    key = (hashlib.blake2b(text.encode("utf-8", "surrogatepass")).digest(), dialects, functions)
    found = _CACHE.get(key)
    if found is not _MISS:
        return found  # type: ignore[no-any-return]
    result = _classify(text, dialects, functions)
    _CACHE.put(key, result)
    return result


def _classify(text: str, dialects: tuple[str, ...], functions: frozenset[str]) -> Statements | None:
    if len(text) > MAX_SQL_CHARS or "/*!" in text or "/*M!" in text.upper():
        return None
    readings: list[frozenset[str]] = []
    _log_guard.active = True
    try:
        for dialect in dialects:
            try:
                parsed = sqlglot.parse(text, read=dialect or None)
            except Exception:  # noqa: BLE001 - ParseError, TokenError, RecursionError...: unreadable
                return None
            readings.extend(_kinds(node, functions) for node in parsed if node is not None)
    finally:
        _log_guard.active = False
    return tuple(readings)


def _kinds(statement: exp.Expr, functions: frozenset[str]) -> frozenset[str]:
    kinds = {_statement_kind(statement)}
    for node in statement.walk():
        if node is statement:
            continue
        if isinstance(node, _NESTED_WRITES):
            kinds.add(_statement_kind(node))
        elif isinstance(node, exp.Into):
            kinds.add("select_into")
        elif isinstance(node, exp.Lock):
            kinds.add("lock")
        elif isinstance(node, exp.Anonymous | exp.AnonymousAggFunc):
            if str(node.name).casefold() not in functions:
                kinds.add("function")
        elif isinstance(node, _SIDE_EFFECT_FUNCTIONS):
            kinds.add("function")
    return frozenset(kinds)


def _statement_kind(node: exp.Expr) -> str:
    for node_type, kind in _STATEMENT_KINDS:
        if isinstance(node, node_type):
            return kind
    if isinstance(node, exp.Anonymous):  # MySQL reads a bare VALUES (1) as a function call
        return "function"
    return "other"


# --- the operator's operand -----------------------------------------------------------------------


@dataclass(frozen=True)
class SqlCheck:
    """``only``: every statement is of these kinds; ``any``: some statement is of one of these."""

    only: frozenset[str] | None
    any: frozenset[str] | None
    dialects: tuple[str, ...]
    functions: frozenset[str]
    description: str

    def holds(self, value: Any) -> bool:
        statements = (
            classify(value, self.dialects, self.functions) if isinstance(value, str) else None
        )
        if statements is None:  # could be anything
            return self.only is None
        if self.only is not None and (
            not statements or any(not kinds <= self.only for kinds in statements)
        ):
            return False
        return self.any is None or any(kinds & self.any for kinds in statements)


def parse_operand(operand: Any) -> SqlCheck:
    """``{only: [...], any: [...], dialect: ..., functions: [...]}``; raises ValueError."""
    if not isinstance(operand, dict):
        raise ValueError(f"'sql' needs a mapping like {{only: [select]}}, got {operand!r}")
    unknown = sorted(set(operand) - {"only", "any", "dialect", "functions"})
    if unknown:
        raise ValueError(
            f"'sql' has unknown key {unknown[0]!r}; allowed: only, any, dialect, functions"
        )
    if "only" not in operand and "any" not in operand:
        raise ValueError("'sql' needs 'only' (every statement is one of these kinds) or 'any'")
    only = _kinds_operand(operand, "only")
    any_ = _kinds_operand(operand, "any")
    dialects = _dialects(operand.get("dialect"))
    functions = _names(operand.get("functions", []))
    parts = []
    if only is not None:
        parts.append(f"only {', '.join(sorted(only))} statements")
    if any_ is not None:
        parts.append(f"a {' or '.join(sorted(any_))} statement")
    where = "" if "dialect" not in operand else f" ({', '.join(d or 'generic' for d in dialects)})"
    return SqlCheck(only, any_, dialects, functions, f"is SQL with {' and '.join(parts)}{where}")


def _kinds_operand(operand: dict[str, Any], key: str) -> frozenset[str] | None:
    if key not in operand:
        return None
    value = operand[key]
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        raise ValueError(f"'sql.{key}' needs a non-empty list of statement kinds, got {value!r}")
    bad = [k for k in value if k not in KINDS]
    if bad:
        raise ValueError(
            f"'sql.{key}': unknown statement kind {bad[0]!r}; known: {', '.join(KINDS)}"
        )
    return frozenset(value)


def _dialects(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_DIALECTS
    names = value if isinstance(value, list) else [value]
    known = sorted(d.value for d in sqlglot.Dialects if d.value)
    if not names or not all(isinstance(n, str) and n in known for n in names):
        raise ValueError(f"'sql.dialect': {value!r} is not a dialect; known: {', '.join(known)}")
    return tuple(names)


def _names(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(n, str) and n for n in value):
        raise ValueError(f"'sql.functions' needs a list of function names, got {value!r}")
    return frozenset(n.casefold() for n in value)


# --- a small cache: agents repeat queries, and parsing in every dialect costs milliseconds ------

_MISS = object()


class _LRU:
    """Keyed by a digest of the text, so the cache holds no argument values."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key not in self._items:
                return _MISS
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.size:
                self._items.popitem(last=False)


_CACHE = _LRU(1024)
