"""Small assertions shared by the masking tests on names and addresses."""

from __future__ import annotations

from typing import Any

from guardrails_plugin.masking import Masker


def found(masker: Masker, value: Any) -> set[tuple[str, str]]:
    """``(label, text)`` of every finding in a plain string payload."""
    assert isinstance(value, str)
    return {(f.data_class, value[f.start : f.end]) for f in masker.scan(value)}


def masked_text(masker: Masker, value: Any) -> str:
    return str(masker.mask(value).value)


def leaks(masker: Masker, value: Any, secrets: list[str]) -> list[str]:
    """The parts of ``secrets`` still readable after masking ``value``."""
    out = masked_text(masker, value)
    return [s for s in secrets if s in out]


def destroyed(masker: Masker, value: Any, keep: list[str]) -> list[str]:
    """The parts of ``keep`` that masking ``value`` destroyed."""
    out = masked_text(masker, value)
    return [k for k in keep if k not in out]
