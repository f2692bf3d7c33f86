"""A running process's policy, kept in step with its files: noticed, settled, loaded, audited.

A `Guard` (and the Slack app's broker) checks its policy files before each decision: one
``stat`` per file, microseconds. When a file changed, the new policy is used only once

1. the change has settled: every file's modification time is ``settle`` seconds (2 by default)
   in the past, or the files have stayed the same (device, inode, size, mtime, ctime and bytes)
   for ``settle`` seconds by this process's own clock. An editor or ``cp`` writing the file in
   place is done by then, so a file cut between two rules (valid YAML, a valid policy with fewer
   rules) is never taken for the new policy. A file dated in the future (clock skew, ``cp -p``
   from a host whose clock is ahead) settles by the second rule, with a WARNING naming it. A
   writer that pauses longer than that mid-file is the one case this cannot see; replacing the
   file atomically (write a temporary file, then rename it: ``mv``, ``install``, Kubernetes
   config maps) rules it out. Files that keep changing for a minute are reported (log and
   audit) once, so a change is never left unused in silence;
2. it loads: a file that does not load changes nothing. The last good policy stays, an ERROR
   is logged and ``policy.reload_failed`` is audited (once per broken content), and the next
   change is tried again. Keeping the last good policy rather than denying every call is on
   purpose: that policy was loaded, checked and enforced a moment ago, and a typo in a deploy
   must not stop every agent; the typo is reported where operators look (log and audit). A
   path that is not a regular file (a FIFO, a device, a symlink to one) or is over 1 MiB is
   such a file: it is never opened blocking nor read past the limit (`policy.files`);
3. no file changed after it was read; otherwise the next call tries again;
4. ``policy.reloaded`` (files, number of rules, SHA-256 of exactly the bytes parsed) is in the
   audit log: a policy whose change cannot be recorded is not used.

Bytes that are the same as the current policy's (a ``touch``, a rewrite with the same text)
change nothing and write nothing.

One refresh at a time: a call that finds another refresh running decides with the current
policy. A refresh that has not returned after ``stuck_after`` seconds (a hung network file
system, a hung store) is abandoned: the next call reports it (ERROR, audited once) and takes
over, and whatever the abandoned one finds later is discarded, so policy following never stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from guardrails_plugin.errors import ConfigError, PolicyError
from guardrails_plugin.policy.engine import Policy
from guardrails_plugin.policy.files import (
    NotReadable,
    Stamp,
    bytes_digest,
    read_policy_bytes,
    stamps,
)
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import Store

__all__ = [
    "SETTLE_SECONDS",
    "STALLED_SECONDS",
    "STUCK_SECONDS",
    "LivePolicy",
    "PolicyWatch",
    "policy_digest",
]

SETTLE_SECONDS = 2.0
# A change that has not settled after this long is reported once (it may never settle).
STALLED_SECONDS = 60.0
# A refresh running this long is taken to be hung, and abandoned.
STUCK_SECONDS = 60.0

log = logging.getLogger(__name__)


def policy_digest(files: Sequence[str]) -> str | None:
    """SHA-256 over the files' bytes, in order (None when one cannot be read, or none given).
    Read as a policy is (`policy.files`): never blocks, never reads past the size limit."""
    if not files:
        return None
    try:
        return bytes_digest([read_policy_bytes(name).data for name in files])
    except NotReadable:
        return None


@dataclass(frozen=True)
class Change:
    """A settled change of the policy files: the new policy, why it did not load, or (``notice``)
    why a change has not been used yet."""

    files: tuple[str, ...]
    stamps: tuple[Stamp, ...]
    digest: str | None
    policy: Policy | None = None
    error: PolicyError | None = None
    notice: str | None = None


@dataclass
class _Pending:
    """A change seen but not settled: its first look on the watcher's clock."""

    files: tuple[str, ...]
    stamps: tuple[Stamp, ...]
    digest: str | None
    since: float


