"""Walk any payload to its string leaves and rebuild it with masked leaves, types and key order
intact. JSON found inside strings is parsed, walked and re-serialised, recursively.

Hostile payloads are refused before anything is scanned: too deep, too many leaves, too much
text, or cyclic (`InputTooLarge`, which the guard turns into a denial).

Objects keep their type: pydantic models, dataclasses and named tuples are walked field by field
and rebuilt as the same type with masked values (`guardrails_plugin.masking.objects`); an object
with nothing to mask comes back as it is. Anything else (sets, bytes, dates...) is walked as the
plain data `guardrails_plugin.payload.as_data` makes of it and comes back as it was when nothing
in it is masked, else as that data masked; what cannot be converted is refused
(`UnsupportedValue`), never passed raw.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guardrails_plugin.errors import InputTooLarge, UnsupportedValue
from guardrails_plugin.masking.detectors.base import NO_SIBLINGS, Siblings
from guardrails_plugin.masking.labels import (
    LABEL_MARK,
    flag_key,
    label_is_known,
    label_reads_as_key,
    pair_key,
)
from guardrails_plugin.masking.objects import Kind, Parts, kind_of
from guardrails_plugin.payload import as_data, plain_key, where

__all__ = ["JSON_MARK", "KEY_MARK", "MASKED_NUMBER", "LeafRef", "Limits", "collect", "rebuild"]

# What a sensitive integer (a card or phone number stored as a number) is masked to: a number,
# so the payload keeps its types; 0 carries nothing of the value. The finding still names the
# class and path; no strategy can return a number the vault restores, so none is attempted.
MASKED_NUMBER = 0
JSON_MARK = "$json"  # path segment: the string at this point held JSON
KEY_MARK = "$key"  # path segment: the leaf is the key above, not its value


@dataclass(frozen=True)
class Limits:
    max_depth: int = 64
    max_leaves: int = 100_000
    max_chars: int = 5_000_000
    max_json_nesting: int = 4


@dataclass
class LeafRef:
    """A string leaf: where it is, what key sits above it, and its text."""

    path: tuple[str | int, ...]
    text: str
    key: str | None
    parents: tuple[str, ...]
    # The other keys of the mapping the value sits in: 'sku' and 'price' beside 'name' say
    # the name is a product's. One object per mapping, shared by its values.
    siblings: Siblings = NO_SIBLINGS


@dataclass
class _Walk:
    limits: Limits
    leaves: list[LeafRef] = field(default_factory=list)
    chars: int = 0
    active: set[int] = field(default_factory=set)


def _as_json(text: str) -> Any | None:
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] not in "{[" or stripped[-1] not in "}]":
        return None
    try:
        parsed = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict | list) else None


def collect(value: Any, limits: Limits) -> tuple[Any, list[LeafRef]]:
    """A shadow tree of the payload (JSON strings parsed) and its string leaves in order."""
    walk = _Walk(limits)
    shadow = _visit(walk, value, (), None, (), 0, 0)
    return shadow, walk.leaves


def _visit(
    walk: _Walk,
    value: Any,
    path: tuple[str | int, ...],
    key: str | None,
    parents: tuple[str, ...],
    depth: int,
    json_nesting: int,
    siblings: Siblings = NO_SIBLINGS,
) -> Any:
    if depth > walk.limits.max_depth:
        raise InputTooLarge(f"payload nested deeper than {walk.limits.max_depth} levels")
    if isinstance(value, str):
        parsed = _as_json(value) if json_nesting < walk.limits.max_json_nesting else None
        if parsed is not None:
            inner = _visit(
                walk, parsed, (*path, JSON_MARK), key, parents, depth + 1, json_nesting + 1
            )
            return _JsonString(inner, value)
        return _Leaf(_add_leaf(walk, LeafRef(path, value, key, parents, siblings)))
    # Scalars before the Mapping check: isinstance against an ABC is the slow path, and most
    # leaves of a tool payload are numbers, booleans or None.
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10**6:  # card and phone numbers arrive as integers too
            return _Number(_add_leaf(walk, LeafRef(path, str(value), key, parents, siblings)))
        return _Keep(value)
    if value is None or isinstance(value, bool | float):
        return _Keep(value)
    if isinstance(value, (dict, list, tuple, Mapping)):
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):
            kind = kind_of(value)  # a named tuple: an object, not an anonymous tuple
            if kind is not None:
                return _visit_object(walk, kind, value, path, key, parents, depth, json_nesting)
        marker = id(value)
        if marker in walk.active:
            raise InputTooLarge("payload is cyclic (it contains itself)")
        walk.active.add(marker)
        try:
            if isinstance(value, (dict, Mapping)):
                scope = (*parents, key) if key is not None else parents
                keys = {k: _key_leaf(walk, k, (*path, str(k), KEY_MARK), scope) for k in value}
                names = Siblings(str(k) for k in value)
                named = _named_by_label(value)
                return _Map(
                    {
                        k: _visit(
                            walk,
                            v,
                            (*path, str(k)),
                            named.get(k, str(k)),
                            scope,
                            depth + 1,
                            json_nesting,
                            names,
                        )
                        for k, v in value.items()
                    },
                    {k: i for k, i in keys.items() if i is not None},
                )
            items = []
            flag = None  # the secret the previous item, a flag, says this one is
            for i, v in enumerate(value):
                item_key = key if flag is None or _is_long_flag(v) else flag
                item = _visit(
                    walk, v, (*path, i), item_key, parents, depth + 1, json_nesting, siblings
                )
                items.append(item)
                flag = flag_key(v)
            return tuple(items) if isinstance(value, tuple) else items
        finally:
            walk.active.discard(marker)
    kind = kind_of(value)
    if kind is not None:
        return _visit_object(walk, kind, value, path, key, parents, depth, json_nesting)
    # Anything else (sets, bytes, dates...) is walked as the data it converts to; what cannot
    # be converted is refused.
    converted = as_data(value, at=path)
    first = len(walk.leaves)
    inner = _visit(walk, converted, path, key, parents, depth, json_nesting, siblings)
    return _Converted(inner, converted, range(first, len(walk.leaves)))


def _visit_object(
    walk: _Walk,
    kind: Kind,
    value: Any,
    path: tuple[str | int, ...],
    key: str | None,
    parents: tuple[str, ...],
    depth: int,
    json_nesting: int,
) -> _Object:
    """A model, dataclass or named tuple: each value under its name, as a mapping's would be
    (the names are the class's, so they are not scanned; a model's extra keys are)."""
    marker = id(value)
    if marker in walk.active:
        raise InputTooLarge("payload is cyclic (it contains itself)")
    walk.active.add(marker)
    try:
        try:
            parts = kind.parts(value)
        except Exception as exc:  # noqa: BLE001 - an object that cannot be read is refused
            raise UnsupportedValue(
                f"{where(path)} ({type(value).__qualname__}) could not be read: "
                f"{type(exc).__name__}"
            ) from None
        first = len(walk.leaves)
        scope = (*parents, key) if key is not None else parents
        named: dict[str, tuple[Any, range]] = {}
        fields = Siblings(parts.named)
        for name, item in parts.named.items():
            lo = len(walk.leaves)
            shadow = _visit(walk, item, (*path, name), name, scope, depth + 1, json_nesting, fields)
            named[name] = (shadow, range(lo, len(walk.leaves)))
        extra = None
        if parts.extra:
            lo = len(walk.leaves)
            shadow = _visit(walk, parts.extra, path, key, parents, depth, json_nesting)
            extra = (shadow, range(lo, len(walk.leaves)))
        return _Object(kind, parts, named, extra, range(first, len(walk.leaves)), path)
    finally:
        walk.active.discard(marker)


def _is_long_flag(value: Any) -> bool:
    """'--password-stdin' after '--password' is the next flag, not its value."""
    return isinstance(value, str) and value.startswith("--")


def _named_by_label(mapping: Mapping[Any, Any]) -> dict[Any, str | None]:
    """In a label/value pair (`guardrails_plugin.masking.labels`), the key each side is walked
    under: the value under the label's text; a label that is a key name under `LABEL_MARK`
    (kept), one that only holds a key word under none (scanned as text: 'phone +1 415…' under
    its 'type' key would be kept, under 'name' read as a person's name)."""
    pair = pair_key(mapping)
    if pair is None:
        return {}
    value_key, label = pair
    named: dict[Any, str | None] = {value_key: label}
    if label_is_known(label):
        mark = LABEL_MARK if label_reads_as_key(label) else None
        named.update({k: mark for k, v in mapping.items() if v is label})
    return named


def _key_leaf(
    walk: _Walk, key: Any, path: tuple[str | int, ...], parents: tuple[str, ...]
) -> int | None:
    """Keys are scanned too (a dict keyed by email address, a secret as a key), except plain
    identifiers, which can hold nothing sensitive and are most keys of most payloads."""
    if not isinstance(key, str) or plain_key(key):
        return None
    return _add_leaf(walk, LeafRef(path, key, None, parents))


def _add_leaf(walk: _Walk, ref: LeafRef) -> int:
    """Count ``ref`` against the limits and return its index."""
    walk.chars += len(ref.text)
    if walk.chars > walk.limits.max_chars:
        raise InputTooLarge(f"payload holds more than {walk.limits.max_chars:,} characters")
    walk.leaves.append(ref)
    if len(walk.leaves) > walk.limits.max_leaves:
        raise InputTooLarge(f"payload holds more than {walk.limits.max_leaves:,} strings")
    return len(walk.leaves) - 1


@dataclass(frozen=True)
class _Map:
    """A mapping: each value's shadow, and the leaf of each key that is scanned."""

    values: dict[Any, Any]
    keys: dict[Any, int]


@dataclass(frozen=True)
class _Leaf:
    index: int


@dataclass(frozen=True)
class _Number:
    """An integer scanned as its digits. It stays a number: unchanged when nothing in it is
    sensitive, else `MASKED_NUMBER` (a placeholder string would change the payload's type)."""

    index: int


@dataclass(frozen=True)
class _JsonString:
    inner: Any
    original: str


@dataclass(frozen=True)
class _Keep:
    value: Any


@dataclass(frozen=True)
class _Converted:
    """A value walked as the data it converts to; ``leaves``: the leaf indices under it."""

    inner: Any
    data: Any
    leaves: range


@dataclass(frozen=True)
class _Object:
    """An object walked field by field: each named value's shadow and leaf indices, the extra
    mapping's, and all the leaf indices under the object."""

    kind: Kind
    parts: Parts
    named: dict[str, tuple[Any, range]]
    extra: tuple[Any, range] | None
    leaves: range
    path: tuple[str | int, ...]


def _unique(name: str, taken: Mapping[Any, Any], counters: dict[str, int]) -> str:
    """A masked key that does not overwrite another (two addresses redacted to ``<EMAIL>``).
    ``counters`` remembers the last suffix per name, so 10,000 alike keys cost 10,000 steps."""
    if name not in taken:
        return name
    n = counters.get(name, 1)
    while True:
        n += 1
        if f"{name}#{n}" not in taken:
            counters[name] = n
            return f"{name}#{n}"


def rebuild(shadow: Any, original: Any, leaf_text: Callable[[int], str | None]) -> Any:
    """The payload with leaf ``i`` replaced by ``leaf_text(i)`` (None: unchanged)."""
    if isinstance(shadow, _Leaf):
        new = leaf_text(shadow.index)
        return original if new is None else new
    if isinstance(shadow, _Number):
        return original if leaf_text(shadow.index) is None else MASKED_NUMBER
    if isinstance(shadow, _JsonString):
        parsed = json.loads(shadow.original)
        rebuilt = rebuild(shadow.inner, parsed, leaf_text)
        if rebuilt == parsed:
            return shadow.original
        return _dumps_like(shadow.original, parsed, rebuilt)
    if isinstance(shadow, _Keep):
        return original
    if isinstance(shadow, _Object):
        return _rebuild_object(shadow, original, leaf_text)
    if isinstance(shadow, _Converted):
        if not _touched(shadow.leaves, leaf_text):
            return original
        return _retyped(original, rebuild(shadow.inner, shadow.data, leaf_text))
    if isinstance(shadow, _Map):
        source = original if isinstance(original, Mapping) else {}
        out: dict[Any, Any] = {}
        counters: dict[str, int] = {}
        for k, v in shadow.values.items():
            name = k
            if k in shadow.keys:
                masked = leaf_text(shadow.keys[k])
                name = k if masked is None else masked
            if isinstance(name, str):  # a key left as it is may equal a masked one ("<EMAIL>#2")
                name = _unique(name, out, counters)
            out[name] = rebuild(v, source.get(k), leaf_text)
        return out
    if isinstance(shadow, list | tuple):
        items = [rebuild(s, o, leaf_text) for s, o in zip(shadow, original, strict=True)]
        return tuple(items) if isinstance(shadow, tuple) else items
    return original


def _touched(leaves: range, leaf_text: Callable[[int], str | None]) -> bool:
    return any(leaf_text(i) is not None for i in leaves)


def _rebuild_object(shadow: _Object, original: Any, leaf_text: Callable[[int], str | None]) -> Any:
    """The same object when nothing in it is masked, else a copy of its type holding the masked
    values (`guardrails_plugin.masking.objects`)."""
    if not _touched(shadow.leaves, leaf_text):
        return original
    changed = {
        name: rebuild(inner, shadow.parts.named[name], leaf_text)
        for name, (inner, leaves) in shadow.named.items()
        if _touched(leaves, leaf_text)
    }
    extra = None
    if shadow.extra is not None and _touched(shadow.extra[1], leaf_text):
        extra = rebuild(shadow.extra[0], shadow.parts.extra, leaf_text)
    try:
        return shadow.kind.copy(original, changed, extra)
    except Exception as exc:  # noqa: BLE001 - refused rather than passed raw
        raise UnsupportedValue(
            f"{where(shadow.path)} ({type(original).__qualname__}) could not be rebuilt with "
            f"its masked values: {type(exc).__name__} (its __init__ or __post_init__ refused "
            "them); return plain data or a pydantic model from the tool"
        ) from None


def _retyped(original: Any, data: Any) -> Any:
    """Masked data back in the original's container type where that type can hold it: bytes stay
    bytes, sets stay sets; anything else (a date, a UUID) becomes its masked text."""
    if isinstance(original, bytes | bytearray | memoryview) and isinstance(data, str):
        return bytearray(data.encode()) if isinstance(original, bytearray) else data.encode()
    if isinstance(original, set | frozenset) and isinstance(data, list):
        try:
            return frozenset(data) if isinstance(original, frozenset) else set(data)
        except TypeError:  # items that became dicts or lists
            return data
    return data


# How common writers lay out JSON: json.dumps's default, compact (pydantic's model_dump_json,
# JavaScript's JSON.stringify), pretty-printed.
_LAYOUTS: tuple[dict[str, Any], ...] = (
    {},
    {"separators": (",", ":")},
    {"indent": 2},
    {"indent": 4},
)


def _dumps_like(original: str, parsed: Any, rebuilt: Any) -> str:
    """``rebuilt`` as JSON laid out as ``original`` was (indentation, separators, escapes), when
    that is one of the common layouts, so the model reads the tool's text with only the values
    masked; otherwise json.dumps's default layout."""
    stripped = original.strip()
    pretty = "\n" in stripped
    for ensure_ascii in (False, True) if stripped.isascii() else (False,):
        for layout in _LAYOUTS:
            if ("indent" in layout) != pretty:
                continue
            if json.dumps(parsed, ensure_ascii=ensure_ascii, **layout) == stripped:
                text = json.dumps(rebuilt, ensure_ascii=ensure_ascii, **layout)
                start = original.index(stripped[0])
                return original[:start] + text + original[start + len(stripped) :]
    return json.dumps(rebuilt, ensure_ascii=False)
