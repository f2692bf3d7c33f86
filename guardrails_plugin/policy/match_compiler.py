"""Compile a rule's ``match`` block into matchers, reporting every bad part with its path."""

from __future__ import annotations

from typing import Any

from guardrails_plugin import data_classes
from guardrails_plugin.policy.matchers import (
    AllOf,
    AnyOf,
    ArgMatcher,
    ContextMatcher,
    DataMatcher,
    Matcher,
    Not,
    Segment,
    ToolMatcher,
    normalize_tool_name,
)
from guardrails_plugin.policy.operators import OperatorError, ValuePredicate, compile_predicate
from guardrails_plugin.policy.problems import Problems
from guardrails_plugin.policy.resolve import unknown_class
from guardrails_plugin.policy.schema import Match
from guardrails_plugin.policy.yamlsource import PathT, Source

__all__ = ["MatchCompiler"]


class MatchCompiler:
    def __init__(self, source: Source, problems: Problems) -> None:
        self.source = source
        self.problems = problems

    def predicate(self, raw: Any, path: PathT, *, scalar: str) -> ValuePredicate | None:
        """A predicate from a mapping, or from a plain value (``scalar`` = equals or glob)."""
        if isinstance(raw, list):
            self.problems.add(
                self.source,
                path,
                "a list needs an operator: write {in: [...]} or {equals: [...]}",
                value=raw,
            )
            return None
        spec = raw if isinstance(raw, dict) else {scalar: raw}
        if scalar == "glob" and not isinstance(raw, dict) and not isinstance(raw, str):
            spec = {"equals": raw}
        try:
            return compile_predicate(spec)
        except OperatorError as exc:
            sub = exc.path if isinstance(raw, dict) else ()
            self.problems.add(self.source, (*path, *sub), exc.message, value=exc.value)
            return None

    def tool(self, raw: Any, path: PathT) -> ToolMatcher | None:
        if isinstance(raw, dict):
            pred = self.predicate(raw, path, scalar="equals")
            return ToolMatcher(frozenset(), (), pred, pred.description) if pred else None
        names = raw if isinstance(raw, list) else [raw]
        if not names or not all(isinstance(n, str) and n.strip() for n in names):
            self.problems.add(
                self.source, path, "tool must be a name, a glob, or a list of them", value=raw
            )
            return None
        exact = frozenset(normalize_tool_name(n) for n in names if not _is_glob(n))
        globs = tuple(normalize_tool_name(n) for n in names if _is_glob(n))
        shown = repr(names[0]) if len(names) == 1 else f"one of {names}"
        return ToolMatcher(exact, globs, None, shown)

    def args_path(self, key: str, path: PathT) -> tuple[Segment, ...] | None:
        parts = key.split(".")
        if not key or any(p == "" for p in parts):
            self.problems.add(
                self.source,
                path,
                f"bad argument path {key!r}: use dotted keys like 'options.format' or "
                "'items.*.sku'",
                value=key,
                prefer_key=True,
            )
            return None
        return tuple(None if p == "*" else int(p) if p.isdigit() else p for p in parts)

    def data(self, raw: Any, path: PathT) -> DataMatcher | None:
        ok = True
        lists: dict[str, list[str]] = {}
        for key in ("contains", "contains_all", "absent"):
            names = getattr(raw, key)
            if names is None:
                continue
            if not names:
                self.problems.add(self.source, (*path, key), "needs at least one data class")
                ok = False
            for j, name in enumerate(names):
                if data_classes.get(name) is None:
                    self.problems.add(self.source, (*path, key, j), unknown_class(name), value=name)
                    ok = False
            lists[key] = list(names)
        if not ok:
            return None
        return DataMatcher(
            any_of=data_classes.expand(lists["contains"]) if "contains" in lists else None,
            all_of=tuple((n, data_classes.expand([n])) for n in lists.get("contains_all", [])),
            none_of=data_classes.expand(lists["absent"]) if "absent" in lists else None,
            shown=lists,
        )

    def match(self, m: Match, raw: Any, path: PathT) -> Matcher:
        tool, rest = self.split(m, raw, path)
        if tool is None:
            return rest
        return AllOf([tool, *rest.parts]) if isinstance(rest, AllOf) else AllOf([tool, rest])

    def split(self, m: Match, raw: Any, path: PathT) -> tuple[ToolMatcher | None, Matcher]:
        """The top-level tool condition apart from the rest. The engine checks the tool part once
        per tool name (it depends on nothing else) and the rest per call."""
        raw = raw if isinstance(raw, dict) else {}
        tool = self.tool(m.tool, (*path, "tool")) if m.tool is not None else None
        parts: list[Matcher] = []
        for key, spec in (m.args or {}).items():
            arg_path = (*path, "args", key)
            segs = self.args_path(key, arg_path)
            pred = self.predicate(spec, arg_path, scalar="equals")
            if segs is not None and pred is not None:
                parts.append(ArgMatcher(segs, key, pred))
        if m.data is not None:
            dm = self.data(m.data, (*path, "data"))
            if dm:
                parts.append(dm)
        if m.context is not None:
            ctx = (*path, "context")
            for name in ("principal", "on_behalf_of"):
                value = getattr(m.context, name)
                if value is not None:
                    pred = self.predicate(value, (*ctx, name), scalar="glob")
                    if pred:
                        parts.append(ContextMatcher(name, name, pred))
            for label, spec in (m.context.environment or {}).items():
                pred = self.predicate(spec, (*ctx, "environment", label), scalar="glob")
                if pred:
                    parts.append(ContextMatcher("environment", label, pred))
        for key, combine in (("any", AnyOf), ("all", AllOf)):
            subs = m.any_ if key == "any" else m.all_
            if subs is not None:
                if not subs:
                    self.problems.add(
                        self.source, (*path, key), f"'{key}' needs at least one match"
                    )
                raw_subs = raw.get(key) or []
                parts.append(
                    combine(
                        [
                            self.match(s, raw_subs[i] if i < len(raw_subs) else {}, (*path, key, i))
                            for i, s in enumerate(subs)
                        ]
                    )
                )
        if m.not_ is not None:
            inner = self.match(m.not_, raw.get("not"), (*path, "not"))
            parts.append(Not(inner))
        return tool, parts[0] if len(parts) == 1 else AllOf(parts)


def _is_glob(name: str) -> bool:
    return any(c in name for c in "*?[")
