"""Agent runs: who acts, for whom, where, and the run's placeholder vault.

The application builds the Guard with the agent's identity, the human it acts for and its
environment labels, and what it passes to `Guard.run` is trusted. A run's configuration
(LangGraph's ``config["configurable"]``) is chosen by whoever calls the graph, so it may set only
what the application allowed in ``run_overrides`` (see `run_overrides.py`); anything else refuses
the call, and both outcomes are audited.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guardrails_plugin.errors import ToolDenied
from guardrails_plugin.masking import Vault
from guardrails_plugin.run_overrides import parse_run_overrides, refusal, requested_settings
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.protocol import Store
from guardrails_plugin.types import Principal

__all__ = ["MAX_RUNS", "RunContext", "Runs"]

log = logging.getLogger(__name__)

MAX_RUNS = 1024  # runs kept in memory (their vaults); the least recently used go first


@dataclass(frozen=True)
class RunContext:
    """One agent run: who acts, for whom, where, and the run's placeholder vault."""

    run_id: str
    principal: Principal
    environment: Mapping[str, str] = field(default_factory=dict)
    vault: Vault = field(default_factory=Vault)


class Runs:
    """The Guard's runs by id, each with its context and vault. Thread-safe."""

    def __init__(
        self,
        principal: Principal,
        environment: Mapping[str, str],
        overrides: Iterable[str],
        store: Store,
    ) -> None:
        self.principal = principal
        self.environment = dict(environment)
        self.overrides = parse_run_overrides(overrides)
        self.store = store
        self._runs: OrderedDict[str, RunContext] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        run_id: str | None = None,
        *,
        principal: str | None = None,
        on_behalf_of: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> RunContext:
        """See `Guard.run`. Without a ``run_id`` the run is new and nobody can ask for it
        again, so it is not kept."""
        if run_id is not None and principal is None and on_behalf_of is None and not environment:
            with self._lock:
                found = self._runs.get(run_id)
                if found is not None:
                    self._runs.move_to_end(run_id)
                    return found
        who = Principal(
            principal or self.principal.agent,
            on_behalf_of if on_behalf_of is not None else self.principal.on_behalf_of,
        )
        env = {**self.environment, **(environment or {})}
        if run_id is None:
            one_off = f"run_{uuid.uuid4().hex}"
            return RunContext(one_off, who, env, Vault(one_off))
        return self._context(run_id, who, env)

    def from_config(
        self,
        run_id: str,
        *,
        on_behalf_of: Any = None,
        environment: Any = None,
        source: str = "configurable",
    ) -> RunContext:
        """The run's context with the settings its configuration asks for (``source`` names
        where they came from: ``configurable.guard_on_behalf_of`` / ``guard_environment``).

        Only settings named in ``overrides`` may differ from the Guard's own; any other raises
        `ToolDenied` naming the key and the Guard parameter that would allow it, and is audited
        (``run.config_refused``). A context changed by allowed settings is audited
        (``run.configured``) before any call runs under it."""
        with self._lock:
            found = self._runs.get(run_id)
        # The run as the application set it up (Guard.run), else as the Guard was built.
        base = found.principal if found else self.principal
        who, env = base.on_behalf_of, dict(found.environment if found else self.environment)
        taken = []
        try:
            settings = requested_settings(on_behalf_of, environment, source=source)
        except ToolDenied:
            self._audit_refused(run_id, f"{source}.guard_*", source)
            raise
        for setting in settings:
            own = who if setting.label is None else env.get(setting.label)
            if setting.value == own:
                continue  # nothing is overridden
            if setting.name not in self.overrides:
                self._audit_refused(run_id, setting.origin, source)
                raise refusal(setting)
            taken.append(setting.name)
            if setting.label is None:
                who = setting.value
            else:
                env[setting.label] = setting.value
        if not taken:
            return self.get(run_id)
        principal = Principal(base.agent, who)
        data = {"source": source, "on_behalf_of": who, "environment": env, "run_id": run_id}
        try:
            self.store.record_event(
                Event.RUN_CONFIGURED,
                actor=base.agent,
                data={**data, "set_by_run": sorted(taken)},
                durable=False,
            )
        except Exception as exc:  # no audit row, no call under these settings
            log.error("could not audit the settings of run %r: %s", run_id, exc)
            raise ToolDenied(
                "Denied: the guard could not record the run's settings in the audit log, "
                "so the call was not made."
            ) from exc
        # For this call only: the run itself keeps the settings the application gave it (a
        # caller's override must not become what `Guard.run` and later calls of the run see),
        # and shares its vault, so placeholders stay one per value across the run.
        run = found or self._context(run_id, self.principal, dict(self.environment))
        return RunContext(run_id, principal, env, run.vault)

    def _context(self, run_id: str, who: Principal, env: dict[str, str]) -> RunContext:
        """The run's context with these settings; its vault is kept."""
        with self._lock:
            found = self._runs.get(run_id)
            if found is None or found.principal != who or found.environment != env:
                found = RunContext(run_id, who, env, found.vault if found else Vault(run_id))
                self._runs[run_id] = found
            self._runs.move_to_end(run_id)
            while len(self._runs) > MAX_RUNS:
                self._runs.popitem(last=False)
            return found

    def _audit_refused(self, run_id: str, origin: str, source: str) -> None:
        try:  # the value itself is the caller's and is not recorded
            self.store.record_event(
                Event.RUN_CONFIG_REFUSED,
                actor=self.principal.agent,
                data={"key": origin, "source": source, "run_id": run_id},
                durable=False,
            )
        except Exception as exc:  # noqa: BLE001 - logged; the call is refused anyway
            log.error("could not audit a refused setting of run %r: %s", run_id, exc)
