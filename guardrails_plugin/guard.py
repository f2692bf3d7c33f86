"""The Guard: the one path every tool call takes. Adapters only call this.

    guard = Guard.from_policy("policies/default.yaml", store="guardrails.db",
                              principal="agent:support-bot", on_behalf_of="slack:U024BE7LH")
    outcome = guard.call("send_email", {"to": "<EMAIL_1>", "body": "hi"}, send_email)

The path is written once, as a generator (`Guard.flow`) that yields the two things it cannot do
itself: wait for a decision (`Wait`) and run the tool (`Execute`). Thin drivers (`flow.py`) run
it: `call` (sync), `acall` (async), `authorize` (decide only), with hooks the LangChain/LlamaIndex
adapters use (LangGraph's interrupt mode suspends the run instead of waiting). Arguments and
outputs are plain data from the guard's entry on (`payload.py`); runs and what their callers may
set live in `runs.py`. Any error before the tool runs denies the call with one sentence the model
can read, and the cause goes to the audit log.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrails_plugin import sentences
from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.approvals.notice import log_waiting
from guardrails_plugin.approvals.review import reviewer_args
from guardrails_plugin.clock import Clock, SystemClock
from guardrails_plugin.errors import (
    ApprovalTimeout,
    GuardError,
    InputTooLarge,
    ToolDenied,
    UnsupportedValue,
)
from guardrails_plugin.flow import (
    Execute,
    Outcome,
    Passthrough,
    Wait,
    adrive,
    drive,
    drive_to_decision,
    passes,
)
from guardrails_plugin.masking import Masker
from guardrails_plugin.observe import NO_WATCH, Observer, Observers, Watch, default_observers
from guardrails_plugin.payload import as_data, require_finite
from guardrails_plugin.policy import Policy
from guardrails_plugin.policy.watch import LivePolicy
from guardrails_plugin.runs import RunContext, Runs
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import Store
from guardrails_plugin.store.records import ApprovalRequest, Status
from guardrails_plugin.types import (
    Decision,
    Effect,
    Finding,
    MaskingSettings,
    Principal,
    ToolCall,
)

__all__ = [
    "Execute",
    "Guard",
    "Outcome",
    "Prepare",
    "RunContext",
    "Wait",
    "keyed_masker",
    "plain_masking",
]

# An adapter's "arguments as the tool will receive them", as plain data.
Prepare = Callable[[Mapping[str, Any]], Mapping[str, Any]]

log = logging.getLogger(__name__)

# The purpose label of the `hash` key a Guard derives from its store's key (`Store.derived_key`).
MASK_HASH_KEY_LABEL = "masking/hash-key/v2"


def _denied(
    message: str, decision: Decision | None = None, request_id: str | None = None
) -> Outcome:
    return Outcome(False, None, message, decision, request_id)


@dataclass(frozen=True)
class _Grant:
    """What the policy, or an approval, lets run: the arguments an approval is claimed for
    (``bound``, as the reviewer saw them), what the tool gets (``args``), the masking settings
    and rule it runs under, the approval request, and whether its placeholders come from
    another run's vault."""

    bound: Mapping[str, Any]
    args: Mapping[str, Any]
    settings: MaskingSettings
    rule_id: str | None
    request_id: str | None = None
    foreign: bool = False