class PolicyWatch:
    """Notices that a file-backed policy's files changed and loads them once they settled."""

    def __init__(
        self,
        policy: Policy,
        *,
        settle: float = SETTLE_SECONDS,
        stalled: float = STALLED_SECONDS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settle = settle
        self.stalled = stalled
        # File times are wall-clock times, so settling is measured on it; a change is also
        # settled when unchanged for `settle` seconds on it (a file dated in the future).
        self._wall = wall
        self.adopt(policy)

    def adopt(self, policy: Policy) -> None:
        """Take ``policy`` (just loaded, or given) as the current one: its files as they were
        when read, and the digest of the bytes parsed."""
        # A policy from a string has no file to follow ("<string>"), hence no digest.
        loaded = policy.digest is not None and len(policy.file_stamps) == len(policy.files)
        self._files = tuple(policy.files) if loaded else ()
        self._stamps = policy.file_stamps if loaded else ()
        self.digest = policy.digest if loaded else None
        self._refused: str | None = None
        self._pending: _Pending | None = None
        self._unsettled_since: float | None = None
        self._stall_reported = False
        self._future_warned: set[Stamp] = set()

    def accept(self, change: Change) -> None:
        """The caller used ``change``'s policy, or reported its error: stop offering it."""
        if change.notice is not None:
            self._stall_reported = True
            return
        if change.policy is not None:
            self._files, self.digest, self._refused = change.files, change.digest, None
        else:
            self._refused = change.digest
        self._stamps = change.stamps
        self._quiet()

    def _quiet(self) -> None:
        self._pending = None
        self._unsettled_since = None
        self._stall_reported = False

    def poll(self) -> Change | None:
        """A settled change to use or report, else None (nothing changed, or not settled)."""
        if not self._files:
            return None
        seen = stamps(self._files)
        if seen == self._stamps:
            self._quiet()
            return None
        now = self._wall()
        if not self._settled(self._files, seen, now):
            return self._stall(now)
        root = self._files[-1]
        try:
            new = Policy.load(root)
        except PolicyError as exc:
            if stamps(self._files) != seen:
                return None  # changed while it loaded
            digest = policy_digest(self._files)
            if digest is not None and digest in (self.digest, self._refused):
                self._stamps = seen  # the broken bytes already reported
                self._quiet()
                return None
            return Change(self._files, seen, digest, error=exc)
        return self._loaded(new, seen)

    def _loaded(self, new: Policy, seen: tuple[Stamp, ...]) -> Change | None:
        files, read = tuple(new.files), new.file_stamps
        # Settled as read (an include may be new), and no file changed after it was read: the
        # bytes parsed are the files' current version, so their digest is the one in force.
        now = self._wall()
        if stamps(files) != read or not self._settled(files, read, now):
            return None
        pending = self._pending
        if (
            pending is not None
            and (pending.files, pending.stamps) == (files, read)
            and pending.digest not in (None, new.digest)
        ):
            self._pending = None  # same dates, other bytes (a coarse clock): start again
            return None
        if new.digest == self.digest:
            self._files, self._stamps = files, read  # touched: nothing to do
            self._quiet()
            return None
        return Change(files, read, new.digest, policy=new)

    def _settled(self, files: tuple[str, ...], seen: tuple[Stamp, ...], now: float) -> bool:
        if all(s is None or now - s[3] / 1e9 >= self.settle for s in seen):
            return True  # every file dated `settle` seconds back
        if self._unsettled_since is None or now < self._unsettled_since:
            self._unsettled_since = now
        pending = self._pending
        if (
            pending is None
            or (pending.files, pending.stamps) != (files, seen)
            or now < pending.since
        ):
            self._warn_future(files, seen, now)
            self._pending = _Pending(files, seen, policy_digest(files), now)
            return False
        return now - pending.since >= self.settle  # unchanged for `settle` on our clock

    def _warn_future(self, files: tuple[str, ...], seen: tuple[Stamp, ...], now: float) -> None:
        for name, s in zip(files, seen, strict=True):
            ahead = s[3] / 1e9 - now if s is not None else 0.0
            if ahead > self.settle and s not in self._future_warned:
                self._future_warned.add(s)
                log.warning(
                    "policy file %s is dated %.0f s in the future (clock skew, or copied with "
                    "its date from a host whose clock is ahead?); it is used once it has stayed "
                    "unchanged for %g s",
                    name,
                    ahead,
                    self.settle,
                )

    def _stall(self, now: float) -> Change | None:
        since = self._unsettled_since
        if since is None or self._stall_reported or now - since < self.stalled:
            return None
        notice = (
            f"the policy files changed {now - since:.0f} s ago and have not stopped changing; "
            "the current policy stays in force until they stay unchanged for "
            f"{self.settle:g} s"
        )
        return Change(self._files, self._stamps, None, notice=notice)


class LivePolicy:
    """The policy a process decides with: re-read when its files change (``watch``), or on
    `reload`; every change and every refusal audited. ``use`` installs a new policy."""

    def __init__(
        self,
        policy: Policy,
        store: Store,
        actor: str,
        use: Callable[[Policy], None],
        *,
        watch: bool = True,
        settle: float = SETTLE_SECONDS,
        wall: Callable[[], float] = time.time,
        stuck_after: float = STUCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.actor = actor
        self._use = use
        self._watch = PolicyWatch(policy, settle=settle, wall=wall)
        self.watch = watch
        self._policy = policy
        self.stuck_after = stuck_after
        self._clock = clock
        # `_state` guards the claim below and is never held across I/O; `_busy` is held by the
        # one refresh or reload running, and replaced (with a new epoch) when it is stuck.
        self._state = threading.Lock()
        self._busy = threading.Lock()
        self._epoch = 0
        self._since = 0.0

    def refresh(self) -> None:
        """Use the policy files' settled change, if any. Cheap when nothing changed. Another
        thread already refreshing means this call decides with the current policy."""
        if not self.watch:
            return
        epoch = self._claim(wait=False)
        if epoch is None:
            return
        try:
            change = self._watch.poll()
            if change is None or epoch != self._epoch:
                return  # nothing to do, or this check was abandoned: a later one owns the watch
            if change.notice is not None:
                self._stalled(change.notice)
            elif change.policy is None:
                assert change.error is not None
                self._refused(change.files[-1], change.error, change.digest, "file changed")
            else:
                self._install(change.policy, change.digest, "file changed", epoch, change)
                return
            with self._state:
                if epoch == self._epoch:
                    self._watch.accept(change)
        finally:
            self._release(epoch)

    def reload(self, source: str | Path | Policy | None = None) -> Policy:
        """Load the policy again (from its file, or ``source``) and use it; a file that does not
        load raises its `PolicyError` (audited) and changes nothing."""
        epoch = self._claim(wait=True)
        assert epoch is not None
        try:
            if isinstance(source, Policy):
                new = source
            else:
                path = Path(source) if source is not None else self._file()
                try:
                    new = Policy.load(path)
                except PolicyError as exc:
                    self._refused(str(path), exc, policy_digest([str(path)]), "reload_policy()")
                    raise
            self._install(new, new.digest, "reload_policy()", epoch, None)
            return new
        finally:
            self._release(epoch)

    # --- one refresh at a time, never wedged ---------------------------------------------------

    def _claim(self, *, wait: bool) -> int | None:
        """Take the watch (its epoch), or None: another refresh runs and is not stuck."""
        while True:
            with self._state:
                lock, epoch = self._busy, self._epoch
            if lock.acquire(timeout=self.stuck_after) if wait else lock.acquire(blocking=False):
                with self._state:
                    if epoch == self._epoch:
                        self._since = self._clock()
                        return epoch
                continue  # taken over while we waited: that lock is abandoned
            with self._state:
                if epoch != self._epoch:
                    continue
                started = self._since
                if self._clock() - started < self.stuck_after:
                    if wait:
                        continue
                    return None
                self._busy = threading.Lock()
                self._busy.acquire()
                self._epoch += 1
                self._since = self._clock()
                epoch = self._epoch
            self._stuck(self._clock() - started)
            return epoch

    def _release(self, epoch: int) -> None:
        with self._state:
            if epoch == self._epoch:
                self._busy.release()

    def _stuck(self, seconds: float) -> None:
        problem = (
            f"a policy check started {seconds:.0f} s ago has not returned (a hung file system "
            "or store?); it is abandoned and policy following goes on without it"
        )
        self._report_problem(self._file_name(), problem, "policy check stuck")

    def _stalled(self, notice: str) -> None:
        self._report_problem(
            self._file_name(), notice, "file keeps changing", level=logging.WARNING
        )

    def _file_name(self) -> str:
        return self._policy.files[-1] if self._policy.files else "<policy>"

    # --- what is recorded ----------------------------------------------------------------------

    def _file(self) -> Path:
        root = Path(self._policy.files[-1]) if self._policy.files else None
        if root is None or not root.is_file():
            raise ConfigError(
                "this guard's policy was not loaded from a file; pass the file or a Policy to "
                "reload_policy()"
            )
        return root

    def _install(
        self, new: Policy, digest: str | None, why: str, epoch: int, change: Change | None
    ) -> None:
        self.store.record_event(
            Event.POLICY_RELOADED,
            actor=self.actor,
            data={
                "files": list(new.files),
                "rules": len(new.rules),
                "digest": digest,
                "previous_digest": self._watch.digest,
                "why": why,
            },
        )
        with self._state:
            if epoch != self._epoch:
                # Abandoned while recording: a later refresh owns the watch and may have used a
                # newer policy; using this one now would undo it.
                log.warning(
                    "an abandoned policy check finished; its policy %s is not used",
                    (digest or "-")[:16],
                )
                return
            self._policy = new
            self._use(new)
            if change is not None:
                self._watch.accept(change)
            else:
                self._watch.adopt(new)
        log.info(
            "policy reloaded (%s) from %s: %d rules, sha256 %s",
            why,
            ", ".join(new.files) or "memory",
            len(new.rules),
            (digest or "-")[:16],
        )

    def _refused(self, where: str, exc: PolicyError, digest: str | None, why: str) -> None:
        problems = [str(p)[:300] for p in exc.problems[:5]]
        log.error(
            "policy %s does not load (%s); the current policy stays in force: %s",
            where,
            why,
            "; ".join(problems),
        )
        self._record_failure(where, problems, digest, why)

    def _report_problem(
        self, where: str, problem: str, why: str, *, level: int = logging.ERROR
    ) -> None:
        log.log(level, "policy %s: %s", where, problem)
        self._record_failure(where, [problem], None, why)

    def _record_failure(
        self, where: str, problems: list[str], digest: str | None, why: str
    ) -> None:
        self.store.record_event(
            Event.POLICY_RELOAD_FAILED,
            actor=self.actor,
            data={
                "file": where,
                "problems": problems,
                "digest": digest,
                "kept_digest": self._watch.digest,
                "why": why,
            },
        )
