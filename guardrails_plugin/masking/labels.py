"""Label/value pairs: a value named by a sibling field instead of its own key.

    {"label": "Date of birth", "value": "1979-11-02"}     forms, CRM custom fields
    {"name": "X-Api-Key", "value": "..."}                 HAR headers, query strings, cookies
    {"name": "DB_PASSWORD", "value": "..."}               Kubernetes, ECS, GitHub env lists
    {"Key": "Owner", "Value": "..."}                      AWS tags
    {"type": "phone", "number": "..."}                    contact points
    {"system": "email", "value": "..."}                   FHIR ContactPoint
    {"question": "Your date of birth?", "answer": "..."}  intake forms

An argument list names its values the same way, by position: in
``["redis-server", "--requirepass", "..."]`` (a Kubernetes ``args``, a compose ``command``, an
exec array) the item after a flag that names a secret is that flag's value (`flag_key`).

Such a value is judged by the label's text as if that text were its key, so every key-aware
detector sees ``date_of_birth`` or ``x-api-key``. The label's text is passed as it is: it goes
through `guardrails_plugin.masking.keys.normalize_key` like any real key, in any language the key
vocabulary knows. A pair is taken only when the label says something (`classify_key` knows it):
``{"type": "text", "text": ...}`` is a chat content block, and its text is scanned as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from guardrails_plugin.masking.keys import SAFE, KeyMeaning, classify_key, normalize_key

__all__ = [
    "LABEL_KEYS",
    "LABEL_MARK",
    "VALUE_KEYS",
    "flag_key",
    "label_is_known",
    "label_reads_as_key",
    "pair_key",
]

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
    if meaning is not None and meaning.label == SAFE and not _kept_field(mapping, value_key):
        return None
    return value_key, label


# Keys that name a form's field; 'type', 'kind' and 'system' also name a structure's kind
# ('{"type": "event", "data": ...}'), whose content a kept label must not hide.
_FIELD_LABEL_KEYS = LABEL_KEYS - {"type", "system", "header"}
_MAX_KEPT_VALUE = 80


def _kept_field(mapping: Mapping[Any, Any], value_key: Any) -> bool:
    """A form field whose label names a kept kind ('Product', 'Artikel', 'Order id'): its short,
    one-line value is walked under the label, so it is kept like any value of such a key (a
    product name is not read as a person's). Validated findings in it still win."""
    value = mapping[value_key]
    if not isinstance(value, str) or len(value) > _MAX_KEPT_VALUE or "\n" in value:
        return False
    return any(isinstance(k, str) and k.lower() in _FIELD_LABEL_KEYS for k in mapping)


def label_is_known(label: str) -> bool:
    """The key vocabulary gives ``label`` a meaning somewhere in it."""
    return classify_key(label) is not None


_MAX_KEY_WORDS = 4


# Classes whose values have digits (an '@' keeps a label out of a pair): a label of such a class
# without digits holds none of its data, whatever its other words ('Doğum Tarihi').
_SHAPED = frozenset({"DATE_OF_BIRTH", "PHONE", "NATIONAL_ID", "CREDIT_CARD", "IBAN", "EMAIL"})


def label_reads_as_key(label: str) -> bool:
    """``label`` is a key name as a whole, so it is kept: a few words, no digits, and (for a
    name, a secret, an address, which have no shape) every word one the key vocabulary knows
    or the label's meaning needs ('First name', 'DB_PASSWORD', 'Home address'). A key word
    somewhere is not enough: 'phone +1 415 555 0123', 'Patient Henrietta Vossberg' and
    'password hunterxx' mean what their first word means, and the rest is data. A label that
    is not kept is scanned as text, which finds nothing in 'What is your date of birth?'."""
    words = list(normalize_key(label))
    while words and words[-1].isdigit() and len(words[-1]) <= 2:
        words.pop()  # an index ('KEY_2', 'line_1'), not data
    meaning = classify_key(label)
    if not words or len(words) > _MAX_KEY_WORDS or meaning is None:
        return False
    if any(c.isdigit() for word in words for c in word):
        return False
    if meaning.label in _SHAPED:
        return True
    return all(_key_word(words, i, meaning) for i in range(len(words)))


def _key_word(words: list[str], i: int, meaning: KeyMeaning) -> bool:
    """``words[i]`` is key vocabulary, or the label means less without it ('first' in 'First
    name' makes a weak 'name' strong; 'Vossberg' in 'Patient Vossberg' adds nothing)."""
    if classify_key(words[i]) is not None:
        return True
    rest = classify_key(" ".join(words[:i] + words[i + 1 :]))
    return rest is None or rest.label != meaning.label or (meaning.strong and not rest.strong)


def _label_shaped(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_LABEL
        and "\n" not in value
        and "@" not in value
    )


# '--requirepass', '-password', '--api-key': a flag alone in its list item ('--port=1' carries
# its own value and is read as a 'key=value' cell).
_FLAG = re.compile(r"--?(?P<name>[A-Za-z][\w-]{1,40})")


def flag_key(item: Any) -> str | None:
    """The key the list item after ``item`` is walked under: ``item``'s name when ``item`` is a
    command-line flag that names a secret (``--requirepass``), else None. Flags that name
    anything else ('--region', '--user') are not used: their values are arguments."""
    if not isinstance(item, str) or not item.startswith("-"):
        return None
    m = _FLAG.fullmatch(item)
    if m is None:
        return None
    meaning = classify_key(m.group("name"))
    if meaning is None or meaning.label != "SECRET":
        return None
    return m.group("name")
