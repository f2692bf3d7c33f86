"""Optional ``when:`` conditions in CEL (cel-python), for the rare rule that ``match`` can't say.

Compiled once at load. Evaluating CEL is much slower than a compiled matcher (tens of
microseconds against well under one), so ``match`` should narrow a rule first: the expression
only runs for calls the rule's ``match`` already accepted.

Variables: ``tool`` (string), ``args`` (map), ``data`` (list of data classes found),
``principal`` and ``on_behalf_of`` (strings, empty when unknown), ``env`` (map).
"""

from __future__ import annotations

import json
from typing import Any

from guardrails_plugin.policy.matchers import CallView
from guardrails_plugin.policy.operators import MISSING

__all__ = ["CelError", "CelMatcher"]


class CelError(ValueError):
    """An expression that does not compile, or an evaluation that failed.

    The message of an evaluation failure names only the kind of failure (``kind``): cel-python's
    own messages quote the values involved (``invalid literal for int(): 'sk-live-...'``), and
    this text ends up in decision reasons that Slack, ``pending`` and logs show.
    """

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind or message


# cel-python reports the Python exception behind a failure; its class says what went wrong
# without the values (the message would quote them).
_FAILURE_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (ZeroDivisionError, "division or modulo by zero"),
    (OverflowError, "a number overflowed"),
    (LookupError, "a key, field or index is missing"),
    (TypeError, "no operator or function accepts these value types"),
    (ValueError, "a value could not be converted"),
)


def _failure_kind(error: Any) -> str:
    """A value-free description of a `celpy.CELEvalError`."""
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    cause = args[1] if len(args) > 1 else None
    if isinstance(cause, type) and issubclass(cause, BaseException):
        if "re2" in cause.__module__ or cause.__name__ == "error":
            return "a regular expression failed"
        for base, kind in _FAILURE_KINDS:
            if issubclass(cause, base):
                return kind
    return "evaluation error"


class CelMatcher:
    def __init__(self, expression: str) -> None:
        try:
            import celpy
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise CelError(
                "'when' needs cel-python: pip install 'guardrails-plugin[cel]'"
            ) from None
        self.expression = expression
        self._celpy = celpy
        env = celpy.Environment()
        try:
            ast = env.compile(expression)
            self._program = env.program(ast)
        except celpy.celparser.CELParseError as exc:
            raise CelError(f"invalid CEL expression: {str(exc).splitlines()[0]}") from None

    def evaluate(self, view: CallView) -> bool:
        """True or False; raises `CelError` when the expression cannot be evaluated."""
        celpy = self._celpy
        # json round-trip: CEL sees plain JSON types whatever the tool passed.
        args = json.loads(json.dumps(dict(view.args), default=str))
        activation = {
            "tool": celpy.celtypes.StringType(view.tool),
            "args": celpy.json_to_cel(args),
            "data": celpy.json_to_cel(sorted(view.classes)),
            "principal": celpy.celtypes.StringType(
                "" if view.principal is MISSING else view.principal
            ),
            "on_behalf_of": celpy.celtypes.StringType(
                "" if view.on_behalf_of is MISSING else view.on_behalf_of
            ),
            "env": celpy.json_to_cel(dict(view.env)),
        }
        try:
            result: Any = self._program.evaluate(activation)
        except celpy.CELEvalError as exc:
            result = exc
        except Exception as exc:  # noqa: BLE001 - celpy leaks builtins; the engine fails closed
            raise _failed(type(exc).__name__) from None
        if isinstance(result, celpy.CELEvalError):
            raise _failed(_failure_kind(result)) from None
        if not isinstance(result, celpy.celtypes.BoolType):
            raise _failed(f"the expression gave a {_cel_type(result)}, not a bool")
        return bool(result)

    def matches(self, view: CallView) -> bool:
        return self.evaluate(view)

    def why_not(self, view: CallView) -> str | None:
        try:
            return None if self.evaluate(view) else f"when {self.expression!r} is false"
        except CelError as exc:
            return str(exc)


def _failed(kind: str) -> CelError:
    return CelError(f"CEL evaluation failed: {kind}", kind)


def _cel_type(value: Any) -> str:
    name = type(value).__name__
    return name.removesuffix("Type").lower() or name
