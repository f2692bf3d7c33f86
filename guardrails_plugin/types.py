"""Core value types. Plain frozen dataclasses: no framework type crosses into the core.

Adapters convert LangChain / LlamaIndex objects into a `ToolCall` at the edge; the policy turns
a call plus the masker's `Finding`s into a `Decision`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApprovalRequirement",
    "Decision",
    "Effect",
    "Finding",
    "MaskingSettings",
    "Principal",
    "ToolCall",
]


class Effect(enum.StrEnum):
    """What the policy decided for a call."""

    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"


@dataclass(frozen=True)
class Principal:
    """Who makes a call: the agent's own identity and the human it acts for.

    Both are identities such as ``agent:support-bot`` or ``slack:U024BE7LH``; neither may approve
    a request the call creates.
    """

    agent: str
    on_behalf_of: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation as the guard sees it.

    ``args`` holds the real arguments; only the guard and the tool ever see them. ``environment``
    carries labels the host passes to the guard (``{"env": "prod", "region": "eu"}``).
    """

    tool: str
    args: Mapping[str, Any]
    call_id: str | None = None
    run_id: str | None = None
    principal: Principal | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """A sensitive value the masker found. Carries where and what, never the value itself.

    ``path`` addresses the value inside the call's arguments (``("user", "email")``; empty for a
    bare string); ``start``/``end`` are offsets inside that string value.
    """

    data_class: str
    path: tuple[str | int, ...] = ()
    start: int = 0
    end: int = 0
    detector: str = ""
    score: float = 1.0


@dataclass(frozen=True)
class ApprovalRequirement:
    """Who must approve a call and how; resolved from the policy at load time.

    ``approvers`` are person names from the policy's ``people``; ``identities`` maps each to the
    identities that may vote for that person (``slack:U…``, ``cli:alice``).
    """

    approvers: frozenset[str]
    identities: Mapping[str, frozenset[str]]
    quorum: int = 1
    # The approver names as the rule wrote them (groups or people), re-resolved at vote time so
    # someone removed from a group since the request was made no longer counts.
    sources: tuple[str, ...] = ()
    timeout_seconds: int = 900
    on_timeout: Effect = Effect.DENY
    require_reason: bool = False
    allow_edit: bool = False
    # What reviewers see of the values the masker found: masked | partial | clear (see
    # `approvals.review`; secrets, financial data and national ids are never shown in clear).
    reviewer_view: str = "partial"
    # "oidc": only votes from identities signed in through the identity provider count
    # (step-up for high-risk rules; `approvals.stepup`). None: any channel's identity.
    authentication: str | None = None


@dataclass(frozen=True)
class MaskingSettings:
    """How values found in a call's arguments and output are masked."""

    strategy: str = "placeholder"
    classes: Mapping[str, str] = field(default_factory=dict)
    restore_placeholders: bool = False

    def strategy_for(self, data_class: str) -> str:
        """The class's own strategy, else its nearest parent's (``SECRET`` covers ``API_KEY``),
        else the default."""
        from guardrails_plugin import data_classes

        node = data_classes.get(data_class)
        if node is None:
            return self.classes.get(data_class, self.strategy)
        while node is not None:
            if node.name in self.classes:
                return self.classes[node.name]
            node = data_classes.get(node.parent) if node.parent else None
        return self.strategy


@dataclass(frozen=True)
class Decision:
    """The policy's verdict on one call. ``rule_id`` is None when no rule matched (the default)."""

    effect: Effect
    rule_id: str | None
    reason: str
    approval: ApprovalRequirement | None = None
    masking: MaskingSettings = field(default_factory=MaskingSettings)

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW
