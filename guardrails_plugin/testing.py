"""Fakes for testing code that uses guardrails-plugin: use them in your own tests.

- `FrozenClock`: time that moves only when told (or when something sleeps on it).
"""

from guardrails_plugin.clock import FrozenClock

__all__ = ["FrozenClock"]
