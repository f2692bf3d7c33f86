"""Key-name context: the key above a value raises, decides or lowers its label.

``{"email": ...}``, a ``phone`` CSV column, ``DB_PASSWORD=...``, an ``Authorization:`` header:
the key says what the value is even when its shape does not (a password has no shape). Keys
such as ``order_id`` or ``created_at`` emit a ``SAFE`` span that outranks guesses (a phone-shaped
SKU, a name-shaped product) but not validated findings; the masker drops ``SAFE`` spans after
overlaps are settled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from guardrails_plugin.masking.detectors.base import Cell, Leaf
from guardrails_plugin.masking.detectors.secrets import looks_like_token
from guardrails_plugin.masking.keys import SAFE, classify_key
from guardrails_plugin.masking.labels import LABEL_MARK
from guardrails_plugin.masking.spans import Span

__all__ = ["KeyContextDetector", "looks_like_name"]

_TRIVIAL = re.compile(
    r"(?i)^(?:|null|none|nil|true|false|yes|no|n/?a|-+|\*+|x+|\.+|<[^<>]*>|\[[^\[\]]*\]|"
    r"\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{\{[^}]*\}\}|%\([^)]*\)s|redacted|masked|hidden|secret|"
    # What a form or a doc says about a field ('Password: required'), not its value.
    r"required|optional|unset|not set|empty|none set)$"
)
_NAME = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:[ '’.-]+[^\W\d_][^\W\d_'’.-]*){0,4}\.?$")
_PERSON_PARENTS = {
    "user",
    "users",
    "customer",
    "customers",
    "contact",
    "contacts",
    "author",
    "owner",
    "profile",
    "person",
    "people",
    "employee",
    "employees",
    "patient",
    "sender",
    "recipient",
    "from",
    "to",
    "account",
    "member",
    "members",
    "billing",
    "shipping",
    "assignee",
    "reporter",
    "cardholder",
    "holder",
    "buyer",
    "seller",
    "passenger",
    "guest",
    "student",
    "client",
}
_THING_PARENTS = {
    "items",
    "item",
    "products",
    "product",
    "sku",
    "files",
    "file",
    "tags",
    "categories",
    "labels",
    "fields",
    "columns",
    "tables",
    "services",
    "service",
    "images",
    "repos",
    "repo",
    "projects",
    "project",
    "company",
    "organization",
    "org",
    "team",
    "app",
    "apps",
    "bucket",
    "queue",
    "topic",
    "metrics",
    "events",
    "tools",
    "tool",
    "function",
    "functions",
    "model",
    "models",
    "package",
    "packages",
    "dependencies",
    "plugins",
    "steps",
    "jobs",
    "tasks",
}


_HANDLE_KEYS = {
    "username",
    "user",
    "login",
    "handle",
    "assignee",
    "reporter",
    "owner",
    "author",
    "sender",
    "recipient",
}


def looks_like_name(value: str, *, capitalized: bool = True) -> bool:
    """One to five words of letters (hyphens and apostrophes allowed), no digits, no '@'."""
    if not 2 <= len(value) <= 80 or not _NAME.match(value):
        return False
    if capitalized:
        words = re.split(r"[ ]+", value)
        return all(w[:1].isupper() for w in words if len(w) > 3)
    return True


def _digits(value: str) -> int:
    return sum(c.isdigit() for c in value)


class KeyContextDetector:
    name = "key_context"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out = []
        for leaf in leaves:
            spans: list[Span] = []
            cells = list(leaf.cells)
            if leaf.key is not None:
                cells.append(Cell(0, len(leaf.text), leaf.key))
            for cell in cells:
                span = self._classify(leaf, cell)
                if span is not None:
                    spans.append(span)
            out.append(spans)
        return out

    def _classify(self, leaf: Leaf, cell: Cell) -> Span | None:
        if cell.key == LABEL_MARK:
            # The name in a label/value pair: a key name, kept (validated findings still win).
            return Span(cell.start, cell.end, SAFE, "key.label", 0.92)
        meaning = classify_key(cell.key)
        if meaning is None:
            return None
        value = leaf.text[cell.start : cell.end]
        stripped = value.strip().strip("\"'")
        if _TRIVIAL.match(stripped):
            return None
        offset = value.find(stripped) if stripped else 0
        start, end = cell.start + max(0, offset), cell.start + max(0, offset) + len(stripped)
        label, strong = meaning.label, meaning.strong

        def span(score: float, name: str = label) -> Span:
            return Span(start, end, name, f"key.{cell.key}", score)

        if label == SAFE:
            # Outranks guesses and context patterns (phone 0.85, IP 0.9), not validated ones.
            return span(0.92)
        if label == "SECRET":
            if strong or looks_like_token(stripped, min_length=12):
                return span(0.9 if strong else 0.8)
            return None
        if label == "PERSON":
            parents = set(leaf.parents[-2:]) if cell.key == leaf.key else set()
            if parents & _THING_PARENTS:
                return span(0.8, SAFE)  # items[].name is a product: keep NER off it
            person_parent = bool(parents & _PERSON_PARENTS)
            if (strong or person_parent) and looks_like_name(stripped, capitalized=False):
                return span(0.9)
            if looks_like_name(stripped) and " " in stripped:
                return span(0.75)
            # A handle ('bethg', 'jdoe42') names a person; an all-caps id ('U04QX7ZK2') is a
            # system's key for one and stays usable.
            if (
                cell.key.lower() in _HANDLE_KEYS
                and re.fullmatch(r"[A-Za-z][\w.-]{1,30}", stripped)
                and any(c.islower() for c in stripped)
            ):
                return span(0.7)
            return None
        if label == "PHONE":
            return span(0.9) if _digits(stripped) >= 7 else None
        if label in ("DATE_OF_BIRTH", "NATIONAL_ID"):
            return span(0.9) if _digits(stripped) >= 4 or re.search(r"\d", stripped) else None
        if label in ("CREDIT_CARD", "IBAN"):
            return span(0.85 if strong else 0.75) if _digits(stripped) >= 10 else None
        if label == "ADDRESS":
            has_letters = any(c.isalpha() for c in stripped)
            if has_letters and _digits(stripped) and len(stripped) >= 8:
                return span(0.85)
            return None
        if label == "EMAIL" and strong and "@" not in stripped and len(stripped) >= 5:
            return span(0.8)
        return None
