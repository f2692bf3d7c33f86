"""A LangChain tool call's arguments as the tool will receive them.

The guard must judge the values the tool gets, not the model's text for them: pydantic turns
``"yes"`` into ``True`` and ``"5_000"`` into ``5000``, and a rule written against ``true`` or
``gt: 1000`` must see that. So, for a tool whose ``args_schema`` is a pydantic model (what
``@tool`` and ``StructuredTool`` build), the arguments are validated with that very schema
(its validators and settings included; LangChain's model-facing ``tool_call_schema`` is a copy
without them), and the guard checks the validated values as plain JSON data. What the tool then
runs with is validated again from exactly the data the guard allowed; if that does not give the
same values back (a validator that is not idempotent) the call is refused, because the guard
could no longer say what the tool would receive.

Only what the model supplied is the call: values LangChain injects (``ToolRuntime``,
``InjectedState``, ``InjectedStore``, ``InjectedToolCallId``) are kept out of the guard, the
policy and the audit log, and passed to the tool untouched.

Tools without a pydantic schema (``args_schema`` a JSON-schema dict, as MCP tools have, or none)
get the model's JSON as it is, so there is nothing to convert. A classic single-input ``Tool``
takes its one value under whatever key the model wrote (the schema it shows says ``__arg1``), so
that value is judged as ``{"__arg1": value}``: a rule on ``__arg1`` holds whatever the key.
"""

from __future__ import annotations

import functools
from collections.abc import Container, Mapping
from typing import Any

from langchain_core.tools import BaseTool, Tool
from pydantic import BaseModel, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError

from guardrails_plugin.errors import ToolDenied

__all__ = ["SINGLE_INPUT", "ToolArguments", "UncheckableArguments", "validation_errors"]

# The key a classic Tool's one input is judged under: the one LangChain shows the model.
SINGLE_INPUT = "__arg1"

# Values whose JSON form is themselves (exact types: an enum subclass of str is not).
_PLAIN = frozenset({str, int, bool, type(None)})

# Fields LangChain fills from the function's variadic parameters; never passed by name.
_VARIADIC = frozenset({"args", "kwargs"})


class UncheckableArguments(ToolDenied):
    """The guard cannot say which values the tool would receive, so the call is refused."""


