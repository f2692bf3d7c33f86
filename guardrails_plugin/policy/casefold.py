"""Case-insensitive comparison for the ``casefold`` operator: how values and operands fold."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from guardrails_plugin.confusables import HOMOGLYPHS

__all__ = ["fold", "fold_spec", "normalize_tool_name"]

# Zero-width and other format characters (category Cf) are dropped so `delete\u200b_db` cannot
# slip past a rule on `delete_db`; NFKC folds fullwidth and compatibility forms.
_FORMAT_CHARS = re.compile(
    r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    r"\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff"
    r"\uffa0\ufff0-\ufff8]"
)


def normalize_tool_name(name: str) -> str:
    """The form tool names are compared in: NFKC, format characters removed, Cyrillic and Greek
    look-alikes mapped to Latin, trimmed, casefolded. ``dеlete_db`` with a Cyrillic ``е`` is
    ``delete_db`` to a rule."""
    folded = unicodedata.normalize("NFKC", name)
    if not folded.isascii():
        folded = _FORMAT_CHARS.sub("", folded)
        folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
        folded = folded.translate(HOMOGLYPHS)
    return folded.strip().casefold()


def fold(value: Any) -> Any:
    """The form case-insensitive names are compared in, the same as tool names
    (`normalize_tool_name`: NFKC, format characters removed, look-alikes mapped to Latin,
    casefolded, trimmed); lists and mappings element by element."""
    if isinstance(value, str):
        return normalize_tool_name(value)
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
