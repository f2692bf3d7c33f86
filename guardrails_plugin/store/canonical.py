"""One value, one byte form: the canonical JSON that keyed hashes and audit rows cover."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["canonical_json", "canonical_text"]


def _normalize(value: Any, depth: int = 0) -> Any:
    """JSON-safe form of tool arguments: deterministic, and refuses what cannot be made so."""
    if depth > 200:
        raise ValueError("arguments nested deeper than 200 levels")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return {"$float": repr(value)}
        return value
    if isinstance(value, Mapping):
        return {str(k): _normalize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, set | frozenset):
        return sorted((_normalize(v, depth + 1) for v in value), key=repr)
    # Never a repr: it would store whatever the object prints, raw. The guard converts objects
    # to data (guardrails_plugin.payload) before anything is hashed or written.
    raise TypeError(f"a {type(value).__name__} cannot be recorded; convert it to data first")


# Built once: json.dumps with non-default options builds a new encoder on every call, which
# showed up in the per-call profile of the allow path (two audit rows per call).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_text(value: Any) -> str:
    """Sorted keys, no whitespace, no NaN: one value, one form.

    Plain JSON values take json's C encoder directly; anything else (bytes, sets, NaN, custom
    objects) is normalised first. A given value always takes the same path.
    """
    try:
        return _CANONICAL(value)
    except (TypeError, ValueError):
        return _CANONICAL(_normalize(value))


def canonical_json(value: Any) -> bytes:
    """`canonical_text` as UTF-8 (lone surrogates escaped)."""
    return canonical_text(value).encode("utf-8", "backslashreplace")
