"""Every exception guardrails-plugin raises on purpose.

    GuardError                          base: catch this to catch everything of ours
     ├── ConfigError                    bad settings, missing spaCy model, unsafe configuration
     │    └── PolicyError(problems)     refused to load: file, line, column, rule, field
     ├── ToolDenied(decision)           the guard refused a tool call; the message is for the model
     │    └── ApprovalTimeout(request_id)
     ├── ApprovalError(request_id)      a vote or request the broker refused
     │    ├── NotAnApprover             identity outside the request's approver set
     │    ├── SelfApproval              the requester (or its human) tried to approve itself
     │    ├── ReasonRequired            the rule asks every voter for a reason; none was given
     │    ├── AlreadyDecided            the request is no longer pending
     │    ├── RequestChanged            the arguments were edited since the voter looked
     │    └── StepUpRequired            the rule takes votes only from signed-in (OIDC) identities
     ├── StoreError                     the SQLite store failed; the guard denies
     │    └── SchemaVersionError        the database was written by a newer version
     └── MaskingError                   the masker failed; the guard denies
          ├── InputTooLarge             a payload over the configured limits
          ├── UnsupportedValue          an object the guard cannot turn into data to check
          └── MaskingTimeout(seconds)   masking ran past its deadline

Errors carry their facts as attributes, so callers never parse messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardrails_plugin.types import Decision

__all__ = [
    "AlreadyDecided",
    "ApprovalError",
    "ApprovalTimeout",
    "ConfigError",
    "GuardError",
    "InputTooLarge",
    "MaskingError",
    "MaskingTimeout",
    "NotAnApprover",
    "PolicyError",
    "PolicyProblem",
    "ReasonRequired",
    "RequestChanged",
    "SchemaVersionError",
    "SelfApproval",
    "StepUpRequired",
    "StoreError",
    "ToolDenied",
    "UnsupportedValue",
]


class GuardError(Exception):
    """Base class of every error raised by guardrails-plugin."""


class ConfigError(GuardError):
    """A setting is missing, malformed or unsafe."""


@dataclass(frozen=True)
class PolicyProblem:
    """One located problem in a policy file.

    ``field`` is the dotted path inside the file (``rules[2].effect``); ``line`` and ``column``
    are 1-based, or 0 when the problem has no position (a missing file, an include cycle).
    """

    file: str
    line: int
    column: int
    field: str
    message: str
    rule_id: str | None = None
    value: Any = None

    def __str__(self) -> str:
        where = self.file if not self.line else f"{self.file}:{self.line}:{self.column}"
        rule = f" rule '{self.rule_id}':" if self.rule_id else ""
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{rule}{field} {self.message}"


class PolicyError(ConfigError):
    """A policy refused to load. ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: list[PolicyProblem] | tuple[PolicyProblem, ...]) -> None:
        if not problems:
            raise ValueError("PolicyError needs at least one problem")
        self.problems: tuple[PolicyProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def file(self) -> str:
        return self.problems[0].file

    @property
    def line(self) -> int:
        return self.problems[0].line

    @property
    def column(self) -> int:
        return self.problems[0].column

    @property
    def field(self) -> str:
        return self.problems[0].field

    @property
    def rule_id(self) -> str | None:
        return self.problems[0].rule_id


class ToolDenied(GuardError):
    """The guard refused a tool call. ``str(err)`` is one sentence the model can read."""

    def __init__(self, message: str, decision: Decision | None = None) -> None:
        super().__init__(message)
        self.decision = decision


class ApprovalTimeout(ToolDenied):
    """Nobody decided before the request expired; expiry denies."""

    def __init__(self, message: str, request_id: str, decision: Decision | None = None) -> None:
        super().__init__(message, decision)
        self.request_id = request_id


class ApprovalError(GuardError):
    """The approval broker refused an operation on a request."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class NotAnApprover(ApprovalError):
    """The identity is not in the request's approver set."""


class SelfApproval(ApprovalError):
    """The identity belongs to the requester or the person the agent acts for."""


class ReasonRequired(ApprovalError):
    """The request's rule requires a reason with every vote, and none was given."""


class AlreadyDecided(ApprovalError):
    """The request is no longer pending; the vote changed nothing."""


class RequestChanged(ApprovalError):
    """The request was edited after the voter saw it; the vote must be made again."""


class StepUpRequired(ApprovalError):
    """The rule has ``approval: {authentication: oidc}``: only a vote from an identity signed in
    through the identity provider (``oidc:…``, the web inbox or API) counts."""


class StoreError(GuardError):
    """The store could not be read or written. The guard treats this as deny."""


class SchemaVersionError(StoreError):
    """The database schema is newer than this code understands."""


class MaskingError(GuardError):
    """The masker failed. The guard treats this as deny, so raw data never leaves."""


class InputTooLarge(MaskingError):
    """A payload exceeded the size, depth or count limits."""


class UnsupportedValue(MaskingError):
    """A value that cannot be converted to data the guard can check (a client, a callable,
    binary data, a cycle). Refused, never passed through or stored as its repr."""


class MaskingTimeout(MaskingError):
    """Masking one payload ran past the masker's deadline (``seconds``); ``stage`` says where
    it was when the budget ran out. The guard denies the call."""

    def __init__(self, message: str, *, seconds: float, stage: str) -> None:
        super().__init__(message)
        self.seconds = seconds
        self.stage = stage
