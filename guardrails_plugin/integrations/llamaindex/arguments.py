"""A LlamaIndex tool call's arguments, named: what the guard checks, and the call rebuilt from it.

LlamaIndex passes arguments positionally as often as by keyword: ``call_tool`` (behind
``llm.predict_and_call``) calls a one-parameter tool as ``tool(value)`` whenever the model's key
does not match the parameter's name, and ``tool("...")`` is how people call tools by hand. The
guard checks names (``args: {query: ...}``), so positional values are bound to their parameter
names first — by the function's signature for a ``FunctionTool``, by the tool's schema (whose
single default property is ``input``) for other tools — and the tool is then called in the
same shape (positional stays positional) with exactly the values the guard allowed.

The guard checks plain JSON data, and hands the tool back what it allowed as JSON data too; a
value that was not JSON when it came in (a pydantic model, a datetime, a set, passed by Python
code) is validated back into the parameter's annotated type before the tool gets it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError, PydanticSerializationUnexpectedValue

__all__ = ["Bound", "CallShape", "shape_of_function", "shape_of_schema"]

_P = inspect.Parameter
_JSON_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class CallShape:
    """How to name a tool's positional arguments and how to call it again from names.

    ``positional``: parameter names in the order positional values fill them (without
    ``*args``). ``star``: the ``*args`` parameter, if any. ``positional_only``: names that may
    only be passed positionally (``def f(x, /)``). ``annotations``: types to validate non-JSON
    values back into.
    """

    positional: tuple[str, ...]
    star: str | None = None
    positional_only: frozenset[str] = frozenset()
    star_kwargs: str | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)
    # What the function gets for a parameter nobody passes: the guard judges it too, and the
    # tool is then called with it explicitly (a rule on `limit` must see the default 5,000,000).
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Bound:
        """Name every argument. Raises TypeError as Python would for a call that cannot bind
        (too many positional values, a value given twice): the tool never runs."""
        named: dict[str, Any] = {}
        extra = list(args)
        for name in self.positional:
            if not extra:
                break
            named[name] = extra.pop(0)
        filled = len(named)
        if extra:
            if self.star is None:
                raise TypeError(
                    f"the tool takes {len(self.positional)} positional argument(s) but "
                    f"{len(args)} were given"
                )
            named[self.star] = extra
        for key, value in kwargs.items():
            if key in named:
                raise TypeError(f"the tool got multiple values for argument {key!r}")
            if key in self.positional_only and self.star_kwargs is None:
                raise TypeError(f"the tool's argument {key!r} is positional-only")
            named[key] = value
        for name, default in self.defaults.items():
            if name not in named:
                named[name] = _default_value(default)
        return Bound(named, filled)

    def as_data(self, bound: Bound) -> dict[str, Any]:
        """The named arguments as the guard checks them: plain JSON data. A value that is not
        (a pydantic model, a date, a set) is serialized by its parameter's annotated type, so
        `call_args` can validate it back into exactly that type; without an annotation it is
        left to the guard, which converts what it can and refuses the rest."""
        return {name: self._dump(name, value) for name, value in bound.named.items()}

    def call_args(
        self, allowed: Mapping[str, Any], bound: Bound
    ) -> tuple[list[Any], dict[str, Any]]:
        """(positional, keyword) arguments for the tool: the values the guard allowed, typed
        as they came in, in the shape of the original call (positional stays positional)."""
        values = {k: self._load(k, v, bound.named.get(k)) for k, v in allowed.items()}
        positional: list[Any] = []
        star = list(values.pop(self.star, ())) if self.star else []
        for name in self.positional[: bound.positional]:
            if name not in values:
                break  # a reviewer's edit dropped it: the rest go by keyword
            positional.append(values.pop(name))
        return positional + star, values

    def _dump(self, name: str, value: Any) -> Any:
        adapter = None if _is_json(value) else self._adapter(name)
        if adapter is None:
            return value
        try:
            return adapter.dump_python(value, mode="json", warnings="error")
        except (PydanticSerializationError, PydanticSerializationUnexpectedValue, ValueError):
            return value  # not of its annotated type: the guard converts or refuses it

    def _load(self, name: str, value: Any, received: Any) -> Any:
        if _is_json(received):
            return value  # JSON in, JSON out: what an agent's model sent stays as it was
        adapter = self._adapter(name)
        return value if adapter is None else adapter.validate_python(value)

    def _adapter(self, name: str) -> TypeAdapter[Any] | None:
        annotation = self.annotations.get(name, _P.empty)
        if annotation is _P.empty or annotation is Any:
            return None
        return _type_adapter(list[annotation] if name == self.star else annotation)  # type: ignore[valid-type]


@dataclass(frozen=True)
class Bound:
    """A call's arguments by name; the first ``positional`` parameters came positionally."""

    named: dict[str, Any]
    positional: int


def shape_of_function(fn: Callable[..., Any], skip: frozenset[str] = frozenset()) -> CallShape:
    """The shape of a plain function (``skip``: parameters the agent injects, e.g. ``ctx``)."""
    try:
        signature = inspect.signature(fn, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        signature = inspect.signature(fn)  # a string annotation we cannot resolve: no type
    except ValueError:  # no signature (a builtin): LlamaIndex's convention, one "input"
        return CallShape(("input",))
    positional, positional_only, annotations, defaults = [], set(), {}, {}
    star = star_kwargs = None
    for param in signature.parameters.values():
        if param.name in skip:
            continue
        annotations[param.name] = param.annotation
        if param.default is not _P.empty:
            defaults[param.name] = param.default
        if param.kind is _P.VAR_POSITIONAL:
            star = param.name
        elif param.kind is _P.VAR_KEYWORD:
            star_kwargs = param.name
        elif param.kind is not _P.KEYWORD_ONLY:
            positional.append(param.name)
            if param.kind is _P.POSITIONAL_ONLY:
                positional_only.add(param.name)
    return CallShape(
        tuple(positional), star, frozenset(positional_only), star_kwargs, annotations, defaults
    )


def _default_value(default: Any) -> Any:
    """A parameter's default as the function will get it (``= Field(default=...)`` included,
    as LlamaIndex resolves it)."""
    if isinstance(default, FieldInfo):
        return default.get_default(call_default_factory=True)
    return default


def shape_of_schema(parameters: Mapping[str, Any], annotations: Mapping[str, Any]) -> CallShape:
    """The shape of a tool known only by its JSON schema (``get_parameters_dict()``)."""
    names = tuple(parameters.get("properties") or {"input": {}})
    return CallShape(names, annotations=annotations)


def _type_adapter(annotation: Any) -> TypeAdapter[Any]:
    try:
        return _cached_adapter(annotation)
    except TypeError:  # an unhashable annotation
        return TypeAdapter(annotation)


@functools.lru_cache(maxsize=256)
def _cached_adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _is_json(value: Any) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False
