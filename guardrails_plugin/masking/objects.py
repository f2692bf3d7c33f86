"""Objects the masker walks value by value and gives back as the same type, masked.

    pydantic model   fields, extra fields, private attributes  → a copy with the masked values set
    dataclass        fields                                     → ``dataclasses.replace``
    named tuple      fields                                     → ``_replace``
    registered type  the attributes named at registration       → the registered constructor

A tool's output reaches the model as the tool made it (a ``Document`` list, a LangGraph
``Command``), so the masker keeps the type instead of turning the object into a dict. The copy is
not validated again: a placeholder is no valid email address, and masking must not fail on a
validator. Only a dataclass's own ``__init__``/``__post_init__`` runs (``replace`` calls them), so
what it derives from its fields is derived from the masked values; if it refuses them, the value is
refused (`UnsupportedValue`) rather than passed raw.

A class the masker cannot read (no fields it knows) is converted to data by
`guardrails_plugin.payload.as_data`, or refused. `register_object` teaches it one more class; the
LangChain integration registers LangGraph's ``Send`` that way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

__all__ = ["Kind", "Parts", "kind_of", "register_object"]


@dataclass(frozen=True)
class Parts:
    """An object's values. ``named``: fields and private attributes, whose names are the
    class's, not data. ``extra``: a pydantic model's extra fields, whose keys are data (scanned
    and masked like a dict's)."""

    named: dict[str, Any]
    extra: dict[str, Any] | None = None


class Kind(Protocol):
    """How to read one sort of object, and copy it with other values."""

    def parts(self, value: Any) -> Parts: ...

    def copy(self, value: Any, changed: dict[str, Any], extra: dict[str, Any] | None) -> Any:
        """``value`` with the ``changed`` named values (and the whole ``extra`` mapping, unless
        None), not validated."""
        ...


class _Model:
    def parts(self, value: Any) -> Parts:
        state = value.__dict__
        named = {name: state[name] for name in type(value).model_fields if name in state}
        private = value.__pydantic_private__ or {}
        named.update((k, v) for k, v in private.items() if v is not PydanticUndefined)
        return Parts(named, value.__pydantic_extra__)

    def copy(self, value: Any, changed: dict[str, Any], extra: dict[str, Any] | None) -> Any:
        fields = type(value).model_fields
        copied = value.model_copy()  # shallow; keeps which fields were set; no validation
        state = copied.__dict__
        # Anything else in __dict__ (a cached_property) was computed from the raw fields: drop
        # it, so it is computed again from the masked ones.
        for name in [k for k in state if k not in fields]:
            del state[name]
        private = copied.__pydantic_private__
        for name, masked in changed.items():
            if name in fields:
                state[name] = masked
            else:
                private[name] = masked
        if extra is not None:
            object.__setattr__(copied, "__pydantic_extra__", extra)
        return copied


_MISSING = object()


class _Dataclass:
    def parts(self, value: Any) -> Parts:
        named = {f.name: getattr(value, f.name, _MISSING) for f in dataclasses.fields(value)}
        return Parts({k: v for k, v in named.items() if v is not _MISSING})

    def copy(self, value: Any, changed: dict[str, Any], extra: dict[str, Any] | None) -> Any:
        init = {f.name for f in dataclasses.fields(value) if f.init}
        copied = dataclasses.replace(value, **{k: v for k, v in changed.items() if k in init})
        for name, masked in changed.items():
            if name not in init:  # init=False: set after the fact, as the class itself does
                object.__setattr__(copied, name, masked)
        return copied


class _NamedTuple:
    def parts(self, value: Any) -> Parts:
        return Parts(dict(zip(value._fields, value, strict=True)))

    def copy(self, value: Any, changed: dict[str, Any], extra: dict[str, Any] | None) -> Any:
        return value._replace(**changed)


@dataclass(frozen=True)
class _Registered:
    attributes: tuple[str, ...]
    make: Callable[[Any, dict[str, Any]], Any]

    def parts(self, value: Any) -> Parts:
        return Parts({name: getattr(value, name) for name in self.attributes})

    def copy(self, value: Any, changed: dict[str, Any], extra: dict[str, Any] | None) -> Any:
        return self.make(value, {**self.parts(value).named, **changed})


_MODEL, _DATACLASS, _NAMED_TUPLE = _Model(), _Dataclass(), _NamedTuple()
_registered: dict[type, Kind] = {}


def register_object(
    cls: type, attributes: Sequence[str], make: Callable[[Any, dict[str, Any]], Any]
) -> None:
    """Let the masker walk instances of ``cls`` (exactly that class): it reads ``attributes``,
    and ``make(original, values)`` builds the masked copy from all of them, masked.

        register_object(Send, ("node", "arg"), lambda s, v: Send(v["node"], v["arg"]))
    """
    _registered[cls] = _Registered(tuple(attributes), make)


def kind_of(value: Any) -> Kind | None:
    """How to walk ``value``, or None: not an object the masker can read field by field."""
    cls = type(value)
    registered = _registered.get(cls)
    if registered is not None:
        return registered
    if isinstance(value, BaseModel):
        return _MODEL
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _DATACLASS
    if isinstance(value, tuple) and hasattr(cls, "_fields") and hasattr(cls, "_replace"):
        return _NAMED_TUPLE
    return None
