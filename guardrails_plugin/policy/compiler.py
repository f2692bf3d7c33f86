"""Turn policy files into compiled rules, or refuse with every problem located.

Stages: read each file (`yamlsource`), check its structure (`schema`), follow ``include:``, then
check what needs the whole policy (duplicate ids, people and groups, approvers and quorum, data
classes, regexes, CEL) while compiling matchers. A policy loads whole or not at all.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from guardrails_plugin import data_classes
from guardrails_plugin.errors import PolicyError, PolicyProblem
from guardrails_plugin.policy.cel import CelError, CelMatcher
from guardrails_plugin.policy.directory import Directory
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
from guardrails_plugin.policy.schema import (
    ApprovalSpec,
    Defaults,
    MaskingSpec,
    Match,
    PolicyDocument,
    Rule,
)
from guardrails_plugin.policy.yamlsource import PathT, Source, parse_source, read_source
from guardrails_plugin.types import ApprovalRequirement, Decision, Effect, MaskingSettings

__all__ = ["CompiledPolicy", "CompiledRule", "compile_file", "compile_text"]

MAX_INCLUDE_DEPTH = 16
DEFAULT_TIMEOUT_SECONDS = 15 * 60


@dataclass(frozen=True)
class CompiledRule:
    id: str
    index: int
    file: str
    line: int
    effect: Effect
    description: str | None
    matcher: Matcher
    decision: Decision
    # Normalized tool names this rule can only ever match, or None (globs, predicates, no tool).
    tool_names: frozenset[str] | None


@dataclass(frozen=True)
class CompiledPolicy:
    rules: tuple[CompiledRule, ...]
    default: Decision
    directory: Directory
    files: tuple[str, ...]


class _Problems:
    """Collects problems so one `policy check` reports them all."""

    def __init__(self) -> None:
        self.items: list[PolicyProblem] = []

    def add(self, source: Source, path: PathT, message: str, **kw: Any) -> None:
        self.items.append(source.problem(path, message, **kw))

    def raise_if_any(self) -> None:
        if self.items:
            raise PolicyError(self.items)


# --- reading and structure ----------------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    """Strip Optional[...] and Annotated[...] from a field annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _allowed_keys(loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed where an unknown key ``loc[-1]`` was found."""
    current: Any = PolicyDocument
    for part in loc[:-1]:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = next(
                (f for n, f in current.model_fields.items() if part in (n, f.alias)), None
            )
            if field is None:
                return None
            current = field.annotation
        elif origin is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(f.alias or n for n, f in current.model_fields.items())
    return None


def _pydantic_problems(source: Source, exc: ValidationError) -> list[PolicyProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p != "[key]")
        kind = err["type"]
        value = err.get("input")
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc)
            hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
            message = f"unknown key {loc[-1]!r}{hint}"
            problems.append(source.problem(loc, message, value=loc[-1], prefer_key=True))
            continue
        if kind == "missing":
            message = f"missing required key {loc[-1]!r}"
        elif kind in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            message = f"{value!r} is not one of {expected.replace(' or ', ', ')}"
        elif kind == "string_pattern_mismatch":
            pattern = err.get("ctx", {}).get("pattern", "")
            message = f"{value!r} is not allowed here (must match {pattern})"
        else:
            text = err["msg"]
            text = text.removeprefix("Value error, ")
            message = f"{text} (got {value!r})" if not isinstance(value, dict | list) else text
        problems.append(source.problem(loc, message, value=value))
    return problems


@dataclass
class _File:
    source: Source
    doc: PolicyDocument


def _load_tree(root: Source, base_dir: Path) -> list[_File]:
    """Root and every included file, included files first (depth-first, each file once)."""
    ordered: list[_File] = []
    seen: set[Path] = set()

    def visit(source: Source, here: Path, stack: tuple[Path, ...]) -> None:
        try:
            doc = PolicyDocument.model_validate(source.data)
        except ValidationError as exc:
            raise PolicyError(_pydantic_problems(source, exc)) from None
        for i, name in enumerate(doc.include):
            target = (here / name).resolve()
            if target in stack:
                chain = " -> ".join(p.name for p in (*stack, target))
                raise PolicyError([source.problem(("include", i), f"include cycle: {chain}")])
            if len(stack) >= MAX_INCLUDE_DEPTH:
                raise PolicyError(
                    [source.problem(("include", i), f"includes nest deeper than {MAX_INCLUDE_DEPTH}")]
                )
            if target in seen:
                continue
            seen.add(target)
            if not target.is_file():
                raise PolicyError(
                    [source.problem(("include", i), f"included file {str(target)!r} not found")]
                )
            visit(read_source(target), target.parent, (*stack, target))
        ordered.append(_File(source, doc))

    root_path = Path(root.file).resolve() if Path(root.file).is_file() else base_dir / root.file
    seen.add(root_path)
    visit(root, base_dir, (root_path,))
    return ordered


# --- people, groups, approvals, masking ---------------------------------------------------------


def _directory(files: list[_File], problems: _Problems) -> Directory:
    people: dict[str, frozenset[str]] = {}
    owner: dict[str, str] = {}
    where: dict[str, Source] = {}
    for f in files:
        for person, identities in f.doc.people.items():
            ids = frozenset(identities)
            if person in people and people[person] != ids:
                problems.add(
                    f.source,
                    ("people", person),
                    f"person {person!r} is defined differently in {where[person].file}",
                    prefer_key=True,
                )
                continue
            people[person] = ids
            where[person] = f.source
            for j, identity in enumerate(identities):
                if owner.get(identity, person) != person:
                    problems.add(
                        f.source,
                        ("people", person, j),
                        f"identity {identity!r} already belongs to {owner[identity]!r}; "
                        "an identity names one person",
                        value=identity,
                    )
                owner[identity] = person
    groups: dict[str, frozenset[str]] = {}
    for f in files:
        for group, members in f.doc.groups.items():
            if group in people:
                problems.add(
                    f.source,
                    ("groups", group),
                    f"{group!r} is both a person and a group; rename one",
                    prefer_key=True,
                )
            for j, member in enumerate(members):
                if member not in people:
                    known = ", ".join(sorted(people)) or "none defined"
                    problems.add(
                        f.source,
                        ("groups", group, j),
                        f"unknown person {member!r} in group {group!r}; people: {known}",
                        value=member,
                    )
            ms = frozenset(m for m in members if m in people)
            if group in groups and groups[group] != ms:
                problems.add(
                    f.source,
                    ("groups", group),
                    f"group {group!r} is defined differently in another file",
                    prefer_key=True,
                )
            groups[group] = ms
    return Directory(people=people, groups=groups)


def _merged(rule: BaseModel | None, default: BaseModel) -> dict[str, Any]:
    out = {k: v for k, v in default.model_dump().items() if v is not None}
    if rule is not None:
        out.update({k: v for k, v in rule.model_dump().items() if v is not None})
    return out


def _approval(
    spec: ApprovalSpec | None,
    defaults: ApprovalSpec,
    directory: Directory,
    source: Source,
    path: PathT,
    problems: _Problems,
) -> ApprovalRequirement | None:
    merged = _merged(spec, defaults)
    names: list[str] = merged.get("approvers") or []
    if not names:
        problems.add(
            source,
            (*path, "approvers"),
            "require_approval needs approvers: set approval.approvers on the rule or in "
            "defaults.approval (group or person names)",
        )
        return None
    approvers: set[str] = set()
    for j, name in enumerate(names):
        if name in directory.groups:
            approvers |= directory.groups[name]
        elif name in directory.people:
            approvers.add(name)
        else:
            problems.add(
                source,
                (*path, "approvers", j),
                f"unknown approver group {name!r}; groups: "
                f"{', '.join(sorted(directory.groups)) or 'none defined'}; people: "
                f"{', '.join(sorted(directory.people)) or 'none defined'}",
                value=name,
            )
    quorum = int(merged.get("quorum", 1))
    if approvers and quorum > len(approvers):
        problems.add(
            source,
            (*path, "quorum"),
            f"quorum {quorum} is larger than the {len(approvers)} people in approvers "
            f"{names}; lower it or add people",
            value=quorum,
        )
    return ApprovalRequirement(
        approvers=frozenset(approvers),
        identities={p: directory.identities_of(p) for p in sorted(approvers)},
        quorum=quorum,
        timeout_seconds=int(merged.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
        on_timeout=Effect.DENY,
        require_reason=bool(merged.get("require_reason", False)),
        allow_edit=bool(merged.get("allow_edit", False)),
    )


def _masking(
    spec: MaskingSpec | None, defaults: MaskingSpec, source: Source, path: PathT, problems: _Problems
) -> MaskingSettings:
    classes = dict(defaults.classes or {})
    if spec is not None and spec.classes:
        classes.update(spec.classes)
    for name in (spec.classes if spec and spec.classes else {}) or {}:
        if data_classes.get(name) is None:
            problems.add(
                source,
                (*path, "classes", name),
                _unknown_class(name),
                value=name,
                prefer_key=True,
            )
    strategy = (spec.strategy if spec else None) or defaults.strategy or "placeholder"
    restore = spec.restore_placeholders if spec and spec.restore_placeholders is not None else None
    if restore is None:
        restore = bool(defaults.restore_placeholders)
    return MaskingSettings(strategy=strategy, classes=classes, restore_placeholders=restore)


def _unknown_class(name: str) -> str:
    return f"unknown data class {name!r}; known: {', '.join(data_classes.known())}"


# --- matchers ------------------------------------------------------------------------------------


class _MatchCompiler:
    def __init__(self, source: Source, problems: _Problems) -> None:
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
                    self.problems.add(
                        self.source, (*path, key, j), _unknown_class(name), value=name
                    )
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
        raw = raw if isinstance(raw, dict) else {}
        parts: list[Matcher] = []
        if m.tool is not None:
            tm = self.tool(m.tool, (*path, "tool"))
            if tm:
                parts.append(tm)
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
                    self.problems.add(self.source, (*path, key), f"'{key}' needs at least one match")
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
        return parts[0] if len(parts) == 1 else AllOf(parts)


def _is_glob(name: str) -> bool:
    return any(c in name for c in "*?[")


def _tool_index(m: Match) -> frozenset[str] | None:
    tool = m.tool
    if isinstance(tool, str) and not _is_glob(tool):
        return frozenset([normalize_tool_name(tool)])
    if isinstance(tool, list) and tool and all(isinstance(t, str) and not _is_glob(t) for t in tool):
        return frozenset(normalize_tool_name(t) for t in tool)
    return None


# --- the whole policy ----------------------------------------------------------------------------


def _compile(files: list[_File]) -> CompiledPolicy:
    problems = _Problems()
    root = files[-1]
    if root.doc.defaults is None:
        problems.add(
            root.source,
            ("defaults",),
            "missing required key 'defaults': write the default posture, e.g. "
            "defaults: {effect: require_approval}",
        )
        problems.raise_if_any()
    defaults: Defaults = root.doc.defaults  # type: ignore[assignment]
    for f in files[:-1]:
        if f.doc.defaults is not None and f.doc.defaults != defaults:
            problems.add(
                f.source,
                ("defaults",),
                f"an included file may not change defaults (they come from {root.source.file}); "
                "remove them or make them identical",
                prefer_key=True,
            )
    directory = _directory(files, problems)

    default_approval = None
    if defaults.effect == "require_approval":
        default_approval = _approval(
            None, defaults.approval, directory, root.source, ("defaults", "approval"), problems
        )
    default_masking = _masking(None, defaults.masking, root.source, ("defaults", "masking"), problems)
    # Validate the defaults' own per-class strategies.
    for name in (defaults.masking.classes or {}):
        if data_classes.get(name) is None:
            problems.add(
                root.source, ("defaults", "masking", "classes", name), _unknown_class(name),
                prefer_key=True,
            )
    default = Decision(
        effect=Effect(defaults.effect),
        rule_id=None,
        reason=defaults.reason or f"no rule matched; the policy's default is {defaults.effect}",
        approval=default_approval,
        masking=default_masking,
    )

    rules: list[CompiledRule] = []
    first_seen: dict[str, PolicyProblem] = {}
    for f in files:
        raw_rules = f.source.data.get("rules") or []
        mc = _MatchCompiler(f.source, problems)
        for i, rule in enumerate(f.doc.rules):
            path: PathT = ("rules", i)
            here = f.source.problem((*path, "id"), "")
            if rule.id in first_seen:
                other = first_seen[rule.id]
                problems.add(
                    f.source,
                    (*path, "id"),
                    f"duplicate rule id {rule.id!r} (first defined at {other.file}:{other.line}); "
                    "rule ids must be unique",
                    value=rule.id,
                )
            else:
                first_seen[rule.id] = here
            raw = raw_rules[i] if i < len(raw_rules) else {}
            compiled = _compile_rule(rule, raw, path, f.source, mc, defaults, directory, problems)
            if compiled is not None:
                rules.append(dataclasses.replace(compiled, index=len(rules)))
    problems.raise_if_any()
    return CompiledPolicy(
        rules=tuple(rules),
        default=default,
        directory=directory,
        files=tuple(f.source.file for f in files),
    )


def _compile_rule(
    rule: Rule,
    raw: Mapping[str, Any],
    path: PathT,
    source: Source,
    mc: _MatchCompiler,
    defaults: Defaults,
    directory: Directory,
    problems: _Problems,
) -> CompiledRule | None:
    before = len(problems.items)
    matcher = mc.match(rule.match, raw.get("match"), (*path, "match"))
    if rule.when is not None:
        try:
            cel = CelMatcher(rule.when)
            matcher = AllOf([matcher, cel])
        except CelError as exc:
            problems.add(source, (*path, "when"), str(exc), value=rule.when)
    effect = Effect(rule.effect)
    approval = None
    if effect is Effect.REQUIRE_APPROVAL:
        approval = _approval(
            rule.approval, defaults.approval, directory, source, (*path, "approval"), problems
        )
    elif rule.approval is not None:
        problems.add(
            source,
            (*path, "approval"),
            f"approval settings only apply to require_approval, but effect is {rule.effect}",
            prefer_key=True,
        )
    masking = _masking(rule.masking, defaults.masking, source, (*path, "masking"), problems)
    if len(problems.items) > before:
        return None
    reason = rule.reason or rule.description or f"matched policy rule '{rule.id}'"
    line, _ = source.position(path)
    return CompiledRule(
        id=rule.id,
        index=0,
        file=source.file,
        line=line,
        effect=effect,
        description=rule.description,
        matcher=matcher,
        decision=Decision(effect, rule.id, reason, approval, masking),
        tool_names=_tool_index(rule.match),
    )


def compile_file(path: str | Path) -> CompiledPolicy:
    source = read_source(path)
    return _compile(_load_tree(source, Path(path).resolve().parent))


def compile_text(text: str, name: str = "<string>", base_dir: str | Path = ".") -> CompiledPolicy:
    source = parse_source(text, name)
    return _compile(_load_tree(source, Path(base_dir).resolve()))
