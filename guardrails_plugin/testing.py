"""Fakes for testing code that uses guardrails-plugin: use them in your own tests.

- `FrozenClock`: time that moves only when told (or when something sleeps on it).
- `ScriptedApprover`: a reviewer that votes through the real broker on requests as they appear,
  from a background thread, so a guarded call that waits for approval gets one.

For LangChain agents, `guardrails_plugin.integrations.langchain.testing.ScriptedChatModel`
plays a model that emits the tool calls you script.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from guardrails_plugin.approvals import ApprovalBroker, VoteResult
from guardrails_plugin.clock import FrozenClock
from guardrails_plugin.errors import ApprovalError
from guardrails_plugin.store.records import ApprovalRequest, Status

__all__ = ["FrozenClock", "ScriptedApprover", "Vote"]


@dataclass(frozen=True)
class Vote:
    """What the scripted reviewer does with a request."""

    verdict: str = "approve"
    reason: str | None = None
    edited_args: Mapping[str, Any] | None = None


class ScriptedApprover:
    """Votes as ``identity`` on every pending request (or those ``decide`` answers for).

        with ScriptedApprover(guard.broker, "cli:bob", decide=lambda r: Vote("deny", "no")):
            agent.invoke(...)

    ``decide(request)`` returns a `Vote`, or None to leave that request alone. Votes go through
    the real broker, so self-approval, approver sets and quorum apply; refusals are kept in
    ``refused``.
    """

    def __init__(
        self,
        broker: ApprovalBroker,
        identity: str,
        *,
        decide: Callable[[ApprovalRequest], Vote | None] | None = None,
        channel: str = "test",
        poll_interval: float = 0.01,
    ) -> None:
        self.broker = broker
        self.identity = identity
        self.decide = decide or (lambda _request: Vote())
        self.channel = channel
        self.poll_interval = poll_interval
        self.votes: list[VoteResult] = []
        self.refused: list[ApprovalError] = []
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def vote_pending(self) -> list[VoteResult]:
        """One pass over the pending requests; returns the votes cast."""
        cast = []
        for request in self.broker.store.list_requests(Status.PENDING, limit=1000):
            if request.id in self._seen:
                continue
            vote = self.decide(request)
            if vote is None:
                continue  # asked again on the next pass
            self._seen.add(request.id)
            try:
                result = self.broker.vote(
                    request.id,
                    self.identity,
                    vote.verdict,
                    reason=vote.reason,
                    edited_args=vote.edited_args,
                    channel=self.channel,
                    revision=request.revision,
                )
            except ApprovalError as exc:
                self.refused.append(exc)
                continue
            cast.append(result)
        self.votes.extend(cast)
        return cast

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            self.vote_pending()

    def __enter__(self) -> ScriptedApprover:
        self._thread = threading.Thread(target=self._loop, name="scripted-approver", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
