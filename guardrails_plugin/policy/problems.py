"""Collect located problems so one `policy check` reports them all."""

from __future__ import annotations

from typing import Any

from guardrails_plugin.errors import PolicyError, PolicyProblem
from guardrails_plugin.policy.yamlsource import PathT, Source

__all__ = ["Problems"]


class Problems:
    """Collects problems so one `policy check` reports them all."""

    def __init__(self) -> None:
        self.items: list[PolicyProblem] = []

    def add(self, source: Source, path: PathT, message: str, **kw: Any) -> None:
        self.items.append(source.problem(path, message, **kw))

    def raise_if_any(self) -> None:
        if self.items:
            raise PolicyError(self.items)
