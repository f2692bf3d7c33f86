"""Evaluate a tool call against a compiled policy: first matching rule in file order wins.

Hot path: a rule's tool condition depends on the tool name alone, so the rules that can apply to
a name are computed once and cached; each rule's `Decision` is built at load, and the remaining
conditions are plain compiled functions. A call costs microseconds.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from guardrails_plugin import data_classes
from guardrails_plugin.policy.cel import CelError
from guardrails_plugin.policy.compiler import (
    CompiledPolicy,
    CompiledRule,
    compile_file,
    compile_text,
)
from guardrails_plugin.policy.directory import Directory
from guardrails_plugin.policy.files import Stamp
from guardrails_plugin.policy.matchers import CallView
from guardrails_plugin.types import Decision, Effect, Finding, ToolCall

__all__ = ["Explanation", "Policy", "RuleTrace"]

log = logging.getLogger(__name__)

_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class RuleTrace:
    """One rule's part in an explanation. ``reason`` is None when the rule matched."""

    rule_id: str
    file: str
    line: int
    effect: Effect
    matched: bool
    reason: str | None


@dataclass(frozen=True)
class Explanation:
    """The decision, why each rule above the winner did not match, and later rules that would."""

    decision: Decision
    checked: tuple[RuleTrace, ...]
    shadowed: tuple[RuleTrace, ...]


