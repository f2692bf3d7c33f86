"""Key-name context: the key above a value raises, decides or lowers its label.

``{"email": ...}``, a ``phone`` CSV column, ``DB_PASSWORD=...``, an ``Authorization:`` header:
the key says what the value is even when its shape does not (a password has no shape). Keys
such as ``order_id`` or ``created_at`` emit a ``SAFE`` span that outranks guesses (a phone-shaped
SKU, a name-shaped product) but not validated findings; the masker drops ``SAFE`` spans after
overlaps are settled.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from typing import NamedTuple

from guardrails_plugin.masking.detectors.base import Cell, Leaf
from guardrails_plugin.masking.detectors.lexicon import first_names
from guardrails_plugin.masking.detectors.secrets import looks_like_token
from guardrails_plugin.masking.keys import SAFE, classify_key, normalize_key
from guardrails_plugin.masking.labels import LABEL_MARK
from guardrails_plugin.masking.spans import Span

__all__ = ["KeyContextDetector", "already_masked", "looks_like_name"]

_TRIVIAL = re.compile(
    r"(?i)^(?:|null|none|nil|true|false|yes|no|n/?a|-+|\*+|x+|\.+|<[^<>]*>|\[[^\[\]]*\]|"
    r"\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{\{[^}]*\}\}|%\([^)]*\)s|redacted|masked|hidden|secret|"
    # What a form or a doc says about a field ('Password: required'), not its value.
    r"required|optional|unset|not set|empty|none set)$"
)
_NAME = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:[ '’.-]+[^\W\d_][^\W\d_'’.-]*){0,4}\.?$")
_CJK_NAME = re.compile(r"[\u3400-\u9fff\uac00-\ud7a3]")
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
    "metadata",
    "plan",
    "plans",
    "spec",
    "template",
    "containers",
    "container",
    "volumes",
    "deployment",
    "workflow",
    "pipeline",
    "stages",
    "variants",
    "variant",
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


# Lists of form fields: they hold label/value pairs about anything, people included.
_FORM_PARENTS = {"fields", "items", "columns", "labels"}

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
    """One to five words of letters (hyphens and apostrophes allowed), no digits, no '@'. One
    letter is a name only in Chinese, Japanese or Korean, whose family names are often one
    character ('王', '李')."""
    if len(value) == 1:
        return _CJK_NAME.match(value) is not None
    if not 2 <= len(value) <= 80 or not _NAME.match(value):
        return False
    if capitalized:
        words = re.split(r"[ ]+", value)
        return all(w[:1].isupper() for w in words if len(w) > 3)
    return True


# Keys that wrap a value rather than name it (MongoDB extended JSON, value objects).
_WRAPPER_KEYS = {"$date", "$numberlong", "$numberint", "$value", "value", "val", "date", "iso"}
_WRAPPED_LABELS = {"DATE_OF_BIRTH", "NATIONAL_ID", "PHONE", "CREDIT_CARD", "IBAN"}
# What masking leaves behind: runs of '*', '•', '●', 'X' or '#' with a few digits showing
# ('***-**-1931', '****4242', 'XXX-XX-1234', '•••• 4242').
_MASK_RUN = re.compile(r"[*•●·∙]+|(?<![A-Za-z])[Xx]{2,}(?![A-Za-z])|#{2,}")


_DATES = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?|\b\d{1,2}:\d{2}(?::\d{2})?\b"
)


# What a mask leaves between its groups ('(***) ***-4821', '•••• 4242'): not a shown character.
_MASK_SEPARATORS = frozenset(" \t-./()+:_")
# At most this many characters left showing ('4242', 'DE…30 00', '+49 … 4567'): six validate as
# no card, phone, IBAN, token or national id. A date of birth fits in six digits ('020384') and a
# password in anything, so under their keys only four may show (a year, the last four).
_SHOWN = 6
_SHOWN_BY_LABEL = {"DATE_OF_BIRTH": 4, "SECRET": 4}


def already_masked(value: str, label: str | None = None) -> bool:
    """Someone masked this already: three or more mask characters and only a few characters
    left showing (`_SHOWN`, fewer for ``label``'s values). '***Tr0ub4dor&3horse' shows a whole
    password: its three asterisks hide nothing."""
    if not any(c in value for c in "*•●·∙Xx#"):
        return False
    hidden = sum(len(m.group()) for m in _MASK_RUN.finditer(value))
    if hidden < 3:
        return False
    shown = sum(c not in _MASK_SEPARATORS for c in _MASK_RUN.sub("", value))
    return shown <= _SHOWN_BY_LABEL.get(label or "", _SHOWN)


# Keys that say nothing alone but take their parent's meaning: FHIR's name.family and
# name.given, address.line, telecom.value; a form's {"name": {"text": ...}}.
_GENERIC_KEYS = {"value", "text", "line", "lines", "family", "given", "middle", "prefix"}
# Sibling keys of a thing (a product, a manifest, a plan) and of a person.
_THING_SIBLINGS = {
    "sku", "price", "unit_price", "currency", "hex", "rgb", "color", "colour", "seats",
    "namespace", "kind", "apiversion", "version", "image", "replicas", "quantity", "qty",
    "stock", "brand", "manufacturer", "vendor", "category", "weight", "dimensions", "ean",
    "gtin", "upc", "mpn", "model", "size", "variant", "variants", "sku_id", "product_id",
    "repository", "repo", "license", "licence", "homepage", "dependencies", "labels",
    "annotations", "selector", "port", "protocol", "runtime", "handler", "region", "plan_id",
    "billing_cycle", "interval", "features", "unit_amount", "tax_code", "inventory",
}  # fmt: skip
# Columns of a product table ('sku,name,price'); a manifest's keys ('kind', 'annotations')
# are left out, since a YAML manifest names its owner beside them.
_PRODUCT_COLUMNS = {
    "sku", "price", "unit_price", "currency", "quantity", "qty", "stock", "brand", "vendor",
    "manufacturer", "category", "ean", "gtin", "upc", "mpn", "product_id", "weight", "size",
}  # fmt: skip
_PERSON_SIBLINGS = {
    "email", "phone", "mobile", "first_name", "last_name", "firstname", "lastname", "surname",
    "given_name", "family_name", "dob", "date_of_birth", "birthdate", "birth_date", "gender",
    "address", "title", "salutation", "middle_name", "nationality", "ssn", "age", "family",
    "given",
}  # fmt: skip


def _inherited(leaf: Leaf) -> str:
    """The key to read the leaf's value by: its own, or its parent's when its own is generic
    and the parent's means something (``name.family`` is a family name)."""
    key = leaf.key or ""
    if key.lower() in _GENERIC_KEYS and leaf.parents:
        parent = leaf.parents[-1]
        meaning = classify_key(parent)
        if meaning is not None and meaning.label in ("PERSON", "ADDRESS", "PHONE"):
            return parent
    return key


class _Siblings(NamedTuple):
    """What a mapping's keys say about each of its values."""

    thing: bool  # a product's, a manifest's keys ('sku', 'kind') and no person's
    person: bool  # a person's keys ('email', 'last_name')
    soyad: bool  # a Turkish form's 'Soyad' (family name): 'Ad' beside it is the given name


def _sibling_verdict(siblings: frozenset[str]) -> _Siblings:
    """Worked out once per mapping (`Siblings.once`): it reads every key."""
    lowered = {s.lower() for s in siblings}
    person = _person_siblings(lowered)
    thing = bool(lowered & _THING_SIBLINGS) and not person
    return _Siblings(thing, person, any(k.startswith("soyad") for k in lowered))


def _person_siblings(siblings: set[str]) -> bool:
    for key in siblings:
        if key in _PERSON_SIBLINGS:
            return True
        meaning = classify_key(key)
        if meaning is not None and meaning.strong and meaning.label in _PERSONAL:
            return True
    return False


_PERSONAL = {"PERSON", "EMAIL", "PHONE", "DATE_OF_BIRTH", "NATIONAL_ID"}


def _parent_kind(parents: list[str]) -> bool | None:
    """Whether the nearest of the parents that says anything names a thing (True: 'repos' in
    user.repos[].name) or a person (False: 'owner' in project.owner.name)."""
    for parent in reversed(parents):
        if parent in _PERSON_PARENTS:
            return False
        if parent in _THING_PARENTS:
            return True
    return None


def _names_a_person(key: str) -> bool:
    """A key that says whose name it is ('patient_name', 'cardholder_name', 'contact',
    'last_name'): a product's keys around it do not make its value a product's. Only a name
    that could be anything's ('name', 'title', 'display_name') is lowered by them."""
    if key.lower() in _PERSON_SIBLINGS:
        return True
    return any(w in _PERSON_PARENTS or w in _HANDLE_KEYS for w in normalize_key(key))


def _as_name(value: str) -> str:
    """A name as URLs and CSV cells write it: 'Henrike+Quast', 'ingvild%20rasmussen',
    'Dijkstra, Wilhelmina' (family name first)."""
    if "+" in value or "%" in value:
        value = urllib.parse.unquote_plus(value)  # 'Ji%C5%99%C3%AD' → 'Jiří'

    if value.count(",") == 1:
        family, given = (p.strip() for p in value.split(","))
        if family and given:
            value = f"{given} {family}"
    return value


def _known_first(value: str) -> bool:
    """A single capitalised word the first-name lexicon knows ('Eustaquio'), or words in any
    case starting with one ('ingvild rasmussen' in a query string)."""
    first = value.split()[0].lower() if value.strip() else ""
    if " " in value.strip():
        return first in first_names()
    return value[:1].isupper() and first in first_names()


def _handle_shaped(value: str) -> bool:
    """'jdoe42', 'j.doe', 'bob_smith': a handle, where a plain word after 'user:' in a chat
    transcript is what the user said ('user: thanks')."""
    return any(c.isdigit() or c in "._-" for c in value)


def _after_equals(text: str, start: int) -> bool:
    """'user=bethg' in a log line names a handle by its key."""
    before = text[max(0, start - 8) : start].rstrip(" \t\"'")
    return before.endswith("=")


class _CellKeys:
    """What a leaf's cell keys say together, worked out once per leaf and only when asked."""

    def __init__(self, leaf: Leaf) -> None:
        self._leaf = leaf
        self._keys: set[str] | None = None
        self._personal: bool | None = None

    def keys(self) -> set[str]:
        if self._keys is None:
            self._keys = {c.key.lower() for c in self._leaf.cells}
        return self._keys

    def personal(self) -> bool:
        if self._personal is None:
            self._personal = _person_siblings(self.keys())
        return self._personal

    def products(self) -> bool:
        return bool(self.keys() & _PRODUCT_COLUMNS)

    def beside_soyad(self) -> bool:
        if self._leaf.siblings.once(_sibling_verdict).soyad:
            return True
        return any(k.startswith("soyad") for k in self.keys())


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
            # The leaf's column and line keys, once per leaf (a CSV export has thousands).
            keys = _CellKeys(leaf)
            if leaf.key is not None:
                cells.append(Cell(0, len(leaf.text), _inherited(leaf)))
            for cell in cells:
                span = self._classify(leaf, cell, keys)
                if span is not None:
                    spans.append(span)
            out.append(spans)
        return out

    def _classify(self, leaf: Leaf, cell: Cell, keys: _CellKeys) -> Span | None:
        if cell.key == LABEL_MARK:
            # The name in a label/value pair: a key name, kept (validated findings still win).
            return Span(cell.start, cell.end, SAFE, "key.label", 0.92)
        meaning = classify_key(cell.key)
        if cell.key == leaf.key and leaf.parents and cell.key.lower() in _WRAPPER_KEYS:
            # {"dob": {"$date": "1984-03-02T00:00:00Z"}}: the wrapper's parent names the value.
            parent = classify_key(leaf.parents[-1])
            if parent is not None and parent.label in _WRAPPED_LABELS:
                meaning = parent
        if meaning is None and cell.key.lower() == "ad" and keys.beside_soyad():
            meaning = classify_key("adi")  # Turkish forms: 'Ad' (given name) beside 'Soyad'
        if meaning is None:
            return None
        value = leaf.text[cell.start : cell.end]
        stripped = value.strip().strip("\"'")
        if _TRIVIAL.match(stripped) or already_masked(stripped, meaning.label):
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
            whole = cell.start == 0 and cell.end == len(leaf.text)
            # A form's {"label": "Nachname", "value": ...}: the leaf is walked under the label's
            # text, which is no key of its mapping. The label is written for a person to read
            # and says what the value is; the list it sits in ('fields') does not.
            labelled = whole and leaf.key is not None and leaf.key not in leaf.siblings
            near = [p.lower() for p in leaf.parents[-2:]] if whole else []
            if labelled:
                near = [p for p in near if p not in _FORM_PARENTS]
            parents = set(near)
            # The mapping's other keys, when they are the leaf's own (a label's are the form's).
            siblings = leaf.siblings.once(_sibling_verdict) if whole and not labelled else None
            # Under a person ('users[].name'), keys beside the value do not make it a thing's.
            parent_kind = _parent_kind(near)
            thing = parent_kind is True or (
                parent_kind is None
                and (
                    (siblings is not None and siblings.thing)
                    or (not whole and keys.products() and not keys.personal())
                )
            )
            if thing and not _names_a_person(cell.key):
                return span(0.8, SAFE)  # items[].name is a product: keep NER off it
            # A CSV column or a 'Key: value' line has the leaf's other keys beside it: 'Nom'
            # next to 'Prénom' and 'Courriel' is a family name. (They only raise: a YAML
            # manifest's 'annotations' says nothing about its 'owner'.)
            person_parent = bool(parents & _PERSON_PARENTS) or (
                (siblings is not None and siblings.person) if whole else keys.personal()
            )
            as_name = _as_name(stripped)
            if (strong or person_parent) and looks_like_name(as_name, capitalized=False):
                return span(0.9)
            if labelled and looks_like_name(as_name):  # 'Nombre': 'Nahuel'; not 'team-a'
                return span(0.85)
            if looks_like_name(as_name) and " " in as_name:
                return span(0.75)
            if looks_like_name(as_name, capitalized=False) and _known_first(as_name):
                return span(0.75)
            # A handle ('bethg', 'jdoe42') names a person; an all-caps id ('U04QX7ZK2') is a
            # system's key for one and stays usable.
            # (Not among a thing's keys: a tag's or a repo's 'owner' is a team as often.)
            if (
                not thing
                and cell.key.lower() in _HANDLE_KEYS
                and re.fullmatch(r"[A-Za-z][\w.-]{1,30}", stripped)
                and any(c.islower() for c in stripped)
                and (whole or _handle_shaped(stripped) or _after_equals(leaf.text, start))
            ):
                return span(0.7)
            return None
        if label == "PHONE":
            # Dates and times are not phones ('telefono: vedi ordine 2024-03-11').
            return span(0.9) if _digits(_DATES.sub("", stripped)) >= 7 else None
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
