"""A running process's policy, kept in step with its files: noticed, settled, loaded, audited.

A `Guard` (and the Slack app's broker) checks its policy files before each decision: one
``stat`` per file, microseconds. When a file changed, the new policy is used only once

1. every file has stayed untouched for ``settle`` seconds (2 by default): an editor or ``cp``
   writing the file in place is done by then, so a file cut between two rules (valid YAML, a
   valid policy with fewer rules) is never taken for the new policy. A writer that pauses
   longer than that mid-file is the one case this cannot see; replacing the file atomically
   (write a temporary file, then rename it: ``mv``, ``install``, Kubernetes config maps) rules
   it out;
2. it loads: a file that does not load changes nothing. The last good policy stays, an ERROR
   is logged and ``policy.reload_failed`` is audited (once per broken content), and the next
   change is tried again. Keeping the last good policy rather than denying every call is on
   purpose: that policy was loaded, checked and enforced a moment ago, and a typo in a deploy
   must not stop every agent; the typo is reported where operators look (log and audit);
3. no file changed while it loaded; otherwise the next call tries again;
4. ``policy.reloaded`` (files, number of rules, SHA-256 of the bytes loaded) is in the audit log:
   a policy whose change cannot be recorded is not used.

Bytes that are the same as the current policy's (a ``touch``, a rewrite with the same text)
change nothing and write nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from guardrails_plugin.errors import ConfigError, PolicyError
from guardrails_plugin.policy.engine import Policy
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import Store

__all__ = ["SETTLE_SECONDS", "LivePolicy", "PolicyWatch", "policy_digest"]

SETTLE_SECONDS = 2.0

log = logging.getLogger(__name__)

# (device, inode, size, mtime in ns) of one file; None when it cannot be read.
Stamp = tuple[int, int, int, int] | None


def policy_digest(files: Sequence[str]) -> str | None:
    """SHA-256 over the files' bytes, in order (None when one cannot be read, or none given)."""
    if not files:
        return None
    digest = hashlib.sha256()
    for name in files:
        try:
            digest.update(Path(name).read_bytes())
        except OSError:
            return None
    return digest.hexdigest()


def _stamps(files: Sequence[str]) -> tuple[Stamp, ...]:
    out: list[Stamp] = []
    for name in files:
        try:
            info = os.stat(name)
        except OSError:
            out.append(None)
            continue
        out.append((info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(out)


@dataclass(frozen=True)
class Change:
    """A settled change of the policy files: the new policy, or why it did not load."""

    files: tuple[str, ...]
    stamps: tuple[Stamp, ...]
    digest: str | None
    policy: Policy | None = None
    error: PolicyError | None = None


class PolicyWatch:
    """Notices that a file-backed policy's files changed and loads them once they settled."""

    def __init__(
        self,
        policy: Policy,
        *,
        settle: float = SETTLE_SECONDS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settle = settle
        self._wall = wall  # file times are wall-clock times, so the settling is measured on it
        self.adopt(policy)

    def adopt(self, policy: Policy) -> None:
        """Take ``policy`` (just loaded, or given) as the current one."""
        files = tuple(policy.files)
        # A policy from a string has no file to follow ("<string>").
        self._files = files if all(Path(f).is_file() for f in files) else ()
        self._stamps = _stamps(self._files)
        self.digest = policy_digest(self._files)
        self._refused: str | None = None

    def accept(self, change: Change) -> None:
        """The caller used ``change``'s policy, or reported its error: stop offering it."""
        if change.policy is not None:
            self._files, self.digest, self._refused = change.files, change.digest, None
        else:
            self._refused = change.digest
        self._stamps = change.stamps

    def poll(self) -> Change | None:
        """A settled change to use or report, else None (nothing changed, or not settled)."""
        if not self._files:
            return None
        stamps = _stamps(self._files)
        if stamps == self._stamps:
            return None
        if not self._settled(stamps):
            return None  # maybe still being written: look again at a later call
        digest = policy_digest(self._files)
        if digest is not None and digest in (self.digest, self._refused):
            self._stamps = stamps  # touched, or the broken bytes already reported
            return None
        root = self._files[-1]
        try:
            new = Policy.load(root)
        except PolicyError as exc:
            if _stamps(self._files) != stamps:
                return None  # changed while it loaded
            return Change(self._files, stamps, digest, error=exc)
        after = _stamps(new.files)
        if _stamps(self._files) != stamps or not self._settled(after):
            return None
        return Change(tuple(new.files), after, policy_digest(new.files), policy=new)

    def _settled(self, stamps: tuple[Stamp, ...]) -> bool:
        now = self._wall()
        return all(s is None or now - s[3] / 1e9 >= self.settle for s in stamps)


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
    ) -> None:
        self.store = store
        self.actor = actor
        self._use = use
        self._watch = PolicyWatch(policy, settle=settle, wall=wall)
        self.watch = watch
        self._policy = policy
        self._busy = threading.Lock()

    def refresh(self) -> None:
        """Use the policy files' settled change, if any. Cheap when nothing changed. Another
        thread already refreshing means this call decides with the current policy."""
        if not self.watch or not self._busy.acquire(blocking=False):
            return
        try:
            change = self._watch.poll()
            if change is None:
                return
            if change.policy is None:
                assert change.error is not None
                self._refused(change.files[-1], change.error, change.digest, "file changed")
                self._watch.accept(change)
                return
            self._install(change.policy, change.digest, "file changed")
            self._watch.accept(change)
        finally:
            self._busy.release()

    def reload(self, source: str | Path | Policy | None = None) -> Policy:
        """Load the policy again (from its file, or ``source``) and use it; a file that does not
        load raises its `PolicyError` (audited) and changes nothing."""
        with self._busy:
            if isinstance(source, Policy):
                new = source
            else:
                path = Path(source) if source is not None else self._file()
                try:
                    new = Policy.load(path)
                except PolicyError as exc:
                    self._refused(str(path), exc, policy_digest([str(path)]), "reload_policy()")
                    raise
            self._install(new, policy_digest(new.files), "reload_policy()")
            self._watch.adopt(new)
            return new

    def _file(self) -> Path:
        root = Path(self._policy.files[-1]) if self._policy.files else None
        if root is None or not root.is_file():
            raise ConfigError(
                "this guard's policy was not loaded from a file; pass the file or a Policy to "
                "reload_policy()"
            )
        return root

    def _install(self, new: Policy, digest: str | None, why: str) -> None:
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
        self._policy = new
        self._use(new)
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