class Policy:
    """A loaded, validated policy. Build with `Policy.load(path)` or `Policy.from_string(text)`."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._compiled = compiled
        self._by_tool: dict[str, tuple[CompiledRule, ...]] = {}
        for warning in compiled.warnings:
            # Not every process runs `policy check`: a guard loading this policy says it too.
            log.warning("policy %s", warning)

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Load a policy file and its includes; raises `PolicyError` if anything is off."""
        return cls(compile_file(path))

    @classmethod
    def from_string(cls, text: str, name: str = "<string>", base_dir: str | Path = ".") -> Policy:
        return cls(compile_text(text, name, base_dir))

    @property
    def rules(self) -> tuple[CompiledRule, ...]:
        return self._compiled.rules

    @property
    def default(self) -> Decision:
        return self._compiled.default

    @property
    def directory(self) -> Directory:
        return self._compiled.directory

    @property
    def files(self) -> tuple[str, ...]:
        return self._compiled.files

    @property
    def digest(self) -> str | None:
        """SHA-256 of the bytes this policy was parsed from (its files in `files` order; for
        one file, what ``sha256sum`` prints); None for a policy not loaded from files."""
        return self._compiled.digest

    @property
    def file_stamps(self) -> tuple[Stamp, ...]:
        """The version (device, inode, size, mtime, ctime) of each file when it was read."""
        return self._compiled.stamps

    def warnings(self) -> list[str]:
        """What loads but is likely not what the author meant, located: text YAML changed
        (a double-quoted "\\b" is a backspace), rules that can never match, then `clear`
        reviewer views asked for data that is never shown in clear."""
        return (
            [str(w) for w in self._compiled.warnings]
            + self.shadowed_rules()
            + self.reviewer_view_warnings()
        )

    def shadowed_rules(self) -> list[str]:
        """Rules that can never match: every tool they name is caught first by an earlier rule
        that matches on the tool name alone. First match wins, so a later deny there is dead."""
        warnings = []
        for i, later in enumerate(self._compiled.rules):
            tool = later.tool
            if tool is None or not tool.only_exact_names:
                continue
            for earlier in self._compiled.rules[:i]:
                if (
                    earlier.tool_only
                    and earlier.tool is not None
                    and all(earlier.tool.matches_name(name) for name in tool.exact)
                ):
                    warnings.append(
                        f"{later.file}:{later.line}: rule '{later.id}' can never match: rule "
                        f"'{earlier.id}' ({earlier.effect.value}, line {earlier.line}) matches "
                        f"every call to {', '.join(sorted(tool.exact))} first"
                    )
                    break
        return warnings

    def reviewer_view_warnings(self) -> list[str]:
        """Rules that ask reviewers to see values in clear while matching data no view shows in
        clear (secrets, card and bank numbers, national ids): the policy loads, since those
        values are masked at run time whatever it says, but its author expects otherwise."""
        warnings = []
        for rule in self._compiled.rules:
            approval = rule.decision.approval
            if approval is None or approval.reviewer_view != "clear":
                continue
            hidden = sorted(c for c in rule.named_classes if data_classes.never_clear(c))
            if hidden:
                warnings.append(
                    f"{rule.file}:{rule.line}: rule '{rule.id}' has reviewer_view: clear, but "
                    f"reviewers never see {', '.join(hidden)} data in clear: it stays masked "
                    "(only personal data such as names, emails and phones can be shown)"
                )
        return warnings

    def _candidates(self, tool: str) -> tuple[CompiledRule, ...]:
        found = self._by_tool.get(tool)
        if found is None:
            found = tuple(
                r for r in self._compiled.rules if r.tool is None or r.tool.matches_name(tool)
            )
            if len(self._by_tool) >= _CACHE_LIMIT:
                self._by_tool.clear()
            self._by_tool[tool] = found
        return found

    def evaluate(self, call: ToolCall, findings: Iterable[Finding | str] = ()) -> Decision:
        """The decision for ``call``, given the data classes the masker found in its arguments."""
        view = CallView(call, findings)
        for rule in self._candidates(view.tool):
            try:
                if rule.rest.matches(view):
                    return rule.decision
            except Exception as exc:  # noqa: BLE001 - turned into a restrictive match below
                restricted = self._failed(rule, exc)
                if restricted is not None:
                    return restricted
        return self._compiled.default

    def explain(self, call: ToolCall, findings: Iterable[Finding | str] = ()) -> Explanation:
        """Like `evaluate`, and says why each rule above the winner did not match."""
        view = CallView(call, findings)
        checked: list[RuleTrace] = []
        shadowed: list[RuleTrace] = []
        decision: Decision | None = None
        for rule in self._compiled.rules:
            try:
                reason = rule.matcher.why_not(view)
            except Exception as exc:  # noqa: BLE001 - same fail-closed rule as evaluate
                restricted = self._failed(rule, exc)
                reason = None if restricted is not None else f"condition failed: {failure(exc)}"
                if decision is None and restricted is not None:
                    decision = restricted
                    checked.append(_trace(rule, None))
                    continue
            if decision is None:
                checked.append(_trace(rule, reason))
                if reason is None:
                    decision = rule.decision
            elif reason is None:
                shadowed.append(_trace(rule, None))
        return Explanation(
            decision=decision or self._compiled.default,
            checked=tuple(checked),
            shadowed=tuple(shadowed),
        )

    @staticmethod
    def _failed(rule: CompiledRule, exc: Exception) -> Decision | None:
        """A rule whose condition raised. Fail closed: a restricting rule counts as matched, an
        allowing one as not matched, so an error can never allow a call."""
        what = failure(exc)
        applied = rule.effect is not Effect.ALLOW
        log.warning(
            "policy rule %r (%s:%d) could not be evaluated: %s; %s",
            rule.id,
            rule.file,
            rule.line,
            what,
            f"applied as {rule.effect.value} (fail closed)" if applied else "skipped (an allow)",
        )
        if not applied:
            return None
        return dataclasses.replace(
            rule.decision,
            reason=f"{rule.decision.reason} (rule '{rule.id}' applied because its condition "
            f"failed: {what})",
        )


def failure(exc: Exception) -> str:
    """What went wrong in a condition, without its message: messages of CEL and of custom
    operators quote the argument values they failed on, and this text reaches reasons and logs."""
    if isinstance(exc, CelError):
        return f"CEL 'when' failed: {exc.kind}"
    return f"a condition raised {type(exc).__name__}"


def _trace(rule: CompiledRule, reason: str | None) -> RuleTrace:
    return RuleTrace(rule.id, rule.file, rule.line, rule.effect, reason is None, reason)
