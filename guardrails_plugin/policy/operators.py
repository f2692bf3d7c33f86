"""Value operators used in argument and context predicates, behind one registry.

A predicate in YAML is a mapping of operator → operand (``{regex: "^prod", not: {equals: x}}``);
every operator present must hold. Built-in operators register through `register_operator`,
exactly like a user's own. Each compiles its operand once, at policy load, into a
`ValuePredicate`; evaluation then only calls plain functions.

Values come from tool arguments an agent wrote, so every operator tolerates any type: a value of
the wrong type simply does not match, and `MISSING` stands for an absent path.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from guardrails_plugin.policy import aws, sql
from guardrails_plugin.policy.casefold import fold, fold_spec
from guardrails_plugin.policy.regex import compile_author_regex

__all__ = [
    "BUILTIN_OPERATORS",
    "MISSING",
    "OperatorError",
    "ValuePredicate",
    "compile_predicate",
    "json_schema",
    "operator_names",
    "register_operator",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class OperatorError(ValueError):
    """A predicate that cannot compile. ``path`` is relative to the predicate's own position."""

    def __init__(self, path: tuple[str | int, ...], message: str, value: Any = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.value = value


@dataclass(frozen=True, slots=True)
class ValuePredicate:
    test: Callable[[Any], bool]
    description: str


Compiler = Callable[[Any, Callable[[Any, tuple[str | int, ...]], ValuePredicate]], ValuePredicate]


@dataclass(frozen=True)
class _Operator:
    name: str
    compile: Compiler
    schema: Mapping[str, Any]
    description: str


_lock = threading.Lock()
_operators: dict[str, _Operator] = {}


def register_operator(
    name: str, compile: Compiler, *, schema: Mapping[str, Any] | None = None, description: str = ""
) -> None:
    """Register ``name``. ``compile(operand, sub)`` returns a `ValuePredicate`; ``sub(spec, path)``
    compiles a nested predicate (for combinators). Raise `OperatorError` for a bad operand."""
    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise ValueError(f"operator name {name!r} must be lower_snake_case")
    with _lock:
        if name in _operators and _operators[name].compile is not compile:
            raise ValueError(f"operator {name!r} is already registered")
        _operators[name] = _Operator(name, compile, dict(schema or {}), description)


def operator_names() -> list[str]:
    return sorted(_operators)


def compile_predicate(spec: Any, path: tuple[str | int, ...] = ()) -> ValuePredicate:
    """Compile a predicate mapping. Raises `OperatorError` with the path of the bad part."""
    if not isinstance(spec, dict):
        raise OperatorError(
            path, f"expected a predicate mapping like {{equals: ...}}, got {spec!r}"
        )
    if not spec:
        raise OperatorError(path, f"empty predicate; use one of: {', '.join(operator_names())}")
    parts: list[ValuePredicate] = []
    for op_name, operand in spec.items():
        op = _operators.get(op_name)
        if op is None:
            raise OperatorError(
                (*path, op_name),
                f"unknown operator {op_name!r}; allowed: {', '.join(operator_names())}",
                op_name,
            )

        def sub(
            nested: Any, rel: tuple[str | int, ...], _base: tuple[str | int, ...] = (*path, op_name)
        ) -> ValuePredicate:
            return compile_predicate(nested, (*_base, *rel))

        try:
            parts.append(op.compile(operand, sub))
        except OperatorError:
            raise
        except (TypeError, ValueError) as exc:
            raise OperatorError((*path, op_name), str(exc), operand) from None
    if len(parts) == 1:
        return parts[0]
    tests = tuple(p.test for p in parts)

    def test(v: Any) -> bool:
        for t in tests:
            if not t(v):
                return False
        return True

    return ValuePredicate(test, " and ".join(p.description for p in parts))


def json_schema() -> dict[str, Any]:
    """JSON Schema of a predicate: a mapping of the registered operators, or a plain value."""
    props = {
        name: {**op.schema, "description": op.description}
        for name, op in sorted(_operators.items())
    }
    return {
        "description": "A plain value (equals) or a mapping of operators, all of which must hold.",
        "anyOf": [
            {"type": ["string", "number", "boolean", "null"]},
            {"type": "object", "properties": props, "minProperties": 1},
        ],
    }


# --- value helpers ------------------------------------------------------------------------------

_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _number(value: Any) -> float | None:
    """A comparable number, or None. Numeric strings count: models often send "5000"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < 2**63 else (math.inf if value > 0 else -math.inf)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str) and len(value) < 64 and _NUMBER.match(value):
        return float(value)
    return None


def _same(a: Any, b: Any) -> bool:
    """Equality that does not treat True as 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if type(a) is not type(b) and not (isinstance(a, list | tuple) and isinstance(b, list | tuple)):
        return False
    try:
        return bool(a == b)
    except RecursionError:
        return False


def _text(value: Any) -> str | None:
    """The text a regex or glob sees: strings as is, other JSON values as canonical JSON."""
    if value is MISSING:
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        return None


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# --- built-in operators -------------------------------------------------------------------------


def _equals(operand: Any, _sub: Any) -> ValuePredicate:
    return ValuePredicate(lambda v: _same(v, operand), f"equals {_short(operand)}")


def _in(operand: Any, _sub: Any) -> ValuePredicate:
    if not isinstance(operand, list) or not operand:
        raise ValueError(f"'in' needs a non-empty list of values, got {operand!r}")
    hashable = {x for x in operand if isinstance(x, str)}
    others = [x for x in operand if not isinstance(x, str)]

    def test(v: Any) -> bool:
        if isinstance(v, str):
            return v in hashable
        return any(_same(v, x) for x in others)

    return ValuePredicate(test, f"in {_short(operand)}")


def _regex(operand: Any, _sub: Any) -> ValuePredicate:
    if not isinstance(operand, str):
        raise ValueError(f"'regex' needs a string pattern, got {operand!r}")
    pattern = compile_author_regex(operand)  # RE2: linear in the text, whatever the pattern

    def test(v: Any) -> bool:
        text = _text(v)
        return text is not None and pattern.search(text) is not None

    return ValuePredicate(test, f"matches regex {operand!r}")


def _glob(operand: Any, _sub: Any) -> ValuePredicate:
    if not isinstance(operand, str):
        raise ValueError(f"'glob' needs a string pattern, got {operand!r}")
    pattern = re.compile(fnmatch.translate(operand), re.DOTALL)

    def test(v: Any) -> bool:
        return isinstance(v, str) and pattern.match(v) is not None

    return ValuePredicate(test, f"matches glob {operand!r}")


def _comparison(name: str, symbol: str, cmp: Callable[[float, float], bool]) -> Compiler:
    def compile(operand: Any, _sub: Any) -> ValuePredicate:
        bound = _number(operand)
        if bound is None or isinstance(operand, str):
            raise ValueError(f"'{name}' needs a number, got {operand!r}")

        def test(v: Any) -> bool:
            n = _number(v)
            return n is not None and cmp(n, bound)

        return ValuePredicate(test, f"{symbol} {operand}")

    return compile


def _exists(operand: Any, _sub: Any) -> ValuePredicate:
    if not isinstance(operand, bool):
        raise ValueError(f"'exists' needs true or false, got {operand!r}")
    if operand:
        return ValuePredicate(lambda v: v is not MISSING, "exists")
    return ValuePredicate(lambda v: v is MISSING, "is absent")


def _contains(operand: Any, _sub: Any) -> ValuePredicate:
    if isinstance(operand, dict | list):
        raise ValueError(f"'contains' needs a single value, got {operand!r}")

    def test(v: Any) -> bool:
        if isinstance(v, str):
            return isinstance(operand, str) and operand in v
        if isinstance(v, list | tuple):
            return any(_same(x, operand) for x in v)
        if isinstance(v, dict):
            return isinstance(operand, str) and operand in v
        return False

    return ValuePredicate(test, f"contains {_short(operand)}")


def _not(
    operand: Any, sub: Callable[[Any, tuple[str | int, ...]], ValuePredicate]
) -> ValuePredicate:
    inner = sub(operand, ())
    t = inner.test
    return ValuePredicate(lambda v: not t(v), f"not ({inner.description})")


def _combinator(name: str, quantifier: Callable[[Any], bool]) -> Compiler:
    def compile(
        operand: Any, sub: Callable[[Any, tuple[str | int, ...]], ValuePredicate]
    ) -> ValuePredicate:
        if not isinstance(operand, list) or not operand:
            raise ValueError(f"'{name}' needs a non-empty list of predicates, got {operand!r}")
        inner = [sub(spec, (i,)) for i, spec in enumerate(operand)]
        tests = tuple(p.test for p in inner)
        joiner = " or " if name == "any" else " and "
        return ValuePredicate(
            lambda v: quantifier(t(v) for t in tests),
            "(" + joiner.join(p.description for p in inner) + ")",
        )

    return compile


def _casefold(
    operand: Any, sub: Callable[[Any, tuple[str | int, ...]], ValuePredicate]
) -> ValuePredicate:
    if not isinstance(operand, dict):
        operand = {"equals": operand}
    inner = sub(fold_spec(operand), ())
    t = inner.test
    return ValuePredicate(
        lambda v: t(v if v is MISSING else fold(v)), f"ignoring case, {inner.description}"
    )


def _sql(operand: Any, _sub: Any) -> ValuePredicate:
    check = sql.parse_operand(operand)
    holds = check.holds
    return ValuePredicate(lambda v: v is not MISSING and holds(v), check.description)


def _aws_public_policy(operand: Any, _sub: Any) -> ValuePredicate:
    if not isinstance(operand, bool):
        raise ValueError(f"'aws_public_policy' needs true or false, got {operand!r}")
    if operand:
        return ValuePredicate(
            lambda v: v is not MISSING and aws.allows_public(v),
            "is an AWS policy that allows any principal",
        )
    return ValuePredicate(
        lambda v: v is not MISSING and not aws.allows_public(v),
        "is an AWS policy that allows no wildcard principal",
    )


_SQL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "only": {"type": "array", "items": {"enum": list(sql.KINDS)}, "minItems": 1},
        "any": {"type": "array", "items": {"enum": list(sql.KINDS)}, "minItems": 1},
        "dialect": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "functions": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}

