"""Label/value pairs: a value named by a sibling field instead of its own key.

    {"label": "Date of birth", "value": "1979-11-02"}     forms, CRM custom fields
    {"name": "X-Api-Key", "value": "..."}                 HAR headers, query strings, cookies
    {"name": "DB_PASSWORD", "value": "..."}               Kubernetes, ECS, GitHub env lists
    {"Key": "Owner", "Value": "..."}                      AWS tags
    {"type": "phone", "number": "..."}                    contact points
    {"system": "email", "value": "..."}                   FHIR ContactPoint
    {"question": "Your date of birth?", "answer": "..."}  intake forms

Such a value is judged by the label's text as if that text were its key, so every key-aware
detector sees ``date_of_birth`` or ``x-api-key``. The label's text is passed as it is: it goes
through `guardrails_plugin.masking.keys.normalize_key` like any real key, in any language the key
vocabulary knows. A pair is taken only when the label says something (`classify_key` knows it):
``{"type": "text", "text": ...}`` is a chat content block, and its text is scanned as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guardrails_plugin.masking.keys import SAFE, classify_key

__all__ = ["LABEL_KEYS", "LABEL_MARK", "VALUE_KEYS", "label_is_known", "pair_key"]

# Key names (case-insensitive) of the field that names the value, and of the field holding it.
LABEL_KEYS = frozenset(
    {
        "label",
        "name",
        "key",
        "field",
        "fieldname",
        "field_name",
        "title",
        "type",
        "header",
        "attribute",
        "param",
        "parameter",
        "variable",
        "property",
        "system",  # FHIR ContactPoint: {"system": "phone", "value": ...}
        "question",  # intake forms and chat flows: {"question": "Your last name?", "answer": ...}
    }
)
VALUE_KEYS = frozenset({"value", "val", "content", "text", "data", "number", "values", "answer"})
# The key a recognised label leaf is walked under: it is a key name, not data, and is kept.
LABEL_MARK = "$label"
_MAX_LABEL = 64


def pair_key(mapping: Mapping[Any, Any]) -> tuple[Any, str] | None:
    """``(value key, label text)`` when ``mapping`` is a label/value pair whose label does not
    name a kept kind, else None."""
    value_key = label = None
    for k, v in mapping.items():
        if not isinstance(k, str):
            continue
        lowered = k.lower()
        if lowered in VALUE_KEYS and value_key is None:
            value_key = k
        elif lowered in LABEL_KEYS and label is None and _label_shaped(v):
            label = v
    if value_key is None or label is None:
        return None
    meaning = classify_key(label)
    if meaning is not None and meaning.label == SAFE:
        return None
    return value_key, label


def label_is_known(label: str) -> bool:
    """The key vocabulary gives ``label`` a meaning: it is a key name, not data."""
    return classify_key(label) is not None


def _label_shaped(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_LABEL
        and "\n" not in value
        and "@" not in value
    )
