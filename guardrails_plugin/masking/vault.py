"""Reversible placeholders for one agent run.

The model sees ``<EMAIL_1>``; the vault remembers which real value that stands for, so the guard
can put the real address back into the arguments of a tool the policy allows (``send_email``)
without the model ever seeing it. One vault per run: never shared across runs, never written
anywhere, and its repr shows no values.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from guardrails_plugin import data_classes

__all__ = ["PLACEHOLDER", "Vault"]

PLACEHOLDER = re.compile(r"<(?P<label>[A-Z][A-Z0-9_]*?)_(?P<n>\d+)>")


class Vault:
    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id
        # Which vault this is: placeholder names repeat across vaults ("<EMAIL_1>" in every
        # run), so an approval records the vault its placeholders came from.
        self.id = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counters: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Vault(run_id={self.run_id!r}, placeholders={len(self._by_placeholder)})"

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def placeholder(self, label: str, value: str) -> str:
        """The placeholder for ``value``: the same value always gets the same one in this run."""
        with self._lock:
            key = (label, value)
            found = self._by_value.get(key)
            if found is None:
                n = self._counters.get(label, 0) + 1
                self._counters[label] = n
                found = f"<{label}_{n}>"
                self._by_value[key] = found
                self._by_placeholder[found] = value
            return found

    def lookup(self, placeholder: str) -> str | None:
        with self._lock:
            return self._by_placeholder.get(placeholder)

    def holds_placeholders(self, value: Any) -> bool:
        """Whether ``value`` has any placeholder-shaped text of a registered data class."""
        found = False

        def note(text: str) -> str:
            nonlocal found
            found = found or any(
                data_classes.get(m.group("label")) is not None for m in PLACEHOLDER.finditer(text)
            )
            return text

        _map_strings(value, note)
        return found

    def unknown(self, value: Any) -> list[str]:
        """Placeholders in ``value``'s strings that look minted by a masker (a registered data
        class and a number) but that this vault never issued, sorted: made up by the model, or
        minted in another process before a run was resumed there."""
        found: set[str] = set()

        def note(text: str) -> str:
            for m in PLACEHOLDER.finditer(text):
                minted = data_classes.get(m.group("label")) is not None
                if minted and self.lookup(m.group()) is None:
                    found.add(m.group())
            return text

        _map_strings(value, note)
        return sorted(found)

    def restore(self, value: Any) -> Any:
        """``value`` with every known placeholder in its strings replaced by the real value."""
        return _map_strings(
            value, lambda text: PLACEHOLDER.sub(lambda m: self.lookup(m.group()) or m.group(), text)
        )


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` with ``fn`` applied to every string in it, however deeply nested."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):  # keys too: a placeholder can stand as a key
        return {(fn(k) if isinstance(k, str) else k): _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, tuple):
        return tuple(_map_strings(v, fn) for v in value)
    return value
