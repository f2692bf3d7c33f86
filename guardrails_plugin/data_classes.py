"""The registry of data classes: the labels the masker gives findings and policies match on.

Classes form a shallow tree so a policy can say ``SECRET`` and match every kind of secret the
masker knows (``API_KEY``, ``PASSWORD``, ...). Built-in classes are registered here through the
same function a user's custom detector uses.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

__all__ = ["NEVER_CLEAR", "DataClass", "expand", "get", "known", "never_clear", "register"]

_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class DataClass:
    name: str
    description: str
    parent: str | None = None


_lock = threading.Lock()
_registry: dict[str, DataClass] = {}


def register(name: str, description: str, parent: str | None = None) -> DataClass:
    """Register a data class. Re-registering the same definition is a no-op."""
    if not _NAME.match(name):
        raise ValueError(f"data class name {name!r} must be UPPER_SNAKE_CASE")
    with _lock:
        if parent is not None and parent not in _registry:
            raise ValueError(f"data class {name!r}: unknown parent {parent!r}")
        new = DataClass(name, description, parent)
        old = _registry.get(name)
        if old is not None and old != new:
            raise ValueError(f"data class {name!r} is already registered as {old}")
        _registry[name] = new
        return new


# Classes no reviewer view shows in clear (issue 14 #10): what grants access, moves money or
# names a person to the state. Only classes under PII can be shown, so a custom class with no
# parent stays masked too (register it under PII to let a reviewer see it).
NEVER_CLEAR = ("SECRET", "FINANCIAL", "NATIONAL_ID")


def never_clear(name: str) -> bool:
    """Whether values of class ``name`` must stay masked for every reader, reviewers included."""
    return name in expand(NEVER_CLEAR) or name not in expand(("PII",))


def known() -> list[str]:
    """All registered class names, sorted."""
    return sorted(_registry)


def get(name: str) -> DataClass | None:
    return _registry.get(name)


def expand(names: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """Names plus every class below them: ``SECRET`` → ``{SECRET, API_KEY, PASSWORD, ...}``."""
    wanted = set(names)
    out = set(wanted)
    for dc in list(_registry.values()):
        node: DataClass | None = dc
        while node is not None:
            if node.name in wanted:
                out.add(dc.name)
                break
            node = _registry.get(node.parent) if node.parent else None
    return frozenset(out)


_BUILTINS: list[tuple[str, str, str | None]] = [
    ("PII", "Personal data about a person", None),
    ("PERSON", "A person's name", "PII"),
    ("EMAIL", "An email address", "PII"),
    ("PHONE", "A phone number", "PII"),
    ("ADDRESS", "A street address", "PII"),
    ("DATE_OF_BIRTH", "A date of birth", "PII"),
    ("NATIONAL_ID", "A national identifier (SSN, NINO, Steuer-ID, INSEE, DNI, ...)", "PII"),
    ("IP_ADDRESS", "An IPv4 or IPv6 address", "PII"),
    ("FINANCIAL", "Payment and account data", None),
    ("CREDIT_CARD", "A payment card number (Luhn-valid)", "FINANCIAL"),
    ("IBAN", "An international bank account number (mod-97 valid)", "FINANCIAL"),
    ("SECRET", "A credential: anything that grants access", None),
    ("API_KEY", "A provider API key or token", "SECRET"),
    ("PASSWORD", "A password, including one inside a connection URL", "SECRET"),
    ("PRIVATE_KEY", "A PEM private key", "SECRET"),
    ("TOKEN", "A bearer token, JWT or session token", "SECRET"),
    ("CONNECTION_STRING", "A connection string carrying credentials", "SECRET"),
]

for _name, _description, _parent in _BUILTINS:
    register(_name, _description, _parent)
