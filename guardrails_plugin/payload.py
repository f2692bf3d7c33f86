"""Tool arguments and outputs as plain data: what the guard can check, mask, hash and store.

Frameworks hand the guard objects: pydantic models after validation, dataclasses, sets, enums,
datetimes, LangChain messages. The policy, the masker, the approval hash and the audit log must
all see the same thing, so the guard converts once, at its entry, into JSON-shaped data:

    pydantic model / dataclass   → dict of its fields (recursively)
    set / frozenset              → list, sorted by canonical JSON (stable across processes)
    tuple                        → tuple (JSON arrays; kept so content-and-artifact pairs survive)
    enum                         → its value
    bytes                        → text, if UTF-8
    datetime, date, UUID, Decimal, Path, ... → text, as pydantic writes them in JSON mode

Anything else (a file handle, a client, a callable, undecodable bytes, a cycle) raises
`UnsupportedValue`: the guard denies the call rather than pass or store something it cannot
check.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from guardrails_plugin.errors import UnsupportedValue

__all__ = ["MAX_DEPTH", "as_data", "plain_key", "require_finite", "where"]

MAX_DEPTH = 64

_sort_key = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode


def as_data(value: Any, *, at: tuple[str | int, ...] = ()) -> Any:
    """``value`` as plain data (see the module docstring), or `UnsupportedValue`. ``at``: where
    ``value`` sits in a larger payload, for the error message."""
    return _convert(value, at, 0, set())


# Field names: lowercase words joined by "_" or "-" or in camelCase (each hump a capital and
# lowercase letters), at most 32 characters, optionally ending in up to three digits
# ("user_id", "createdAt", "x-api-key", "field2"). Tokens are not like that: mixed case within a
# word, digits inside, long runs ("sk_live_4eC39HqLyjWDarjtT1zdp7dc").
_WORD = r"[a-z]+(?:[A-Z][a-z]+)*"
_IDENTIFIER = re.compile(rf"(?=.{{1,32}}\Z){_WORD}(?:[_-]{_WORD})*(?:[_-]?[0-9]{{1,3}})?")


@functools.lru_cache(maxsize=4096)
def plain_key(key: str) -> bool:
    """Whether ``key`` is a plain field name, which can hold nothing sensitive (the masker does
    not scan such keys; error messages may show them). Keys repeat across payloads far more than
    values do, hence the cache."""
    return _IDENTIFIER.fullmatch(key) is not None


def require_finite(value: Any, at: tuple[str | int, ...] = ()) -> None:
    """Refuse NaN and infinity in plain data (`UnsupportedValue`). A numeric rule cannot judge
    them (NaN is neither above nor below a limit), so arguments holding one are not checked
    but refused. Outputs are not held to this: nothing decides on them."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, at)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise UnsupportedValue(f"{where(path)} is {item!r}, which no rule can compare")
        if isinstance(item, Mapping):
            stack.extend((v, (*path, k)) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, (*path, i)) for i, v in enumerate(item))


def where(path: tuple[str | int, ...]) -> str:
    """A place in a payload, for an error message: ``['customer']['email']``. A key that is not
    a plain field name may be data itself (an email address as a key) and is shown as ``[…]``:
    these messages reach the model and the audit log."""
    if not path:
        return "the value"
    return "".join(f"[{p!r}]" if isinstance(p, int) or plain_key(p) else "[…]" for p in path)


def _convert(value: Any, path: tuple[str | int, ...], depth: int, active: set[int]) -> Any:
    # Plain JSON first: it is almost everything a model sends, and it costs one isinstance.
    if value is None or isinstance(value, str | bool | int | float):
        if isinstance(value, enum.Enum):
            return _convert(value.value, path, depth, active)
        return value
    if depth >= MAX_DEPTH:
        raise UnsupportedValue(f"{where(path)} is nested deeper than {MAX_DEPTH} levels")
    marker = id(value)
    if marker in active:
        raise UnsupportedValue(f"{where(path)} contains itself (a cycle)")
    active.add(marker)
    try:
        return _container(value, path, depth, active)
    finally:
        active.discard(marker)


def _container(value: Any, path: tuple[str | int, ...], depth: int, active: set[int]) -> Any:
    if isinstance(value, Mapping):
        return {
            _key(k, path): _convert(v, (*path, _key(k, path)), depth + 1, active)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_convert(v, (*path, i), depth + 1, active) for i, v in enumerate(value)]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_convert(v, (*path, i), depth + 1, active) for i, v in enumerate(value))
    if isinstance(value, set | frozenset):
        items = [_convert(v, (*path, i), depth + 1, active) for i, v in enumerate(value)]
        return sorted(items, key=_sort_key)
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise UnsupportedValue(
                f"{where(path)} is binary data ({len(bytes(value))} bytes, not UTF-8 text), "
                "which the guard cannot check"
            ) from None
    if isinstance(value, enum.Enum):
        return _convert(value.value, path, depth + 1, active)
    fields = _fields(value, path)
    if fields is not None:
        return {k: _convert(v, (*path, k), depth + 1, active) for k, v in fields.items()}
    return _scalar(value, path)


def _fields(value: Any, path: tuple[str | int, ...]) -> dict[str, Any] | None:
    """The fields of a pydantic model, dataclass or named tuple; None for anything else."""
    dump = getattr(type(value), "model_dump", None)
    if callable(dump) and hasattr(type(value), "model_fields"):
        try:
            dumped = value.model_dump(mode="python", round_trip=False, warnings=False)
        except Exception as exc:  # noqa: BLE001 - a model that cannot dump itself is refused
            raise UnsupportedValue(
                f"{where(path)} ({type(value).__name__}) could not be read as data: "
                f"{type(exc).__name__}"
            ) from None
        return dict(dumped) if isinstance(dumped, Mapping) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return dict(value._asdict())
    return None


def _scalar(value: Any, path: tuple[str | int, ...]) -> Any:
    """Dates, UUIDs, decimals, paths...: text the way pydantic writes them in JSON mode."""
    from pydantic_core import PydanticSerializationError, to_jsonable_python

    try:
        out = to_jsonable_python(value)
    except (PydanticSerializationError, TypeError, ValueError):
        out = None
    if out is None or not isinstance(out, str | int | float | bool):
        raise UnsupportedValue(
            f"{where(path)} is a {type(value).__module__}.{type(value).__qualname__}, which "
            "the guard cannot check; pass JSON data, a pydantic model or a dataclass"
        )
    return out


def _key(key: Any, path: tuple[str | int, ...]) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, enum.Enum):
        return _key(key.value, path)
    if isinstance(key, int | float):
        return str(key)
    raise UnsupportedValue(
        f"{where(path)} has a {type(key).__name__} key, which the guard cannot check; use text keys"
    )
