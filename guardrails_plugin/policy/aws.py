"""Does an AWS resource policy grant access to everyone? The ``aws_public_policy`` operator.

A regex over the text misses most of the shapes AWS accepts for "anyone": ``"Principal": "*"``,
``{"AWS": "*"}``, ``{"AWS": ["arn:...", "*"]}``, ``"\\u002a"``, extra whitespace, the document
given as an object instead of a string, a single ``Statement`` object instead of a list, and an
``Allow`` with ``NotPrincipal`` (everyone except the listed). Here the document is decoded and
every statement read the way AWS would, and pessimistically where readers could differ:
duplicate keys all count (a JSON reader may keep either), element names and ``Effect`` are
compared case-insensitively, a statement whose ``Effect`` is not ``Deny`` counts as an allow, and
any principal value containing ``*`` counts as a wildcard. A ``Condition`` may narrow a public
statement, but judging that is a reviewer's job: the statement still counts as public.

A value that does not decode to a policy document could be anything and counts as public.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["allows_public"]

_MAX_DEPTH = 64


class _Pairs:
    """A JSON object as its key/value pairs, duplicates kept (not a list: lists are arrays)."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: Iterable[tuple[str, Any]]) -> None:
        self.pairs = list(pairs)


def allows_public(value: Any) -> bool:
    """True if ``value`` (JSON text or a decoded object) has a statement open to everyone."""
    document = _decode(value)
    if document is None:
        return True
    try:
        # Without a Statement element the object is read as one statement: a tool may well wrap
        # what it is given, and AWS refuses it otherwise, so this only errs towards public.
        statements = list(_values(document, "statement")) or [document]
        for group in statements:
            for statement in group if isinstance(group, list) else [group]:
                if _public(statement):
                    return True
    except RecursionError:
        return True
    return False


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value.strip().lstrip("\ufeff"), object_pairs_hook=_Pairs)
        except (ValueError, RecursionError):
            return None
    else:
        value = _as_pairs(value, 0)
    return value if isinstance(value, _Pairs) else None


def _as_pairs(value: Any, depth: int) -> Any:
    """A decoded object (dicts) in the same shape json.loads gives with `_Pairs`."""
    if depth > _MAX_DEPTH:
        raise RecursionError
    if isinstance(value, dict):
        return _Pairs((str(k), _as_pairs(v, depth + 1)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return [_as_pairs(v, depth + 1) for v in value]
    return value


def _values(obj: Any, key: str) -> Iterator[Any]:
    """Every value of ``key`` in the object, compared case-insensitively."""
    if isinstance(obj, _Pairs):
        for k, v in obj.pairs:
            if k.strip().casefold() == key:
                yield v


def _public(statement: Any) -> bool:
    if not isinstance(statement, _Pairs):
        return False
    effects = [e for e in _values(statement, "effect")]
    if effects and all(isinstance(e, str) and e.strip().casefold() == "deny" for e in effects):
        return False
    if any(True for _ in _values(statement, "notprincipal")):
        return True  # Allow + NotPrincipal: everyone but the listed principals
    return any(_wildcard(p) for p in _values(statement, "principal"))


def _wildcard(principal: Any) -> bool:
    if isinstance(principal, str):
        return "*" in principal
    if isinstance(principal, list):
        return any(_wildcard(p) for p in principal)
    if isinstance(principal, _Pairs):
        return any(_wildcard(v) for _, v in principal.pairs)
    return False