_BUILTIN: list[tuple[str, Compiler, dict[str, Any], str]] = [
    ("equals", _equals, {}, "Equal to this value (true is not 1)."),
    ("in", _in, {"type": "array", "minItems": 1}, "Equal to one of these values."),
    ("regex", _regex, {"type": "string"}, "RE2 regex, searched; anchor with ^...$."),
    ("glob", _glob, {"type": "string"}, "Shell-style glob over the whole string."),
    ("gt", _comparison("gt", ">", lambda a, b: a > b), {"type": "number"}, "Greater than."),
    ("gte", _comparison("gte", ">=", lambda a, b: a >= b), {"type": "number"}, "At least."),
    ("lt", _comparison("lt", "<", lambda a, b: a < b), {"type": "number"}, "Less than."),
    ("lte", _comparison("lte", "<=", lambda a, b: a <= b), {"type": "number"}, "At most."),
    ("exists", _exists, {"type": "boolean"}, "The path is present (true) or absent (false)."),
    ("contains", _contains, {}, "Substring of a string, element of a list, key of a mapping."),
    ("not", _not, {"type": "object"}, "The nested predicate does not hold."),
    ("any", _combinator("any", any), {"type": "array"}, "At least one nested predicate holds."),
    ("all", _combinator("all", all), {"type": "array"}, "Every nested predicate holds."),
    (
        "casefold",
        _casefold,
        {},
        "The value, NFKC-normalized, casefolded and trimmed, satisfies the nested predicate.",
    ),
    (
        "sql",
        _sql,
        _SQL_SCHEMA,
        "SQL text classified by a parser: {only: [select]} or {any: [drop, truncate]}.",
    ),
    (
        "aws_public_policy",
        _aws_public_policy,
        {"type": "boolean"},
        "An AWS resource policy (JSON text or object) that allows any principal.",
    ),
]

BUILTIN_OPERATORS = tuple(name for name, *_ in _BUILTIN)

for _name, _compile, _schema, _description in _BUILTIN:
    register_operator(_name, _compile, schema=_schema, description=_description)