class Guard:
    """Policy + masker + approvals + audit around tool calls. Thread-safe; one per agent app."""

    def __init__(
        self,
        policy: Policy,
        store: Store,
        *,
        principal: str,
        on_behalf_of: str | None = None,
        environment: Mapping[str, str] | None = None,
        masker: Masker | None = None,
        broker: ApprovalBroker | None = None,
        clock: Clock | None = None,
        wait_timeout: float | None = None,
        record_intent: bool = True,
        run_overrides: Iterable[str] = (),
        watch_policy: bool = True,
        observers: Iterable[Observer] | None = None,
    ) -> None:
        self.policy = policy
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.masker = keyed_masker(masker or Masker(), store)
        self.broker = broker or ApprovalBroker(
            store, policy, clock=self.clock, scan=self.masker.scan, mask=plain_masking(self.masker)
        )
        self.principal = Principal(principal, on_behalf_of)
        self.environment = dict(environment or {})
        self.wait_timeout = wait_timeout
        # True: write call.evaluated before an allowed tool runs (one more commit per call).
        self.record_intent = record_intent
        # Runs, and what a run's (caller-chosen) configuration may set: see runs.py.
        self.runs = Runs(self.principal, self.environment, run_overrides, store)
        self.run_overrides = self.runs.overrides
        self._lock = threading.Lock()
        # The policy files are checked before each call; a settled change is used (policy/watch).
        self.live_policy = LivePolicy(
            policy, store, self.principal.agent, self._use_policy, watch=watch_policy
        )
        # Tracing and metrics (observe.py): OpenTelemetry by default when it is installed.
        self.observers = Observers(
            default_observers() if observers is None else observers, store.votes
        )

    @classmethod
    def from_policy(
        cls,
        policy: str | Path | Policy,
        *,
        store: str | Path | Store | None = None,
        principal: str,
        on_behalf_of: str | None = None,
        environment: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Guard:
        """A guard from a policy file and a store: a SQLite path, ``sqlite:///…`` or a
        ``postgresql://…`` URL (default ``$GUARDRAILS_DB``, then ``./guardrails.db``), in one
        line."""
        from guardrails_plugin.store.factory import open_store

        loaded = policy if isinstance(policy, Policy) else Policy.load(policy)
        if store is None or isinstance(store, str | Path):
            opened: Store = open_store(store, clock=kwargs.get("clock"))
        else:
            opened = store
        return cls(
            loaded,
            opened,
            principal=principal,
            on_behalf_of=on_behalf_of,
            environment=environment,
            **kwargs,
        )

    # --- runs ----------------------------------------------------------------------------------

    def run(
        self,
        run_id: str | None = None,
        *,
        principal: str | None = None,
        on_behalf_of: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> RunContext:
        """The context of one agent run; the same ``run_id`` gives the same vault back.

        For the application's own code: what it passes here is trusted. Values a run's caller
        chose go through `run_from_config`."""
        return self.runs.get(
            run_id, principal=principal, on_behalf_of=on_behalf_of, environment=environment
        )

    def run_from_config(
        self,
        run_id: str,
        *,
        on_behalf_of: Any = None,
        environment: Any = None,
        source: str = "configurable",
    ) -> RunContext:
        """The run's context with the settings its caller-chosen configuration asks for; see
        `Runs.from_config` (only settings named in ``run_overrides`` may differ)."""
        return self.runs.from_config(
            run_id, on_behalf_of=on_behalf_of, environment=environment, source=source
        )

    # --- policy -------------------------------------------------------------------------------

    def reload_policy(self, source: str | Path | Policy | None = None) -> Policy:
        """Load the policy again (from its file, or ``source``) and use it for new calls.

        The guard also notices a changed policy file by itself (``watch_policy=True``, the
        default: see `guardrails_plugin.policy.watch` for when a change is used); this is for a
        deploy hook or a SIGHUP handler that wants it now, or a policy from elsewhere. A policy
        that does not load changes nothing: the error is raised and audited
        (``policy.reload_failed``) and the current policy stays. A successful reload is audited
        (``policy.reloaded``, with the files and a digest of their bytes). Requests already
        waiting keep the approvers and quorum recorded when they were made; edits to them are
        judged by the new policy.
        """
        return self.live_policy.reload(source)

    def _use_policy(self, new: Policy) -> None:
        with self._lock:
            self.policy = new
            self.broker.policy = new

    # --- the one decision path -----------------------------------------------------------------

    def flow(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        call_id: str | None,
        run: RunContext,
        prepare: Prepare | None = None,
        exact: bool = False,
        suspends: Passthrough = (),
        watch: Watch = NO_WATCH,
    ) -> Generator[Wait | Execute, Any, Outcome]:
        """The decision path. Send the decided `ApprovalRequest` after a `Wait`, and the tool's
        raw result (or the exception it raised) after an `Execute`.

        ``prepare`` turns arguments into what the tool will receive (the adapter's validation,
        as plain data); ``args`` are already prepared, a reviewer's edit is prepared here and
        judged again before it runs. ``exact``: the adapter cannot change what the tool
        receives (callbacks), so a call whose approved or restored arguments differ is denied.
        ``watch`` hears the evaluation (`observe.py`; the drivers pass the observers')."""
        call = ToolCall(tool, args, call_id, run.run_id, run.principal, run.environment)
        try:
            # One plain-data view of the arguments for the policy, the masker, the approval
            # hash, the audit and the tool: objects the guard cannot check are refused here.
            call = dataclasses.replace(call, args=dict(as_data(dict(args))))
            require_finite(call.args)
        except (UnsupportedValue, InputTooLarge) as exc:
            return self._fail(call, "could not check the call", exc)
        try:
            self.live_policy.refresh()  # a settled change of the policy file, audited first
            analysis = self.masker.analyze(call.args)
            findings = list(analysis.findings)
            decision = self.policy.evaluate(call, findings)
            # A placeholder to restore that this run never issued: checked before anyone is
            # asked to approve (and again below for a reviewer's edits), so the tool never gets
            # "<EMAIL_1>" — and before this call's own values get placeholders, so a model that
            # guesses the next one ("<EMAIL_1>" beside a new address) gets nothing restored.
            missing = (
                run.vault.unknown(call.args)
                if decision.masking.restore_placeholders and decision.effect is not Effect.DENY
                else []
            )
            masked = analysis.apply(vault=run.vault, settings=decision.masking)
            # What reviewers see, from the real values (after the model's copy, so placeholders
            # are numbered as the model reads them).
            review = (
                (
                    decision.approval.reviewer_view,
                    reviewer_args(
                        analysis,
                        decision.approval.reviewer_view,
                        settings=decision.masking,
                        vault=run.vault,
                    ),
                )
                if decision.effect is Effect.REQUIRE_APPROVAL and decision.approval is not None
                else None
            )
        except Exception as exc:  # noqa: BLE001 - fail closed: deny and record why
            return self._fail(call, "could not check the call", exc)
        evaluated = {
            "tool": tool,
            "call_id": call_id,
            "effect": decision.effect.value,
            "rule_id": decision.rule_id,
            "masked_args": masked.value,
            "data_classes": sorted({f.data_class for f in findings}),
            "on_behalf_of": run.principal.on_behalf_of,
        }
        watch.evaluated(decision, evaluated["data_classes"])
        # An allowed call's evaluation is written with its result, in one commit, unless
        # record_intent asks for a row before the tool runs. Rows on this path are not fsynced:
        # they survive a crash of the process (WAL); decisions are fully synced.
        if missing:
            evaluated["unknown_placeholders"] = missing
        defer = (
            decision.effect is Effect.ALLOW
            and not masked.blocked
            and not missing
            and not self.record_intent
        )
        if not defer:
            try:
                self._audit(Event.CALL_EVALUATED, call, durable=False, data=evaluated)
            except Exception as exc:  # noqa: BLE001 - no audit row, no call
                return self._fail(call, "could not record the call", exc, decision)
        if masked.blocked:
            return _denied(sentences.blocked(masked.blocked), decision)
        if decision.effect is Effect.DENY:
            return _denied(sentences.by_rule(decision), decision)
        if missing:
            return _denied(sentences.unknown_placeholders(missing), decision)
        grant = _Grant(call.args, call.args, decision.masking, decision.rule_id)
        if decision.effect is Effect.REQUIRE_APPROVAL:
            approved = yield from self._approval(
                call, decision, masked.value, findings, run, prepare, review
            )
            if isinstance(approved, Outcome):
                return approved
            grant = approved
        request_id = grant.request_id
        exec_args = grant.args
        if grant.settings.restore_placeholders and run.vault.holds_placeholders(exec_args):
            restored = self._restored(call, decision, grant, run, prepare)
            if isinstance(restored, Outcome):
                return restored
            exec_args = restored
        if exact and exec_args != call.args:
            why = (
                "the approved arguments differ from the call's, and this adapter cannot change "
                "what the tool receives"
            )
            return self._refuse(call, decision, request_id, why)
        if request_id is not None:
            try:
                self.broker.claim_execution(request_id, tool, grant.bound)
            except ToolDenied as exc:
                return _denied(str(exc), decision, request_id)
            except Exception as exc:  # noqa: BLE001
                return self._fail(call, "could not check the approval", exc, decision, request_id)
        started = time.perf_counter()
        try:
            result = yield Execute(dict(exec_args), decision, request_id)
        except Exception as exc:
            # The framework's control flow left the call. Only a suspension (an interrupt the
            # framework resumes by running the call again) gives the approval's claim back;
            # any other exit (a hand-off to a parent graph) counts as the one execution.
            if request_id is not None and passes(exc, suspends):
                self._release(request_id, call, exc)
            raise
        except GeneratorExit:  # closed at its decision without running (`Guard.authorize`)
            raise
        except BaseException as exc:
            # Cancelled (an MCP client's cancel, a task given up) or interrupted while the tool
            # ran: it may have done part of its work, so the audit says the call was cut off.
            elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
            self._interrupted(call, request_id, elapsed_ms, exc, evaluated if defer else None)
            raise
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return self._finish(
            call, decision, run, result, request_id, elapsed_ms, evaluated if defer else None
        )

    def _approval(
        self,
        call: ToolCall,
        decision: Decision,
        masked_args: Any,
        findings: list[Finding],
        run: RunContext,
        prepare: Prepare | None,
        review: tuple[str, Any] | None = None,
    ) -> Generator[Wait, Any, _Grant | Outcome]:
        """Ask for approval, wait, and say what the approval allows (or why it allows nothing)."""
        try:
            request = self.broker.request(
                call,
                decision,
                masked_args=masked_args,
                findings=findings,
                idempotency_key=call.call_id,
                vault_id=run.vault.id,
                review=review,
            )
        except Exception as exc:  # noqa: BLE001
            return self._fail(call, "could not create the approval request", exc, decision)
        log_waiting(request, self.store)  # whoever runs the agent sees where it is decided
        deadline = None if self.wait_timeout is None else self.clock.now() + self.wait_timeout
        decided = yield Wait(request, deadline)
        if isinstance(decided, BaseException):
            return self._fail(call, "could not get a decision", decided, decision, request.id)
        refusal = self._decision_sentence(decided)
        if refusal is not None:
            return _denied(refusal, decision, request.id)
        # The rule, the vault and the edit below come from the request's columns: they must be
        # the terms its keyed audit rows recorded (the claim proves the approval itself), and
        # they are taken from the very copy that was checked, not from what the wait returned.
        try:
            checked, changed = self.broker.verified(request.id)
        except Exception as exc:  # noqa: BLE001
            return self._fail(call, "could not check the approval", exc, decision, request.id)
        if changed is not None or checked is None:
            why = f"the request does not match the audit log ({changed})"
            return self._refuse(call, decision, request.id, why)
        if (refusal := self._decision_sentence(checked)) is not None:
            return _denied(refusal, decision, request.id)
        decided = checked
        grant = _Grant(
            call.args,
            call.args,
            decision.masking,
            decided.rule_id,  # an edit may have moved the request to another rule
            request.id,
            decided.vault_id != run.vault.id,  # no recorded vault: not this one either
        )
        if decided.edited_args is None:
            return grant
        # The broker judged the edit as the reviewer typed it; the tool gets it after its own
        # validation ("yes" -> true): judge that too, before anything runs.
        bound = dict(decided.edited_args)
        try:
            prepared = dict(prepare(bound)) if prepare is not None else bound
        except Exception as exc:  # noqa: BLE001 - an edit the tool refuses never runs
            why = f"the tool would not accept the reviewer's edit ({type(exc).__name__})"
            return self._refuse(call, decision, request.id, why)
        judged = self._judge(call, prepared, grant.rule_id)
        if isinstance(judged, str):
            why = f"the reviewer's edit, as the tool would receive it: {judged}"
            return self._refuse(call, decision, request.id, why)
        return dataclasses.replace(grant, bound=bound, args=prepared, settings=judged.masking)

    def _restored(
        self,
        call: ToolCall,
        decision: Decision,
        grant: _Grant,
        run: RunContext,
        prepare: Prepare | None,
    ) -> dict[str, Any] | Outcome:
        """The arguments with the real values behind their placeholders, judged again: the
        policy judged the placeholders, the tool gets the values, which may fall under another
        rule ("'<ADDRESS_1>'" hiding "'; DELETE ...")."""
        request_id = grant.request_id
        if grant.foreign:
            # Approved in another process (or Guard), whose vault the placeholders came from:
            # this vault may hold the same names for other values.
            why = "its placeholders come from another run's vault"
            return self._refuse(
                call, decision, request_id, why, sentences.foreign_placeholders(request_id)
            )
        if missing := run.vault.unknown(grant.args):
            why = f"unknown placeholders {', '.join(missing)}"
            message = sentences.unknown_placeholders(missing)
            return self._refuse(
                call, decision, request_id, why, message, unknown_placeholders=missing
            )
        try:  # as the tool will receive the real values: after its own validation
            restored = run.vault.restore(grant.args)
            restored = dict(prepare(restored)) if prepare is not None else dict(restored)
        except Exception as exc:  # noqa: BLE001 - values the tool refuses never run
            why = f"the tool would not accept the real values ({type(exc).__name__})"
            return self._refuse(call, decision, request_id, why)
        judged = self._judge(call, restored, grant.rule_id)
        if isinstance(judged, str):
            why = f"with the real values behind its placeholders, {judged}"
            return self._refuse(call, decision, request_id, why)
        return restored

    def _release(self, request_id: str, call: ToolCall, exc: Exception) -> None:
        why = f"the run was suspended during the call ({type(exc).__name__})"
        try:
            self.broker.release_execution(request_id, call.tool, why)
        except Exception as failure:  # noqa: BLE001 - the claim stays: the replay is refused
            log.error("could not release the execution of request %s: %s", request_id, failure)

    def _decision_sentence(self, request: ApprovalRequest) -> str | None:
        """What the model reads about a decided request. A denial's author and reason come
        from its keyed audit row, masked (a reviewer may have typed anything), never from the
        columns, which anyone holding the file could fill with text for the model to read."""
        if request.status is not Status.DENIED:
            return sentences.status(request)
        try:
            row = self.broker.recorded_decision(request.id)
        except Exception as exc:  # noqa: BLE001 - it is a denial either way
            log.error("could not read the decision of request %s: %s", request.id, exc)
            row = None
        if row is None or row.event != Event.DENIED:
            return sentences.unverified_denial(request.id)
        by = str(row.data.get("denied_by") or row.actor or "a reviewer")
        reason = row.data.get("reason")
        why = f": {self._mask_text(str(reason))}" if reason else ""
        return f"Denied: approval request {request.id} was denied by {by}{why}."

    def _mask_text(self, text: str) -> str:
        try:
            return str(self.masker.mask(text).value)
        except Exception:  # noqa: BLE001 - withhold what cannot be masked
            return "(reason withheld: it could not be masked)"

    def _judge(self, call: ToolCall, args: dict[str, Any], rule_id: str | None) -> Decision | str:
        """The policy's decision on ``args`` (what the tool will actually receive), or why it
        may not run under ``rule_id``, the rule that allowed or approved the call."""
        try:
            require_finite(args)
            analysis = self.masker.analyze(args)
            decision = self.policy.evaluate(dataclasses.replace(call, args=args), analysis.findings)
            blocked = analysis.apply(settings=decision.masking).blocked
        except Exception as exc:  # noqa: BLE001 - what the guard cannot judge never runs
            return f"the guard could not check it ({type(exc).__name__})"
        if decision.effect is Effect.DENY:
            return f"{sentences.rule_name(decision.rule_id)} denies it"
        if blocked:
            return f"it contains {', '.join(blocked)} data, which the policy blocks"
        if decision.rule_id != rule_id:
            now, then = sentences.rule_name(decision.rule_id), sentences.rule_name(rule_id)
            return f"it falls under {now}, not {then}"
        return decision

    def _refuse(
        self,
        call: ToolCall,
        decision: Decision,
        request_id: str | None,
        why: str,
        message: str | None = None,
        **extra: Any,
    ) -> Outcome:
        """An allowed or approved call that may not run after all, audited."""
        data = {"tool": call.tool, "why": why, **extra}
        self._audit_quietly(Event.EXECUTION_REFUSED, call, request_id=request_id, data=data)
        what = f"approval request {request_id}" if request_id else "the call"
        text = message or f"Denied: {what} cannot run: {why}. Ask again."
        return _denied(text, decision, request_id)

    def _finish(
        self,
        call: ToolCall,
        decision: Decision,
        run: RunContext,
        result: Any,
        request_id: str | None,
        elapsed_ms: float,
        evaluated: dict[str, Any] | None = None,
    ) -> Outcome:
        failed = isinstance(result, BaseException)
        event = Event.TOOL_FAILED if failed else Event.TOOL_EXECUTED
        outcome: Outcome
        try:
            payload = f"{type(result).__name__}: {result}" if failed else result
            masked = self.masker.mask(payload, vault=run.vault, settings=decision.masking)
        except Exception as exc:  # noqa: BLE001 - nothing unmasked may reach the model
            data: dict[str, Any] = {"tool": call.tool, "masking_error": str(exc)}
            outcome = _denied(
                "Denied: the tool's output could not be masked, so it is withheld.",
                decision,
                request_id,
            )
        else:
            data = {
                "tool": call.tool,
                "elapsed_ms": elapsed_ms,
                "output_classes": sorted({f.data_class for f in masked.findings}),
                **({"error": masked.value} if failed else {}),
            }
            if masked.blocked:
                message = sentences.blocked(masked.blocked, "tool's output contained")
                outcome = _denied(message, decision, request_id)
            elif failed:
                outcome = Outcome(False, None, str(masked.value), decision, request_id, failed=True)
            else:
                outcome = Outcome(
                    True, masked.value, "", decision, request_id, findings=masked.findings
                )
        rows = [
            (
                event,
                request_id,
                call.principal.agent if call.principal else None,
                {**data, "run_id": call.run_id},
            )
        ]
        if evaluated is not None:
            rows.insert(
                0, (Event.CALL_EVALUATED, None, rows[0][2], {**evaluated, "run_id": call.run_id})
            )
        try:
            self.store.record_events(rows, durable=False)
        except Exception as exc:  # noqa: BLE001
            log.error("audit write failed after %r ran: %s", call.tool, exc)
            if evaluated is not None:
                # Nothing recorded this call at all: keep its result from the model.
                return _denied(
                    "Denied: the call could not be recorded in the audit log, so its "
                    "result is withheld.",
                    decision,
                    request_id,
                )
        return outcome

    def _interrupted(
        self,
        call: ToolCall,
        request_id: str | None,
        elapsed_ms: float,
        exc: BaseException,
        evaluated: dict[str, Any] | None,
    ) -> None:
        agent = call.principal.agent if call.principal else None
        data = {
            "tool": call.tool,
            "elapsed_ms": elapsed_ms,
            "interrupted_by": type(exc).__name__,  # its type, never its text
            "run_id": call.run_id,
        }
        rows = [(Event.TOOL_INTERRUPTED, request_id, agent, data)]
        if evaluated is not None:
            rows.insert(
                0, (Event.CALL_EVALUATED, None, agent, {**evaluated, "run_id": call.run_id})
            )
        try:
            self.store.record_events(rows, durable=False)
        except Exception as write_error:  # noqa: BLE001 - the interruption propagates anyway
            log.error("audit write failed after %r was interrupted: %s", call.tool, write_error)

    def _fail(
        self,
        call: ToolCall,
        what: str,
        exc: BaseException,
        decision: Decision | None = None,
        request_id: str | None = None,
    ) -> Outcome:
        if isinstance(exc, ApprovalTimeout):
            return _denied(
                f"Denied: no decision on approval request {exc.request_id} in time.",
                decision,
                request_id,
            )
        log.error("guard %s for tool %r: %s", what, call.tool, exc, exc_info=exc)
        self._audit_quietly(
            Event.GUARD_ERROR,
            call,
            request_id=request_id,
            data={"tool": call.tool, "what": what, "error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        if isinstance(exc, UnsupportedValue | InputTooLarge):
            # The guard's own sentence about the payload's shape: the model can fix its call.
            return _denied(f"Denied: the guard {what}: {exc}.", decision, request_id)
        kind = type(exc).__name__ if isinstance(exc, GuardError) else "internal error"
        return _denied(
            f"Denied: the guard {what} ({kind}), so the call was not made.", decision, request_id
        )

    def _audit(
        self,
        event: str,
        call: ToolCall,
        *,
        data: Mapping[str, Any],
        actor: str | None = None,
        request_id: str | None = None,
        durable: bool = True,
    ) -> None:
        """Write one audit row. Raises `StoreError`; callers decide whether that denies."""
        who = actor or (call.principal.agent if call.principal else None)
        self.store.record_event(
            event,
            request_id=request_id,
            actor=who,
            data={**data, "run_id": call.run_id},
            durable=durable,
        )

    def _audit_quietly(self, event: str, call: ToolCall, **kwargs: Any) -> None:
        """For rows written after the decision is made (the call is denied or already ran)."""
        try:
            self._audit(event, call, **kwargs)
        except Exception as exc:  # noqa: BLE001 - logged; the outcome stands
            log.error("audit write failed for %s on %r: %s", event, call.tool, exc)

    def audit(
        self,
        event: str,
        *,
        run: RunContext,
        data: Mapping[str, Any],
        request_id: str | None = None,
        durable: bool = True,
    ) -> None:
        """Write an audit row for an adapter (values in ``data`` must already be masked)."""
        self.store.record_event(
            event,
            request_id=request_id,
            actor=run.principal.agent,
            data={**data, "run_id": run.run_id},
            durable=durable,
        )

    # --- drivers -------------------------------------------------------------------------------

    def call(
        self,
        tool: str,
        args: Mapping[str, Any],
        fn: Callable[[dict[str, Any]], Any],
        *,
        call_id: str | None = None,
        run: RunContext | None = None,
        passthrough: Passthrough = (),
        wait: Callable[[Wait], ApprovalRequest] | None = None,
        prepare: Prepare | None = None,
        suspends: Passthrough = (),
    ) -> Outcome:
        """Guard one call synchronously: ``fn(args)`` runs only if the guard allows it.

        Exceptions ``passthrough`` names (types, or a test) raised by ``fn`` or ``wait``
        propagate untouched (a framework's control flow, such as LangGraph's interrupt); others
        from ``fn`` are reported masked, others from ``wait`` deny. ``wait`` replaces the
        blocking wait for a decision (LangGraph's interrupt mode suspends the run instead).
        ``prepare`` is the adapter's view of what the tool receives (see `flow`). ``suspends``:
        the passthrough exceptions that suspend a running call for the framework to run again
        on resume; they give an approval's one execution back.
        """
        run = run or self.run()
        watch = self.observers.start(tool, call_id, run.run_id)
        flow = self.flow(
            tool, args, call_id=call_id, run=run, prepare=prepare, suspends=suspends, watch=watch
        )
        return drive(watch.follow(flow), fn, wait or self._blocking_wait, passthrough)

    def authorize(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        call_id: str | None = None,
        run: RunContext | None = None,
    ) -> Outcome:
        """Decide (waiting for approval if needed) without running the tool, for adapters that
        cannot run it themselves (callbacks). An allowed outcome has no output."""
        run = run or self.run()
        watch = self.observers.start(tool, call_id, run.run_id)
        flow = self.flow(tool, args, call_id=call_id, run=run, exact=True, watch=watch)
        return drive_to_decision(watch.follow(flow), self._blocking_wait)

    async def acall(
        self,
        tool: str,
        args: Mapping[str, Any],
        fn: Callable[[dict[str, Any]], Awaitable[Any]],
        *,
        call_id: str | None = None,
        run: RunContext | None = None,
        passthrough: Passthrough = (),
        wait: Callable[[Wait], Awaitable[ApprovalRequest]] | None = None,
        observe: Callable[[ApprovalRequest], None] | None = None,
        prepare: Prepare | None = None,
        suspends: Passthrough = (),
    ) -> Outcome:
        """`call` for async tools: waiting awaits the store's shared watcher, no thread blocks.

        ``observe`` hears of each approval request when the wait starts (pending) and ends
        (decided or expired), to stream progress; its errors are logged, never decisive.
        """
        run = run or self.run()
        watch = self.observers.start(tool, call_id, run.run_id)
        flow = self.flow(
            tool, args, call_id=call_id, run=run, prepare=prepare, suspends=suspends, watch=watch
        )
        return await adrive(
            watch.follow(flow), fn, wait or self._awaiting_wait, passthrough, observe
        )

    def _blocking_wait(self, step: Wait) -> ApprovalRequest:
        return self.broker.wait(step.request.id, step.deadline)

    async def _awaiting_wait(self, step: Wait) -> ApprovalRequest:
        return await self.broker.wait_async(step.request.id, step.deadline)


def plain_masking(masker: Masker) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """How a broker masks arguments for the audit log (edits, requests): ``masker``'s plain
    result as a mapping. The guard and every reviewer channel use this one."""

    def mask(args: Mapping[str, Any]) -> Mapping[str, Any]:
        value = masker.mask(dict(args)).value
        return value if isinstance(value, Mapping) else {"value": value}

    return mask


def keyed_masker(masker: Masker, store: Store) -> Masker:
    """``masker``, hashing under a key derived from the store's when none was configured, so
    the `hash` strategy gives one value the same hash in every run on this store. The key is
    derived outside `keyed_hash`'s domain: were it a keyed hash of some JSON, a model calling a
    gated tool with that JSON as arguments would have the broker store it as ``args_hash``."""
    if masker.has_hash_key:
        return masker
    return masker.keyed(store.derived_key(MASK_HASH_KEY_LABEL))
