"""Which of a run's settings its caller may choose.

A Guard is built by the application with the agent's identity, the human it acts for and its
environment labels; the policy's ``context`` rules and separation of duties trust them. A run's
configuration (LangGraph's ``config["configurable"]``) is chosen by whoever calls the graph, a
remote client of a LangGraph server included, so it may set only what the application allowed:

    Guard(..., run_overrides=["on_behalf_of", "environment.region"])

Anything else it tries to set refuses the call (fail closed: silently ignoring it would run the
call under a context the caller believes differs). The principal is never a run setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from guardrails_plugin.errors import ConfigError, ToolDenied

__all__ = ["ON_BEHALF_OF", "RunSetting", "parse_run_overrides", "refusal", "requested_settings"]

ON_BEHALF_OF = "on_behalf_of"
_ENV = "environment."


@dataclass(frozen=True)
class RunSetting:
    """One value a run's configuration asks for. ``name`` is as in ``run_overrides``;
    ``origin`` is where the value came from, as the caller wrote it."""

    name: str
    value: str
    origin: str

    @property
    def label(self) -> str | None:
        """The environment label this sets, or None for ``on_behalf_of``."""
        return self.name[len(_ENV) :] if self.name.startswith(_ENV) else None


def parse_run_overrides(names: Iterable[str] | str) -> frozenset[str]:
    """Check the allow-list given to the Guard: ``on_behalf_of`` and ``environment.<label>``."""
    if isinstance(names, str):
        names = [names]  # a lone string would otherwise be read letter by letter
    allowed = set()
    for name in names:
        label = name[len(_ENV) :] if isinstance(name, str) and name.startswith(_ENV) else None
        if name != ON_BEHALF_OF and not (label and "*" not in label):
            raise ConfigError(
                f"run_overrides: {name!r} is not a setting a run may choose; name "
                f"'{ON_BEHALF_OF}' or one environment label as 'environment.<label>' (for "
                "example 'environment.region'). The principal is never set per run."
            )
        allowed.add(name)
    return frozenset(allowed)


def requested_settings(on_behalf_of: Any, environment: Any, *, source: str) -> list[RunSetting]:
    """The settings a run's configuration asks for (``None`` means not asked). Values that are
    not strings refuse the call: the policy compares strings."""
    settings = []
    if on_behalf_of is not None:
        origin = f"{source}.guard_on_behalf_of"
        settings.append(RunSetting(ON_BEHALF_OF, _text(on_behalf_of, origin), origin))
    if environment is not None:
        if not isinstance(environment, Mapping):
            raise ToolDenied(
                f"Denied: {source}.guard_environment must map environment labels to strings, "
                "so the call was not made."
            )
        for label, value in environment.items():
            origin = f"{source}.guard_environment[{label!r}]"
            if not isinstance(label, str) or not label:
                raise ToolDenied(f"Denied: {origin} is not an environment label (a string).")
            settings.append(RunSetting(f"{_ENV}{label}", _text(value, origin), origin))
    return settings


def refusal(setting: RunSetting) -> ToolDenied:
    return ToolDenied(
        f"Denied: the run's configuration sets {setting.origin}, which this Guard does not let "
        "a run choose (the value the Guard was built with stands), so the call was not made. "
        f"If your application, not its caller, sets that value, allow it with "
        f"Guard(..., run_overrides=[{setting.name!r}])."
    )


def _text(value: Any, origin: str) -> str:
    if not isinstance(value, str) or not value:
        raise ToolDenied(f"Denied: {origin} must be a non-empty string, so the call was not made.")
    return value
