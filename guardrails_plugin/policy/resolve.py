"""Resolve what needs the whole policy: people and groups, approvers and quorum, masking."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from guardrails_plugin import data_classes
from guardrails_plugin.policy.directory import Directory, UnusableIdentity, canonical_identity
from guardrails_plugin.policy.problems import Problems
from guardrails_plugin.policy.schema import ApprovalSpec, MaskingSpec, PolicyDocument
from guardrails_plugin.policy.yamlsource import PathT, Source
from guardrails_plugin.types import ApprovalRequirement, Effect, MaskingSettings

__all__ = ["build_directory", "resolve_approval", "resolve_masking", "unknown_class"]

DEFAULT_TIMEOUT_SECONDS = 15 * 60


def build_directory(files: list[tuple[Source, PolicyDocument]], problems: Problems) -> Directory:
    people: dict[str, frozenset[str]] = {}
    owner: dict[str, str] = {}
    where: dict[str, Source] = {}
    for source, doc in files:
        for person, identities in doc.people.items():
            usable = []
            for j, raw in enumerate(identities):
                try:
                    usable.append(canonical_identity(raw))
                except UnusableIdentity as exc:
                    problems.add(source, ("people", person, j), str(exc), value=raw)
            identities = usable
            ids = frozenset(identities)
            if person in people and people[person] != ids:
                problems.add(
                    source,
                    ("people", person),
                    f"person {person!r} is defined differently in {where[person].file}",
                    prefer_key=True,
                )
                continue
            people[person] = ids
            where[person] = source
            for j, identity in enumerate(identities):
                if owner.get(identity, person) != person:
                    problems.add(
                        source,
                        ("people", person, j),
                        f"identity {identity!r} already belongs to {owner[identity]!r}; "
                        "an identity names one person",
                        value=identity,
                    )
                owner[identity] = person
    groups: dict[str, frozenset[str]] = {}
    group_where: dict[str, Source] = {}
    for source, doc in files:
        for group, members in doc.groups.items():
            if group in people:
                problems.add(
                    source,
                    ("groups", group),
                    f"{group!r} is both a person and a group; rename one",
                    prefer_key=True,
                )
            for j, member in enumerate(members):
                if member not in people:
                    known = ", ".join(sorted(people)) or "none defined"
                    problems.add(
                        source,
                        ("groups", group, j),
                        f"unknown person {member!r} in group {group!r}; people: {known}",
                        value=member,
                    )
            ms = frozenset(m for m in members if m in people)
            if group in groups and groups[group] != ms:
                problems.add(
                    source,
                    ("groups", group),
                    f"group {group!r} is defined differently in {group_where[group].file}",
                    prefer_key=True,
                )
                continue
            groups[group] = ms
            group_where[group] = source
    return Directory(people=people, groups=groups)


def _merged(rule: BaseModel | None, default: BaseModel) -> dict[str, Any]:
    out = {k: v for k, v in default.model_dump().items() if v is not None}
    if rule is not None:
        out.update({k: v for k, v in rule.model_dump().items() if v is not None})
    return out


def resolve_approval(
    spec: ApprovalSpec | None,
    defaults: ApprovalSpec,
    directory: Directory,
    source: Source,
    path: PathT,
    problems: Problems,
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
        sources=tuple(names),
        timeout_seconds=int(merged.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
        on_timeout=Effect.DENY,
        require_reason=bool(merged.get("require_reason", False)),
        allow_edit=bool(merged.get("allow_edit", False)),
        reviewer_view=str(merged.get("reviewer_view") or "partial"),
        authentication=merged.get("authentication") or None,
    )


def resolve_masking(
    spec: MaskingSpec | None, defaults: MaskingSpec, source: Source, path: PathT, problems: Problems
) -> MaskingSettings:
    classes = dict(defaults.classes or {})
    if spec is not None and spec.classes:
        classes.update(spec.classes)
    for name in (spec.classes if spec and spec.classes else {}) or {}:
        if data_classes.get(name) is None:
            problems.add(
                source,
                (*path, "classes", name),
                unknown_class(name),
                value=name,
                prefer_key=True,
            )
    strategy = (spec.strategy if spec else None) or defaults.strategy or "placeholder"
    restore = spec.restore_placeholders if spec and spec.restore_placeholders is not None else None
    if restore is None:
        restore = bool(defaults.restore_placeholders)
    return MaskingSettings(strategy=strategy, classes=classes, restore_placeholders=restore)


def unknown_class(name: str) -> str:
    return f"unknown data class {name!r}; known: {', '.join(data_classes.known())}"
