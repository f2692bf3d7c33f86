"""The approval broker: create a request, collect votes, decide, and bind the decision to the call.

Every state change is a conditional update (``... WHERE status = 'pending'``) inside one write
transaction with its audit rows, so the first deciding vote wins across processes, a double
click changes nothing, and no decision exists without its audit record. A refused operation is
audited too, and the refusal is raised only after that record commits.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from guardrails_plugin.approvals import lifecycle, stepup
from guardrails_plugin.approvals.duties import (
    eligible_people,
    requester_identities,
    resolve_voter,
)
from guardrails_plugin.approvals.edits import apply_edit, rule_name
from guardrails_plugin.approvals.execution import claim_execution, release_execution
from guardrails_plugin.approvals.proof import DECISION_EVENTS, terms_refusal
from guardrails_plugin.approvals.review import shown_args
from guardrails_plugin.clock import Clock, SystemClock
from guardrails_plugin.errors import (
    AlreadyDecided,
    ApprovalError,
    ApprovalTimeout,
    GuardError,
    ReasonRequired,
    RequestChanged,
)
from guardrails_plugin.policy import Policy
from guardrails_plugin.policy.watch import SETTLE_SECONDS, LivePolicy
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.keys import call_key
from guardrails_plugin.store.protocol import Store, StoreTx, real_time_waits
from guardrails_plugin.store.records import ApprovalRequest, AuditRecord, Status, Verdict, Vote
from guardrails_plugin.types import Decision, Effect, Finding, Principal, ToolCall

__all__ = ["ApprovalBroker", "VoteResult"]

log = logging.getLogger(__name__)

ArgsMasker = Callable[[Mapping[str, Any]], Mapping[str, Any]]
ArgsScanner = Callable[[Mapping[str, Any]], Iterable[Finding | str]]


@dataclass(frozen=True)
class VoteResult:
    request: ApprovalRequest
    counted: bool
    message: str

    @property
    def decided(self) -> bool:
        return self.request.terminal


# Claims this broker remembers (their tokens) for calls that have not ended yet.
_MAX_CLAIMS = 10_000


def _new_id() -> str:
    return "req_" + uuid.uuid4().hex


def _recorded_under(
    tx: StoreTx, request: ApprovalRequest, key: str | None, tool: str, args_hash: str
) -> bool:
    """Whether the audit log made ``request`` for this key: a keyed row (its request.created, or
    the request.rekeyed row the upgrade wrote for requests still open then) names the key.
    Someone who can write the file could otherwise point the key column at another request
    (one approved for the same tool and arguments in another run, say)."""
    if request.tool != tool or request.args_hash != args_hash:
        return False
    return any(
        row.event in (Event.REQUEST_CREATED, Event.REQUEST_REKEYED)
        and row.data.get("call_key") == key
        and tx.authentic(row)
        for row in tx.request_events(request.id)
    )


class ApprovalBroker:
    """Requests, votes, waits and execution grants over a `Store`.

    ``policy`` supplies the current people and groups (membership is checked at vote time) and
    re-checks edited arguments; ``scan`` and ``mask`` (from the masker) give edited arguments
    their data classes and a masked form for the audit log.
    """

    def __init__(
        self,
        store: Store,
        policy: Policy | None = None,
        *,
        clock: Clock | None = None,
        ids: Callable[[], str] = _new_id,
        poll_interval: float = 0.01,
        max_pending_per_principal: int = 100,
        execution_window: float = 600.0,
        scan: ArgsScanner | None = None,
        mask: ArgsMasker | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock: Clock = clock or SystemClock()
        self.ids = ids
        self.poll_interval = poll_interval
        self.max_pending = max_pending_per_principal
        self.execution_window = execution_window
        self.scan = scan
        self.mask = mask
        self._live: LivePolicy | None = None
        # The token of each execution this broker claimed and has not given back.
        self._claims: dict[str, str] = {}

    # --- requests ------------------------------------------------------------------------------

    def request(
        self,
        call: ToolCall,
        decision: Decision,
        *,
        masked_args: Mapping[str, Any],
        findings: Iterable[Finding | str] = (),
        idempotency_key: str | None = None,
        vault_id: str | None = None,
        review: tuple[str, Mapping[str, Any]] | None = None,
    ) -> ApprovalRequest:
        """Create a pending request, or return the one already made for this call, since
        frameworks replay a step when they resume.

        ``review`` is the rule's reviewer view and the arguments as it shows them
        (`review.reviewer_args`, computed by the guard from the real values); without it
        reviewers see ``masked_args``.

        "This call" is ``idempotency_key`` (default: the call's id) scoped to the principal (agent
        and the human it acts for) and the run, and bound to the tool and the arguments: another
        run or agent reusing ``call_1``, or other arguments under the same id, get a request of
        their own. The stored key is a keyed hash, and the request found must be the one the
        audit log recorded under it.
        """
        if decision.effect is not Effect.REQUIRE_APPROVAL or decision.approval is None:
            raise ValueError("request() needs a require_approval decision")
        approval = decision.approval
        principal = call.principal or Principal("agent:unknown")
        call_id = idempotency_key or call.call_id
        try:
            args_hash = self.store.keyed_hash(dict(call.args))
        except (ValueError, TypeError, RecursionError) as exc:
            raise ApprovalError(f"the call's arguments cannot be recorded: {exc}") from None
        key = (
            call_key(
                self.store.keyed_hash,
                agent=principal.agent,
                on_behalf_of=principal.on_behalf_of,
                run_id=call.run_id,
                call_id=call_id,
                tool=call.tool,
                args_hash=args_hash,
            )
            if call_id
            else None
        )
        now = self.clock.now()
        classes = sorted({f if isinstance(f, str) else f.data_class for f in findings})
        refusal: GuardError | None = None
        with self.store.transaction() as tx:
            existing = tx.find_request(key) if key else None
            if existing is not None:
                if _recorded_under(tx, existing, key, call.tool, args_hash):
                    return existing
                refusal = ApprovalError(
                    f"request {existing.id}, found under this call's idempotency key, does not "
                    "match the audit log (the store was modified); refusing to reuse it",
                    existing.id,
                )
                tx.append_audit(
                    Event.REQUEST_REFUSED,
                    request_id=existing.id,
                    actor=principal.agent,
                    data={"why": "idempotency key does not match the audit log", "tool": call.tool},
                )
            elif tx.count_pending(principal.agent) >= self.max_pending:
                refusal = ApprovalError(
                    f"{principal.agent} already has {self.max_pending} pending approval requests; "
                    "refusing more until some are decided"
                )
                tx.append_audit(
                    Event.REQUEST_REFUSED,
                    actor=principal.agent,
                    data={"why": "too many pending requests", "tool": call.tool},
                )
            else:
                directory = self.policy.directory if self.policy else None
                request = ApprovalRequest(
                    id=self.ids(),
                    idempotency_key=key,
                    run_id=call.run_id,
                    tool=call.tool,
                    masked_args=dict(masked_args),
                    args_hash=args_hash,
                    current_hash=args_hash,
                    rule_id=decision.rule_id,
                    reason=decision.reason,
                    principal=principal.agent,
                    on_behalf_of=principal.on_behalf_of,
                    requester_identities=requester_identities(principal, directory),
                    approvers={p: tuple(sorted(ids)) for p, ids in approval.identities.items()},
                    approver_sources=approval.sources,
                    quorum=approval.quorum,
                    require_reason=approval.require_reason,
                    allow_edit=approval.allow_edit,
                    data_classes=tuple(classes),
                    environment=dict(call.environment),
                    created_at=now,
                    expires_at=now + approval.timeout_seconds,
                    vault_id=vault_id,
                    reviewer_view=review[0] if review is not None else None,
                    review_args=dict(review[1]) if review is not None else None,
                    authentication=approval.authentication,
                )
                tx.insert_request(request)
                tx.append_audit(
                    Event.REQUEST_CREATED,
                    request_id=request.id,
                    actor=principal.agent,
                    data={
                        "tool": call.tool,
                        "rule_id": decision.rule_id,
                        "run_id": call.run_id,
                        "on_behalf_of": principal.on_behalf_of,
                        "masked_args": request.masked_args,
                        # What reviewers are shown, through the same function as every face.
                        "reviewer_view": request.reviewer_view or "masked",
                        "shown_args": dict(shown_args(request)),
                        "args_hmac": args_hash,
                        "call_key": key,
                        "terms": request.terms(),
                        "data_classes": classes,
                        "approvers": sorted(request.approvers),
                        "quorum": request.quorum,
                        "expires_at": request.expires_at,
                    },
                )
                return request
        assert refusal is not None
        raise refusal

    def follow_policy_file(self, actor: str, *, settle: float = SETTLE_SECONDS) -> None:
        """Re-read the policy when its file changes, before each vote (as a `Guard` does before
        each call; see `guardrails_plugin.policy.watch`), audited as ``actor``. For a process
        that only decides, such as the Slack app: its policy narrows who may vote and judges
        edits, so someone removed from the file stops counting without a restart. A `Guard`'s
        own broker does not follow the file itself: the guard does, and hands it the change."""
        if self.policy is None:
            raise ValueError("follow_policy_file() needs a broker with a policy")

        def use(new: Policy) -> None:
            self.policy = new

        self._live = LivePolicy(self.policy, self.store, actor, use, settle=settle)

    def current_policy(self) -> Policy | None:
        """The policy to judge by now: the followed file's settled change first (when the broker
        follows one), then the policy. Votes and every read that chooses what a caller may see
        go through here, so someone removed from ``people:`` stops seeing the reviewer view as
        soon as they stop counting. A StoreError (the reload's audit row) fails the caller."""
        if self._live is not None:
            self._live.refresh()
        return self.policy

    def verified(self, request_id: str) -> tuple[ApprovalRequest | None, str | None]:
        """The request as stored, and why its columns differ from the terms its keyed audit
        rows record (None when they match), read in one transaction: whoever acts on a decided
        request's rule, approvers and vault must act on this copy, the one that was checked."""
        with self.store.transaction() as tx:
            request = tx.get_request(request_id)
            if request is None:
                return None, f"no approval request {request_id!r}"
            return request, terms_refusal(tx, request)

    def recorded_decision(self, request_id: str) -> AuditRecord | None:
        """The request's decision row, if the audit log holds an authentic one (the columns
        alone prove nothing: anyone who can write the file can set them)."""
        with self.store.transaction() as tx:
            for row in reversed(tx.request_events(request_id)):
                if row.event in DECISION_EVENTS and tx.authentic(row):
                    return row
        return None

    def get(self, request_id: str) -> ApprovalRequest:
        request = self.store.get_request(request_id)
        if request is None:
            raise ApprovalError(f"no approval request {request_id!r}", request_id)
        return request

    # --- votes ---------------------------------------------------------------------------------

    def vote(
        self,
        request_id: str,
        identity: str,
        verdict: Verdict | str,
        *,
        reason: str | None = None,
        edited_args: Mapping[str, Any] | None = None,
        channel: str = "cli",
        revision: int | None = None,
        sign_in: stepup.SignInEvidence | None = None,
    ) -> VoteResult:
        """Record a vote and decide the request when it settles it.

        ``sign_in`` is the identity provider's evidence, which only the web service builds
        (after verifying a token); a step-up rule takes no vote without it (`stepup.check`).

        Refuses (with an audit row) unknown requests, decided or expired requests, the
        requester's own identities, non-approvers, missing reasons, disallowed or denied edits,
        and votes on a revision older than the current one. An approval must name the
        ``revision`` the reviewer saw (a deny need not). A repeat vote by the same person is a
        harmless no-op.
        """
        self.current_policy()  # a StoreError here refuses the vote, as any store failure does
        verdict = Verdict(verdict)
        reason = reason.strip() if reason and reason.strip() else None
        outcome: VoteResult | None = None
        refusal: GuardError | None = None
        with self.store.transaction() as tx:
            request = tx.get_request(request_id)
            try:
                if request is None:
                    raise ApprovalError(f"no approval request {request_id!r}", request_id)
                outcome = self._vote(
                    tx, request, identity, verdict, reason, edited_args, channel, revision, sign_in
                )
            except ApprovalError as exc:
                refusal = exc
                tx.append_audit(
                    Event.VOTE_REFUSED,
                    request_id=request_id if request is not None else None,
                    actor=identity,
                    data={
                        "verdict": str(verdict),
                        "channel": channel,
                        "why": str(exc),
                        "kind": type(exc).__name__,
                    },
                )
        if refusal is not None:
            raise refusal
        assert outcome is not None
        return outcome

    def _vote(
        self,
        tx: StoreTx,
        request: ApprovalRequest,
        identity: str,
        verdict: Verdict,
        reason: str | None,
        edited_args: Mapping[str, Any] | None,
        channel: str,
        revision: int | None,
        sign_in: stepup.SignInEvidence | None = None,
    ) -> VoteResult:
        now = self.clock.now()
        if (why := terms_refusal(tx, request)) is not None:
            raise ApprovalError(
                f"request {request.id} does not match the audit log ({why}): the store was "
                "changed outside guardrails-plugin, so no vote on it counts",
                request.id,
            )
        if request.status is Status.PENDING and now >= request.expires_at:
            request = lifecycle.expire_in(tx, request, now) or request
        if request.status is not Status.PENDING:
            raise AlreadyDecided(
                f"request {request.id} is already {request.status.value}", request.id
            )
        directory = self.policy.directory if self.policy else None
        voter = resolve_voter(identity, request, directory)
        stepup.check(request, voter.identity, channel, sign_in)
        edit_note = ""
        if verdict is Verdict.APPROVE and revision is None:
            # An approval binds to what the reviewer was shown; a channel that cannot say which
            # revision that was must not approve (an edit in between would be approved unseen).
            raise ApprovalError(
                f"an approval must name the revision of request {request.id} the reviewer saw "
                f"(it is at revision {request.revision})",
                request.id,
            )
        if revision is not None and revision != request.revision:
            raise RequestChanged(
                f"request {request.id} changed since you saw it (revision {revision}, now "
                f"{request.revision}); review it again",
                request.id,
            )
        if request.require_reason and not reason:
            raise ReasonRequired(f"{rule_name(request)} requires a reason", request.id)
        shown = request.edited_args if request.edited_args is not None else request.masked_args
        if edited_args is not None and dict(edited_args) == dict(shown):
            edited_args = None  # "approve edited" with nothing changed is a plain approval
        if edited_args is not None:
            if verdict is not Verdict.APPROVE:
                raise ApprovalError("arguments can only be edited with an approval", request.id)
            before = request.rule_id
            request = apply_edit(self, tx, request, voter.identity, edited_args, now, reason)
            # The edit may have moved it to such a rule.
            stepup.check(request, voter.identity, channel, sign_in)
            if request.rule_id != before:
                edit_note = (
                    f"edited; {rule_name(request)} applies now and needs {request.quorum} "
                    f"approval(s) from {', '.join(sorted(request.approvers)) or 'nobody'}: "
                )
        prior = [v for v in tx.votes(request.id) if v.revision == request.revision]
        if any(v.person == voter.person and v.verdict is verdict for v in prior):
            return VoteResult(request, False, f"{voter.person} already voted {verdict.value}")
        tx.insert_vote(
            Vote(
                request.id,
                request.revision,
                voter.person,
                voter.identity,
                channel,
                verdict,
                now,
                reason,
                edited_args,
            )
        )
        tx.append_audit(
            Event.VOTE_RECORDED,
            request_id=request.id,
            actor=voter.identity,
            data={
                "person": voter.person,
                "channel": channel,
                "verdict": verdict.value,
                "reason": reason,
                "revision": request.revision,
                **({"sign_in": sign_in.audit()} if sign_in is not None else {}),
            },
        )
        if verdict is Verdict.DENY:
            decided = lifecycle.decide(
                tx,
                request,
                Status.DENIED,
                now,
                by=voter.person,
                reason=reason,
                data={"denied_by": voter.person},
            )
            return VoteResult(decided, True, f"denied by {voter.person}")
        approvers = {v.person for v in prior if v.verdict is Verdict.APPROVE} | {voter.person}
        approvers &= eligible_people(request, directory)
        if len(approvers) < request.quorum:
            return VoteResult(
                request,
                True,
                f"{edit_note}approval {len(approvers)} of {request.quorum} recorded",
            )
        decided = lifecycle.decide(
            tx,
            request,
            Status.APPROVED,
            now,
            by=",".join(sorted(approvers)),
            reason=reason,
            execute_by=now + self.execution_window,
            data={
                "approved_by": sorted(approvers),
                "bound_hash": request.current_hash,
                "revision": request.revision,
            },
        )
        return VoteResult(decided, True, f"approved by {', '.join(sorted(approvers))}")

    def cancel(self, request_id: str, actor: str, reason: str) -> ApprovalRequest:
        with self.store.transaction() as tx:
            request = tx.get_request(request_id)
            if request is None:
                raise ApprovalError(f"no approval request {request_id!r}", request_id)
            if request.status is not Status.PENDING:
                return request
            return lifecycle.decide(
                tx,
                request,
                Status.CANCELLED,
                self.clock.now(),
                by=actor,
                reason=reason,
                data={"cancelled_by": actor},
            )

    def expire_due(self) -> list[ApprovalRequest]:
        """Record ``expired`` for every pending request past its expiry (for sweepers)."""
        now = self.clock.now()
        expired = []
        for request in self.store.list_requests(Status.PENDING, limit=10_000):
            if now >= request.expires_at:
                done = lifecycle.expire(self.store, request.id, now)
                if done is not None:
                    expired.append(done)
        return expired

    # --- waiting -------------------------------------------------------------------------------

    def wait(self, request_id: str, deadline: float | None = None) -> ApprovalRequest:
        """Block until the request is decided or expires (expiry is recorded, and denies).

        ``deadline`` (clock time) ends the wait earlier with `ApprovalTimeout`, leaving the
        request pending so a restarted process can wait on it again. Between checks the waiter
        polls the store's change counter every ``poll_interval``, which costs microseconds, or,
        on a store that notifies (PostgreSQL), blocks until it says something changed.
        """
        request = self.get(request_id)
        token = self.store.change_token()
        notifier = real_time_waits(self.store, self.clock)
        while True:
            if request.terminal:
                return request
            now = self.clock.now()
            if now >= request.expires_at:
                return lifecycle.expire(self.store, request_id, now) or self.get(request_id)
            if deadline is not None and now >= deadline:
                raise ApprovalTimeout(
                    f"no decision on approval request {request_id} before the wait deadline",
                    request_id,
                )
            until = min(
                request.expires_at, deadline if deadline is not None else request.expires_at
            )
            if notifier is not None:
                # Woken by the store (NOTIFY) or by its safety interval at the latest; re-read
                # either way, so a dead change feed degrades to a slow poll, never to a wait
                # until expiry for a request decided long ago.
                token = notifier.wait_for_change(token, max(0.0, until - now))
                request = self.get(request_id)
                continue
            self.clock.sleep(max(0.0, min(self.poll_interval, until - now)))
            current = self.store.change_token()
            if current != token:
                token = current
                request = self.get(request_id)

    async def wait_async(self, request_id: str, deadline: float | None = None) -> ApprovalRequest:
        """`wait` for async callers. All waiters of a store on one event loop share one watcher
        task, so a thousand suspended runs cost one poller, not a thousand threads."""
        from guardrails_plugin.approvals.watcher import watcher_for

        request = self.get(request_id)
        if request.terminal:
            return request
        return await watcher_for(self.store, self.clock, self.poll_interval).wait(request, deadline)

    # --- execution ---------------------------------------------------------------------------

    def claim_execution(
        self, request_id: str, tool: str, args: Mapping[str, Any]
    ) -> ApprovalRequest:
        """Allow one execution of an approved call, bound to exactly these arguments.

        Passes only when the stored status is approved, the execution window is open, the tool
        is the one approved, the keyed hash of ``args`` equals the approved one (the original
        arguments, or the reviewer's edit), and nothing ran under this approval yet. Records the
        execution before returning, so a resumed or replayed run cannot run the tool twice.
        """
        token = secrets.token_hex(16)
        claimed = claim_execution(self.store, self.clock.now(), request_id, tool, args, token)
        self._claims[request_id] = token
        while len(self._claims) > _MAX_CLAIMS:  # calls that never ended: forget the oldest
            self._claims.pop(next(iter(self._claims)))
        return claimed

    def release_execution(self, request_id: str, tool: str, why: str) -> bool:
        """Give back the claim of a call the framework suspended mid-way (see
        `execution.release_execution`), so its replay can run it. Only the broker that made
        the claim can: it alone holds the claim's token. False when it made none."""
        token = self._claims.pop(request_id, None)
        if token is None:
            return False
        return release_execution(self.store, request_id, tool, why, token)

    def record_outcome(self, request_id: str, *, ok: bool, error: str | None = None) -> None:
        """Audit how the approved tool call ended (error text must already be masked)."""
        self._claims.pop(request_id, None)  # it ended: nothing left to give back
        self.store.record_event(
            Event.TOOL_EXECUTED if ok else Event.TOOL_FAILED,
            request_id=request_id,
            data={"error": error} if error else {},
        )
