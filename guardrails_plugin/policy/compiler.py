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
from guardrails_plugin.policy.files import Stamp, bytes_digest
from guardrails_plugin.policy.match_compiler import MatchCompiler
from guardrails_plugin.policy.matchers import AllOf, Matcher, ToolMatcher
from guardrails_plugin.policy.problems import Problems
from guardrails_plugin.policy.resolve import (
    build_directory,
    resolve_approval,
    resolve_masking,
    unknown_class,
)
from guardrails_plugin.policy.schema import (
    Defaults,
    Match,
    PolicyDocument,
    Rule,
)
from guardrails_plugin.policy.yamlsource import PathT, Source, parse_source, read_source
from guardrails_plugin.types import Decision, Effect

__all__ = ["CompiledPolicy", "CompiledRule", "compile_file", "compile_text"]

MAX_INCLUDE_DEPTH = 16


@dataclass(frozen=True)
class CompiledRule:
    id: str
    index: int
    file: str
    line: int
    effect: Effect
    description: str | None
    matcher: Matcher  # the whole condition, for explain
    decision: Decision
    # The hot path: `tool` is decided once per tool name, `rest` per call.
    tool: ToolMatcher | None
    rest: Matcher
    tool_only: bool = False  # nothing but the tool name decides whether it matches
    # Data classes the rule's `data` matches name (for warnings, not for matching).
    named_classes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CompiledPolicy:
    rules: tuple[CompiledRule, ...]
    default: Decision
    directory: Directory
    files: tuple[str, ...]
    warnings: tuple[PolicyProblem, ...] = ()  # loads, but likely not what the author meant
    # SHA-256 of the bytes parsed (all files, in order) and the version of each file they are
    # of: what a reload audits and what the watcher compares with (None/(): not all from files).
    digest: str | None = None
    stamps: tuple[Stamp, ...] = ()


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
            field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
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
        elif kind in ("model_type", "dict_type") and value is None and loc:
            # `match:` with its keys at the same indentation as itself: YAML reads it as empty.
            message = (
                f"{loc[-1]!r} is empty: indent the keys that belong to it further than "
                f"{loc[-1]!r} itself"
            )
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
                    [
                        source.problem(
                            ("include", i), f"includes nest deeper than {MAX_INCLUDE_DEPTH}"
                        )
                    ]
                )
            if target in seen:
                continue
            seen.add(target)
            if not target.exists():  # anything else is read_source's to refuse (a FIFO...)
                raise PolicyError(
                    [source.problem(("include", i), f"included file {str(target)!r} not found")]
                )
            visit(read_source(target), target.parent, (*stack, target))
        ordered.append(_File(source, doc))

    root_path = Path(root.file).resolve() if Path(root.file).is_file() else base_dir / root.file
    seen.add(root_path)
    visit(root, base_dir, (root_path,))
    return ordered


# --- the whole policy ----------------------------------------------------------------------------


def _compile(files: list[_File]) -> CompiledPolicy:
    problems = Problems()
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
    directory = build_directory([(f.source, f.doc) for f in files], problems)

    default_approval = None
    if defaults.effect == "require_approval":
        default_approval = resolve_approval(
            None, defaults.approval, directory, root.source, ("defaults", "approval"), problems
        )
    default_masking = resolve_masking(
        None, defaults.masking, root.source, ("defaults", "masking"), problems
    )
    # Validate the defaults' own per-class strategies.
    for name in defaults.masking.classes or {}:
        if data_classes.get(name) is None:
            problems.add(
                root.source,
                ("defaults", "masking", "classes", name),
                unknown_class(name),
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
        mc = MatchCompiler(f.source, problems)
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
        warnings=tuple(w for f in files for w in f.source.warnings),
        **_read_from(files),
    )


def _read_from(files: list[_File]) -> dict[str, Any]:
    raws = [f.source.raw for f in files]
    if any(raw is None for raw in raws):
        return {}
    return {
        "digest": bytes_digest([raw for raw in raws if raw is not None]),
        "stamps": tuple(f.source.stamp for f in files),
    }


def _compile_rule(
    rule: Rule,
    raw: Mapping[str, Any],
    path: PathT,
    source: Source,
    mc: MatchCompiler,
    defaults: Defaults,
    directory: Directory,
    problems: Problems,
) -> CompiledRule | None:
    before = len(problems.items)
    tool, rest = mc.split(rule.match, raw.get("match"), (*path, "match"))
    if rule.when is not None:
        try:
            cel = CelMatcher(rule.when)
            rest = AllOf([rest, cel])
        except CelError as exc:
            problems.add(source, (*path, "when"), str(exc), value=rule.when)
    effect = Effect(rule.effect)
    approval = None
    if effect is Effect.REQUIRE_APPROVAL:
        approval = resolve_approval(
            rule.approval, defaults.approval, directory, source, (*path, "approval"), problems
        )
    elif rule.approval is not None:
        problems.add(
            source,
            (*path, "approval"),
            f"approval settings only apply to require_approval, but effect is {rule.effect}",
            prefer_key=True,
        )
    masking = resolve_masking(rule.masking, defaults.masking, source, (*path, "masking"), problems)
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
        matcher=rest if tool is None else AllOf([tool, rest]),
        decision=Decision(effect, rule.id, reason, approval, masking),
        tool=tool,
        rest=rest,
        tool_only=isinstance(rest, AllOf) and not rest.parts,
        named_classes=_named_classes(rule.match),
    )


def _named_classes(match: Match | None) -> frozenset[str]:
    """The classes a match's ``data: {contains, contains_all}`` name, through any/all/not."""
    if match is None:
        return frozenset()
    names: set[str] = set()
    if match.data is not None:
        names.update(match.data.contains or ())
        names.update(match.data.contains_all or ())
    for sub in (*(match.any_ or ()), *(match.all_ or ()), match.not_):
        names |= _named_classes(sub)
    return frozenset(names)


def compile_file(path: str | Path) -> CompiledPolicy:
    source = read_source(path)
    return _compile(_load_tree(source, Path(path).resolve().parent))


def compile_text(text: str, name: str = "<string>", base_dir: str | Path = ".") -> CompiledPolicy:
    source = parse_source(text, name)
    return _compile(_load_tree(source, Path(base_dir).resolve()))
