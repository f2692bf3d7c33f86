"""Compiled matchers: what a rule's ``match`` becomes at load time.

Each matcher answers two questions: ``matches(view)`` on the hot path, and ``why_not(view)`` for
`explain`, which returns None when it matches or a short sentence saying why not. Sentences name
paths and operators but never echo argument values, which may be sensitive.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from guardrails_plugin.policy.casefold import normalize_tool_name
from guardrails_plugin.policy.operators import MISSING, ValuePredicate
from guardrails_plugin.types import Finding, ToolCall

__all__ = [
    "AllOf",
    "AnyOf",
    "ArgMatcher",
    "CallView",
    "ContextMatcher",
    "DataMatcher",
    "Matcher",
    "Not",
    "ToolMatcher",
    "normalize_tool_name",
    "resolve_path",
]


class CallView:
    """What matchers read: one call, prepared once per evaluation."""

    __slots__ = ("args", "classes", "env", "on_behalf_of", "principal", "raw_tool", "tool")

    def __init__(self, call: ToolCall, findings: Iterable[Finding | str] = ()) -> None:
        self.raw_tool = call.tool
        self.tool = normalize_tool_name(call.tool)
        self.args: Mapping[str, Any] = call.args
        self.classes = frozenset(f if isinstance(f, str) else f.data_class for f in findings)
        principal = call.principal
        self.principal: Any = principal.agent if principal and principal.agent else MISSING
        self.on_behalf_of: Any = (
            principal.on_behalf_of if principal and principal.on_behalf_of else MISSING
        )
        self.env: Mapping[str, str] = call.environment


class Matcher(Protocol):
    def matches(self, view: CallView) -> bool: ...

    def why_not(self, view: CallView) -> str | None: ...


Segment = str | int | None  # None is the `*` wildcard


def resolve_path(root: Any, path: tuple[Segment, ...]) -> list[Any]:
    """Every value at ``path`` (several with ``*``); empty when the path does not exist."""
    current = [root]
    for seg in path:
        nxt: list[Any] = []
        for node in current:
            if seg is None:
                if isinstance(node, Mapping):
                    nxt.extend(node.values())
                elif isinstance(node, list | tuple):
                    nxt.extend(node)
            elif isinstance(node, Mapping):
                key = str(seg)
                if key in node:
                    nxt.append(node[key])
            elif (
                isinstance(node, list | tuple)
                and isinstance(seg, int)
                and -len(node) <= seg < len(node)
            ):
                nxt.append(node[seg])
        current = nxt
        if not current:
            break
    return current


class ToolMatcher:
    """Exact names and globs over the normalized tool name, or a predicate."""

    def __init__(
        self,
        exact: frozenset[str],
        globs: tuple[str, ...],
        predicate: ValuePredicate | None = None,
        shown: str = "",
    ) -> None:
        self.exact = exact
        self.globs = globs
        self.predicate = predicate
        self._glob_re = (
            re.compile("|".join(f"(?:{_glob_to_regex(g)})" for g in globs), re.DOTALL)
            if globs
            else None
        )
        self.shown = shown

    @property
    def only_exact_names(self) -> bool:
        return self.predicate is None and not self.globs and bool(self.exact)

    def matches_name(self, tool: str) -> bool:
        """``tool`` must already be normalized (`normalize_tool_name`)."""
        if self.predicate is not None:
            return self.predicate.test(tool)
        if tool in self.exact:
            return True
        return self._glob_re is not None and self._glob_re.match(tool) is not None

    def matches(self, view: CallView) -> bool:
        return self.matches_name(view.tool)

    def why_not(self, view: CallView) -> str | None:
        if self.matches(view):
            return None
        return f"tool {view.raw_tool!r} is not {self.shown}"


def _glob_to_regex(glob: str) -> str:
    # fnmatch.translate anchors with \Z, so the alternatives combine safely.
    return fnmatch.translate(glob)


class ArgMatcher:
    """A predicate over the value(s) at a dotted path into the arguments."""

    def __init__(self, path: tuple[Segment, ...], shown: str, predicate: ValuePredicate) -> None:
        self.path = path
        self.shown = shown
        self.test = predicate.test
        self.description = predicate.description
        self._simple = all(isinstance(s, str) for s in path)

    def matches(self, view: CallView) -> bool:
        if self._simple:
            node: Any = view.args
            for seg in self.path:
                if isinstance(node, Mapping) and seg in node:
                    node = node[seg]
                else:
                    return self.test(MISSING)
            return self.test(node)
        values = resolve_path(view.args, self.path)
        if not values:
            return self.test(MISSING)
        return any(self.test(v) for v in values)

    def why_not(self, view: CallView) -> str | None:
        if self.matches(view):
            return None
        if not resolve_path(view.args, self.path):
            return f"args.{self.shown} is missing (needs: {self.description})"
        return f"args.{self.shown} does not satisfy: {self.description}"


class ContextMatcher:
    """A predicate over the principal, the on-behalf-of identity or an environment label."""

    def __init__(self, field: str, label: str, predicate: ValuePredicate) -> None:
        self.field = field
        self.label = label
        self.test = predicate.test
        self.description = predicate.description
        self._get: Callable[[CallView], Any]
        if field == "environment":
            self._get = lambda v: v.env.get(label, MISSING)
        elif field == "principal":
            self._get = lambda v: v.principal
        else:
            self._get = lambda v: v.on_behalf_of

    def matches(self, view: CallView) -> bool:
        return self.test(self._get(view))

    def why_not(self, view: CallView) -> str | None:
        if self.matches(view):
            return None
        name = f"environment.{self.label}" if self.field == "environment" else self.field
        return f"context {name} does not satisfy: {self.description}"


class DataMatcher:
    """Data classes the masker found in the arguments (parent classes pre-expanded)."""

    def __init__(
        self,
        any_of: frozenset[str] | None,
        all_of: tuple[tuple[str, frozenset[str]], ...],
        none_of: frozenset[str] | None,
        shown: Mapping[str, list[str]],
    ) -> None:
        self.any_of = any_of
        self.all_of = all_of
        self.none_of = none_of
        self.shown = shown

    def matches(self, view: CallView) -> bool:
        classes = view.classes
        if self.any_of is not None and classes.isdisjoint(self.any_of):
            return False
        if any(classes.isdisjoint(expanded) for _, expanded in self.all_of):
            return False
        return self.none_of is None or classes.isdisjoint(self.none_of)

    def why_not(self, view: CallView) -> str | None:
        classes = view.classes
        if self.any_of is not None and classes.isdisjoint(self.any_of):
            return f"no data of class {', '.join(self.shown['contains'])} found in the arguments"
        missing = [name for name, expanded in self.all_of if classes.isdisjoint(expanded)]
        if missing:
            return f"no data of class {', '.join(missing)} found in the arguments"
        if self.none_of is not None and not classes.isdisjoint(self.none_of):
            found = sorted(classes & self.none_of)
            return f"data of class {', '.join(found)} found, the rule needs it absent"
        return None


class AllOf:
    def __init__(self, parts: list[Matcher]) -> None:
        self.parts = tuple(parts)

    def matches(self, view: CallView) -> bool:
        for p in self.parts:  # a loop, not all(genexpr): this is the hot path
            if not p.matches(view):
                return False
        return True

    def why_not(self, view: CallView) -> str | None:
        for p in self.parts:
            reason = p.why_not(view)
            if reason is not None:
                return reason
        return None


class AnyOf:
    def __init__(self, parts: list[Matcher]) -> None:
        self.parts = tuple(parts)

    def matches(self, view: CallView) -> bool:
        for p in self.parts:
            if p.matches(view):
                return True
        return False

    def why_not(self, view: CallView) -> str | None:
        reasons = []
        for p in self.parts:
            reason = p.why_not(view)
            if reason is None:
                return None
            reasons.append(reason)
        return "none of 'any' matched: " + "; ".join(reasons)


class Not:
    def __init__(self, inner: Matcher, shown: str = "the 'not' condition") -> None:
        self.inner = inner
        self.shown = shown

    def matches(self, view: CallView) -> bool:
        return not self.inner.matches(view)

    def why_not(self, view: CallView) -> str | None:
        return None if self.matches(view) else f"{self.shown} matched"
