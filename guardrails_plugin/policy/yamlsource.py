"""Read a policy file into plain Python data while remembering where every value came from.

PyYAML's safe loader drops positions, accepts duplicate keys (last wins) and expands aliases
without limit. We compose the node graph ourselves instead, so that every error can name a line
and column, duplicate keys are refused, and alias bombs stop at a fixed node budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from guardrails_plugin.errors import PolicyError, PolicyProblem
from guardrails_plugin.policy.files import MAX_FILE_BYTES, NotReadable, Stamp, read_policy_bytes
from guardrails_plugin.policy.yamlerrors import describe, escape_warning

__all__ = ["MAX_FILE_BYTES", "MAX_NODES", "Source", "format_path", "read_source"]

# Constructed values, counting every expansion of an alias: a real 1 MiB policy stays far below.
MAX_NODES = 200_000
MAX_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"
_ALLOWED_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}

PathT = tuple[str | int, ...]


def format_path(path: PathT) -> str:
    """``("rules", 2, "effect")`` → ``rules[2].effect``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Source:
    """A parsed file: its data and the 1-based position of every value and key."""

    file: str
    data: Any
    values: dict[PathT, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathT, tuple[int, int]] = field(default_factory=dict)
    # Loadable but almost surely not what the author meant (a "\b" read as a backspace).
    warnings: list[PolicyProblem] = field(default_factory=list)
    # The bytes parsed and the version of the file they are of (None: parsed from a string).
    raw: bytes | None = field(default=None, repr=False)
    stamp: Stamp = None

    def position(self, path: PathT, *, prefer_key: bool = False) -> tuple[int, int]:
        """Position of ``path``, or of its closest ancestor that exists in the file."""
        p = tuple(path)
        while True:
            if prefer_key and p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
            if p in self.keys:
                return self.keys[p]
            if not p:
                return (1, 1)
            p = p[:-1]

    def rule_id(self, path: PathT) -> str | None:
        """The id of the rule ``path`` points into, if any and if it is a string."""
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            rules = self.data.get("rules") if isinstance(self.data, dict) else None
            if isinstance(rules, list) and 0 <= path[1] < len(rules):
                rule = rules[path[1]]
                if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                    return str(rule["id"])
        return None

    def problem(
        self, path: PathT, message: str, *, value: Any = None, prefer_key: bool = False
    ) -> PolicyProblem:
        line, column = self.position(path, prefer_key=prefer_key)
        return PolicyProblem(
            file=self.file,
            line=line,
            column=column,
            field=format_path(path),
            message=message,
            rule_id=self.rule_id(path),
            value=value,
        )


class _Builder:
    def __init__(self, file: str) -> None:
        self.source = Source(file=file, data=None)
        self.constructor = SafeConstructor()
        self.count = 0
        self.suspicious: list[tuple[PathT, str]] = []

    def fail(self, node: Node, path: PathT, message: str) -> PolicyError:
        mark = node.start_mark
        return PolicyError(
            [
                PolicyProblem(
                    file=self.source.file,
                    line=mark.line + 1,
                    column=mark.column + 1,
                    field=format_path(path),
                    message=message,
                )
            ]
        )

    def build(self, node: Node, path: PathT) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                path,
                f"the document expands to more than {MAX_NODES:,} values "
                "(YAML anchors/aliases used as a bomb?); simplify it",
            )
        if len(path) > MAX_DEPTH:
            raise self.fail(node, path, f"nested deeper than {MAX_DEPTH} levels")
        if node.tag not in _ALLOWED_TAGS and node.tag != _MERGE_TAG:
            raise self.fail(
                node, path, f"YAML tag {node.tag!r} is not allowed in a policy; use plain values"
            )
        self.source.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.fail(node, path, f"cannot read value: {exc}") from None
        if node.style == '"' and isinstance(value, str) and (why := escape_warning(value)):
            self.suspicious.append((path, why))
        return value

    def _mapping(self, node: MappingNode, path: PathT) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[tuple[MappingNode, PathT]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for src in sources:
                    if not isinstance(src, MappingNode):
                        raise self.fail(src, path, "a YAML merge key (<<) needs a mapping")
                    merged.append((src, path))
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.fail(key_node, path, "mapping keys must be plain strings")
            # The key's raw text: YAML 1.1 would turn `on:`/`yes:` keys into booleans.
            key = str(key_node.value)
            if key in out:
                raise self.fail(
                    key_node, (*path, key), f"duplicate key {key!r} (each key may appear once)"
                )
            self.source.keys[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = self.build(value_node, (*path, key))
        for src, base in merged:
            extra = self._mapping(src, base)
            for key, value in extra.items():
                out.setdefault(key, value)
        return out


def read_source(path: str | Path) -> Source:
    """Read and parse one policy file, refusing anything unsafe or oversized (`files`: a
    regular file only, read once, bounded). The `Source` keeps the bytes parsed and their
    stamp, so the digest a reload audits is of exactly what was loaded."""
    file = str(path)
    try:
        read = read_policy_bytes(file, MAX_FILE_BYTES)
    except NotReadable as exc:
        problem = PolicyProblem(file=file, line=0, column=0, field="", message=str(exc))
        raise PolicyError([problem]) from None
    try:
        text = read.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(
            [
                PolicyProblem(
                    file=file,
                    line=0,
                    column=0,
                    field="",
                    message=f"not valid UTF-8 (byte {exc.start}); save the policy as UTF-8",
                )
            ]
        ) from None
    source = parse_source(text, file)
    source.raw, source.stamp = read.data, read.stamp
    return source


def parse_source(text: str, file: str = "<string>") -> Source:
    builder = _Builder(file)
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        sentence, where = describe(exc)
        line, column = where or (0, 0)
        raise PolicyError(
            [PolicyProblem(file, line, column, "", f"invalid YAML: {sentence}")]
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError([PolicyProblem(file, 0, 0, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise PolicyError([PolicyProblem(file, 0, 0, "", "YAML nested too deeply")]) from None
    if len(documents) > 1:
        second = documents[1].start_mark
        raise PolicyError(
            [
                PolicyProblem(
                    file,
                    second.line + 1,
                    second.column + 1,
                    "",
                    "a policy file holds one YAML document; remove the '---' separator",
                )
            ]
        )
    if not documents or documents[0] is None:
        raise PolicyError([PolicyProblem(file, 0, 0, "", "the policy file is empty")])
    builder.source.data = builder.build(documents[0], ())
    if not isinstance(builder.source.data, dict):
        raise PolicyError(
            [PolicyProblem(file, 1, 1, "", "a policy must be a mapping with version and rules")]
        )
    source = builder.source
    source.warnings = [source.problem(path, why) for path, why in builder.suspicious]
    return source
