"""Case-insensitive comparison for the ``casefold`` operator: how values and operands fold."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = ["fold", "fold_spec"]


def fold(value: Any) -> Any:
    """The form case-insensitive names are compared in: NFKC, casefolded, outer whitespace
    removed; lists and mappings element by element."""
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).casefold().strip()
    if isinstance(value, list | tuple):
        return [fold(v) for v in value]
    if isinstance(value, Mapping):
        return {fold(str(k)): fold(v) for k, v in value.items()}
    return value


# Operators whose operands are literal values, folded like the value under `casefold`; a regex
# is left alone (write it for lower case, or use (?i)), as is any custom operator.
_LITERAL_OPERATORS = ("equals", "in", "contains", "glob")


def fold_spec(spec: Any) -> Any:
    """A predicate spec with its literal operands folded, so `casefold: {in: [Namespace]}` works."""
    if not isinstance(spec, dict):
        return fold(spec)  # a plain value means equals
    folded: dict[str, Any] = {}
    for name, operand in spec.items():
        if name in _LITERAL_OPERATORS:
            folded[name] = fold(operand)
        elif name == "not":
            folded[name] = fold_spec(operand)
        elif name in ("any", "all") and isinstance(operand, list):
            folded[name] = [fold_spec(o) for o in operand]
        else:
            folded[name] = operand
    return folded
