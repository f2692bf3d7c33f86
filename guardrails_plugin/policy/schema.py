"""The policy file format, as pydantic models. Its JSON Schema is what editors complete against.

Structure is checked here (unknown keys, wrong types, bad enum values); everything that needs the
whole policy (approver groups, duplicate ids across includes, regexes, data classes) is checked
when the policy is compiled, in `compiler.py`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from guardrails_plugin.policy import operators

__all__ = [
    "ApprovalSpec",
    "ContextMatch",
    "DataMatch",
    "Defaults",
    "MaskingSpec",
    "Match",
    "PolicyDocument",
    "Rule",
    "parse_duration",
]

EffectName = Literal["allow", "deny", "require_approval"]
StrategyName = Literal["placeholder", "partial", "hash", "redact", "block"]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_TIMEOUT_SECONDS = 30 * 24 * 3600


def parse_duration(value: Any) -> int:
    """``"15m"`` → 900. Accepts d/h/m/s parts in that order (``1h30m``) or whole seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 15m or 2h, got {value!r}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value and (m := _DURATION.match(value.strip())):
        d, h, mi, s = (int(x) if x else 0 for x in m.groups())
        seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    else:
        raise ValueError(f"expected a duration like 30s, 15m, 2h or 1d, got {value!r}")
    if not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"duration must be between 1s and 30d, got {value!r}")
    return seconds


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {"type": "string", "pattern": _DURATION.pattern, "examples": ["30s", "15m", "2h", "1d"]}
    ),
]

# Predicates are open-ended (operators come from a registry), so they are validated when the
# policy is compiled; here they only carry a JSON Schema built from the registered operators.
Predicate = Annotated[Any, WithJsonSchema(operators.json_schema())]
ToolPattern = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": "Tool name: exact, a glob ('s3_*'), a list of those, or a predicate.",
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
                operators.json_schema(),
            ],
        }
    ),
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_IDENTITY = r"^[a-z][a-z0-9_-]*:\S+$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ApprovalSpec(_Model):
    """Who approves and how. Unset fields inherit from ``defaults.approval``."""

    approvers: list[Annotated[str, Field(pattern=_NAME)]] | None = Field(
        None, description="Group or person names from `groups`/`people`."
    )
    quorum: Annotated[int, Field(ge=1, le=20)] | None = Field(
        None, description="How many different people must approve."
    )
    timeout: Duration | None = Field(None, description="How long a request waits: 15m, 2h, 1d.")
    on_timeout: Literal["deny"] | None = Field(
        None, description="What expiry means. Only deny: a guard fails closed."
    )
    require_reason: bool | None = Field(None, description="Approvers must give a reason.")
    allow_edit: bool | None = Field(None, description="Approvers may edit the arguments.")
    reviewer_view: Literal["masked", "partial", "clear"] | None = Field(
        None,
        description="What reviewers see of found values: masked (as the model sees them), "
        "partial (default: a***@example.org, phones by their last digits) or clear. Secrets, "
        "card and bank numbers and national ids stay masked under every view.",
    )
    authentication: Literal["oidc"] | None = Field(
        None,
        description="oidc: only reviewers signed in through the identity provider (the web "
        "inbox or API of `guardrails-plugin serve`) may vote; Slack and CLI votes are refused.",
    )


class MaskingSpec(_Model):
    """How found values are masked. Unset fields inherit from ``defaults.masking``."""

    strategy: StrategyName | None = None
    classes: dict[str, StrategyName] | None = Field(
        None, description="Per data class strategy, e.g. {EMAIL: partial}."
    )
    restore_placeholders: bool | None = Field(
        None,
        description="Give the tool real values behind placeholders (the model never sees them).",
    )


class DataMatch(_Model):
    """Match on what the masker found in the arguments. Parent classes include their children."""

    contains: list[str] | None = Field(None, description="Any of these classes was found.")
    contains_all: list[str] | None = Field(None, description="Every one of these was found.")
    absent: list[str] | None = Field(None, description="None of these classes was found.")


class ContextMatch(_Model):
    """Match on who calls and where. Plain strings are globs (``agent:*``)."""

    principal: Predicate | None = Field(None, description="The agent's identity.")
    on_behalf_of: Predicate | None = Field(None, description="The human the agent acts for.")
    environment: dict[str, Predicate] | None = Field(
        None, description="Environment labels passed to the Guard, e.g. {env: prod}."
    )


class Match(_Model):
    """Every key present must match (AND). ``any``/``all``/``not`` combine sub-matches."""

    tool: ToolPattern | None = None
    args: dict[str, Predicate] | None = Field(
        None,
        description="Dotted paths into the arguments ('options.format', 'items.*.sku') "
        "mapped to predicates; a plain value means equals.",
    )
    data: DataMatch | None = None
    context: ContextMatch | None = None
    any_: list[Match] | None = Field(None, alias="any")
    all_: list[Match] | None = Field(None, alias="all")
    not_: Match | None = Field(None, alias="not")


class Rule(_Model):
    id: str = Field(pattern=_ID, max_length=128)
    description: str | None = None
    match: Match = Field(description="What the rule applies to. `{}` matches every call.")
    when: str | None = Field(
        None,
        description="Optional CEL expression over tool, args, data, principal, on_behalf_of, env. "
        "Slower than match; needs the 'cel' extra.",
    )
    effect: EffectName
    reason: str | None = Field(None, max_length=2000)
    approval: ApprovalSpec | None = None
    masking: MaskingSpec | None = None


class Defaults(_Model):
    effect: EffectName = Field(description="What happens to a call no rule matches.")
    reason: str | None = None
    approval: ApprovalSpec = ApprovalSpec()
    masking: MaskingSpec = MaskingSpec()


class PolicyDocument(_Model):
    """One policy file."""

    version: Literal[1]
    include: list[str] = Field(
        default_factory=list, description="Other policy files, relative to this one."
    )
    defaults: Defaults | None = Field(
        None, description="Required in the top-level file; an included file may only repeat it."
    )
    people: dict[
        Annotated[str, Field(pattern=_NAME)], list[Annotated[str, Field(pattern=_IDENTITY)]]
    ] = Field(
        default_factory=dict,
        description="A person's identities across channels: slack:U024BE7LH, cli:alice.",
    )
    groups: dict[Annotated[str, Field(pattern=_NAME)], list[str]] = Field(
        default_factory=dict, description="Named sets of people."
    )
    rules: list[Rule] = Field(default_factory=list, description="Ordered: first match wins.")