class ToolArguments:
    """How one tool validates its arguments, and which of them the model supplies."""

    def __init__(self, tool: BaseTool | None) -> None:
        self.tool = tool
        schema = tool.args_schema if tool is not None else None
        self.schema: type[BaseModel] | None = None
        self.legacy = False
        self.injected: frozenset[str] = frozenset()
        # A classic Tool: one input, passed on whatever its key.
        self.single = isinstance(tool, Tool) and schema is None
        if isinstance(schema, type) and issubclass(schema, BaseModel) and tool is not None:
            self.injected = _injected_fields(tool, schema)
            self.schema = _checker(schema, self.injected)
        elif isinstance(schema, type):
            self.legacy = True  # a pydantic.v1 model: LangChain coerces with it, we cannot

    # --- GuardMiddleware: the model's raw JSON -> validated data ------------------------------

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The model's arguments as the tool will receive them, as JSON data (keys as the model
        wrote them). Raises pydantic's ValidationError when the tool would refuse them, and
        `UncheckableArguments` when they cannot be known exactly."""
        if self.schema is None:
            self._refuse_legacy()
            if self.single and len(raw) == 1:
                return {SINGLE_INPUT: next(iter(raw.values()))}
            return dict(raw)  # (a classic Tool refuses several values itself, without running)
        # A value the model wrote for an injected argument is dropped: LangChain injects its own.
        model = self.schema.model_validate({k: v for k, v in raw.items() if k not in self.injected})
        data = self._dump(model, by_alias=True)
        # The tool will validate `data` again: that must give these very values back.
        if self.schema.model_validate(data) != model:
            raise self._unstable()
        return data

    # --- guard_tools: LangChain already validated; typed values <-> data ----------------------

    def split(self, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(what the model supplied, what LangChain injected) from a tool's ``_run`` kwargs."""
        injected = self.injected | self._by_signature
        model = {k: v for k, v in kwargs.items() if k not in injected}
        return model, {k: v for k, v in kwargs.items() if k in injected}

    def as_data(self, typed: Mapping[str, Any]) -> dict[str, Any]:
        """Validated values (by field name) as the JSON data the guard checks."""
        if self.schema is None:
            self._refuse_legacy()
            return dict(typed)
        if all(type(v) in _PLAIN for v in typed.values()):
            return dict(typed)  # already JSON as it is (most calls): nothing to serialize
        fields = self.schema.model_fields
        known = {k: v for k, v in typed.items() if k in fields}
        model = self.schema.model_construct(_fields_set=set(known), **known)
        try:
            data = model.model_dump(mode="json", include=set(known), warnings=False)
        except PydanticSerializationError as exc:
            raise self._not_data(exc) from None
        return {**data, **{k: v for k, v in typed.items() if k not in fields}}

    def typed(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The values the tool runs with, validated from the data the guard allowed (after any
        reviewer's edit and placeholder restore); refused unless they give that data back."""
        if self.schema is None:
            return dict(data)
        model = self.schema.model_validate(dict(data), by_name=True)
        # Every value the tool will get: also the defaults of arguments a reviewer's edit left
        # out (an edit dropping `limit` must be judged with the default `limit`).
        fields = self.schema.model_fields
        values = {k: getattr(model, k) for k, info in fields.items() if self._passed(k, info, data)}
        values.update({k: v for k, v in (model.model_extra or {}).items() if k in data})
        # Compared as values, not as JSON text: a set's order in JSON is not significant.
        if self.schema.model_validate(self.as_data(values), by_name=True) != model:
            raise self._unstable()
        return values

    # --- helpers -------------------------------------------------------------------------------

    def _dump(self, model: BaseModel, *, by_alias: bool) -> dict[str, Any]:
        """The fields LangChain would pass the tool (given, or with a default), as data."""
        fields = type(model).model_fields
        given = model.model_fields_set
        keep = {
            name
            for name, info in fields.items()
            if name not in self.injected and self._passed(name, info, given)
        }
        try:
            data = model.model_dump(mode="json", include=keep, by_alias=by_alias)
        except PydanticSerializationError as exc:
            raise self._not_data(exc) from None
        return {**data, **(model.model_extra or {})}

    @functools.cached_property
    def _by_signature(self) -> frozenset[str]:
        # ToolRuntime and friends named in _run's signature, for tools without a schema field
        # (LangChain recomputes this from type hints on every access: once per tool is enough).
        keys: Any = getattr(self.tool, "_injected_args_keys", frozenset())
        return frozenset(keys) if isinstance(keys, frozenset | set) else frozenset()

    def _passed(self, name: str, info: FieldInfo, given: Container[str]) -> bool:
        """Whether LangChain passes field ``name`` to the tool: given, or one with a default
        (not an injected or variadic one)."""
        if name in given:
            return True
        return name not in self.injected and name not in _VARIADIC and not info.is_required()

    def _name(self) -> str:
        return self.tool.name if self.tool is not None else "the tool"

    def _unstable(self) -> UncheckableArguments:
        return UncheckableArguments(
            f"Denied: validating the arguments of {self._name()!r} again gives other values (a "
            "validator in its args_schema is not stable), so the guard cannot tell what the "
            "tool would receive and the call was not made."
        )

    def _not_data(self, exc: Exception) -> UncheckableArguments:
        return UncheckableArguments(
            f"Denied: the arguments of {self._name()!r} cannot be checked as data "
            f"({type(exc).__name__}), so the call was not made."
        )

    def _refuse_legacy(self) -> None:
        if self.legacy:
            raise UncheckableArguments(
                f"Denied: {self._name()!r} has a pydantic.v1 args_schema; the guard checks "
                "arguments as the tool validates them and supports pydantic v2 schemas only, "
                "so the call was not made."
            )


def _injected_fields(tool: BaseTool, schema: type[BaseModel]) -> frozenset[str]:
    """The schema's fields the model does not supply: those LangChain leaves out of the
    model-facing schema (its own test for injected types)."""
    facing = tool.tool_call_schema
    facing_fields = getattr(facing, "model_fields", None)
    if facing_fields is None:
        return frozenset()
    return frozenset(set(schema.model_fields) - set(facing_fields))


@functools.lru_cache(maxsize=512)
def _checker(schema: type[BaseModel], injected: frozenset[str]) -> type[BaseModel]:
    """``schema`` itself, or a subclass in which injected fields are optional: validators,
    aliases and settings stay, and the model's arguments validate without the injected ones."""
    if not injected:
        return schema
    overrides: dict[str, Any] = {name: (Any, None) for name in injected}
    checker: type[BaseModel] = create_model(
        f"{schema.__name__}ModelArguments", __base__=schema, **overrides
    )
    return checker


def validation_errors(exc: ValidationError) -> list[Any]:
    """The errors LangGraph reports to the model (those located in an argument)."""
    return [error for error in exc.errors() if error.get("loc")]
