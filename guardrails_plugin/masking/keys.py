"""What a key name says about its value: ``email`` raises, ``order_id`` lowers.

Keys come from JSON objects, CSV headers, SQL columns, env variables, HTTP headers and
``key=value`` pairs, in any naming style; `normalize_key` turns ``AWS_SECRET_ACCESS_KEY``,
``awsSecretAccessKey`` and ``X-Api-Key`` into words so one vocabulary serves them all.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from guardrails_plugin.masking.keys_intl import (
    INTL_LABEL_WORDS,
    SCRIPT_KEYS,
    address_compound,
    strip_accents,
)
from guardrails_plugin.masking.national_ids import id_key_kinds

__all__ = ["KeyMeaning", "classify_key", "normalize_key"]

_CAMEL = re.compile(r"(?<=[^\W_A-Z])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\W_]+")


def normalize_key(key: str) -> tuple[str, ...]:
    """``'X-Api-Key'`` → ``('x', 'api', 'key')``; ``'ConnectionStrings__Main'`` → ``(...)``.

    Accents are folded and other scripts kept, so ``'Doğum_Tarihi'`` → ``('dogum', 'tarihi')``
    and ``'身份证号'`` stays one word: keys come in every language.
    """
    spaced = _CAMEL.sub("_", strip_accents(key.strip()))
    return tuple(w for w in _SEPARATORS.split(spaced.lower()) if w)


@dataclass(frozen=True)
class KeyMeaning:
    """``label`` is a data class or ``SAFE``; ``strong`` means the key alone decides."""

    label: str
    strong: bool


SAFE = "SAFE"

_SECRET_STRONG = {
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credentials",
    "credential",
    "authorization",
    "auth",
    "bearer",
    "privatekey",
    "accesstoken",
    "refreshtoken",
    "clientsecret",
    "secretkey",
    "accesskey",
    "sessiontoken",
    "pin",
    "otp",
    "totp",
    "cvv",
    "cvc",
    "requirepass",  # redis.conf and redis-server's flag
    "masterauth",
}
# A key glued into one word still names a secret: PGPASSWORD, csrftoken, GITHUBTOKEN.
_SECRET_SUFFIXES = ("password", "passwd", "passphrase", "secret", "token", "apikey")
_SECRET_PHRASES = {
    ("api", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("private", "key"),
    ("client", "secret"),
    ("access", "token"),
    ("refresh", "token"),
    ("id", "token"),
    ("auth", "token"),
    ("session", "token"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("account", "key"),
    ("webhook", "secret"),
    ("x", "api", "key"),
}
_SECRET_WEAK = {"session", "sessionid", "sid", "cookie", "key", "sig", "signature", "nonce", "hmac"}
# Words that turn a secret-sounding key into bookkeeping: max_tokens, token_type, public_key.
_SECRET_NEGATORS = {
    "tokens",
    "type",
    "count",
    "max",
    "min",
    "expires",
    "expiry",
    "ttl",
    "length",
    "public",
    "name",
    "id",
    "ids",
    "usage",
    "limit",
    "url",
    "uri",
    "endpoint",
    "file",
    "path",
    "hint",
    "required",
    "policy",
    "rotation",
    "version",
}

_LABEL_WORDS: dict[str, tuple[str, bool]] = {
    # word -> (label, strong)
    "email": ("EMAIL", True),
    "mail": ("EMAIL", False),
    "emailaddress": ("EMAIL", True),
    "phone": ("PHONE", True),
    "mobile": ("PHONE", True),
    "tel": ("PHONE", True),
    "telephone": ("PHONE", True),
    "fax": ("PHONE", True),
    "msisdn": ("PHONE", True),
    "cell": ("PHONE", False),
    "phonenumber": ("PHONE", True),
    **dict.fromkeys(
        # Phone in other languages, folded. Not 'cep': Turkish for mobile, Brazilian postcode.
        (
            "telefon",
            "telefono",
            "telefone",
            "telefoon",
            "telefonnummer",
            "telefonnr",
            "tlf",
            "handy",
            "handynummer",
            "mobil",
            "mobilnummer",
            "mobiel",
            "movil",
            "celular",
            "cellulare",
            "cellular",
            "portable",
            "komorka",
            "telefonu",
            "ceptelefonu",
            "puhelin",
            "puhelinnumero",
            "matkapuhelin",
            "sdt",
            "dienthoai",
            "gsm",
            "natel",
            "rufnummer",
            "whatsapp",
            "τηλεφωνο",
            "телефон",
            "電話",
            "电话",
            "携帯",
            "전화",
            "휴대폰",
        ),
        ("PHONE", True),
    ),
    "dob": ("DATE_OF_BIRTH", True),
    **dict.fromkeys(
        # The birth date's label in other languages, folded ('doğum' → 'dogum').
        (
            "geburtsdatum",
            "gebdatum",
            "gebdat",
            "geb",
            "geboren",
            "geburtstag",
            "naissance",
            "geboortedatum",
            "nacimiento",
            "nascita",
            "urodzenia",
            "urodzin",
            "dogum",
            "fodelsedatum",
            "fodelsedag",
            "fodselsdato",
            "fodselsdag",
            "syntymaaika",
            "syntymapaiva",
            "narozeni",
            "nascimento",
            "рождения",
            "γεννησης",
            "生年月日",
            "出生日期",
            "出生年月日",
            "생년월일",
            "ngaysinh",
            "dtnasc",
        ),
        ("DATE_OF_BIRTH", True),
    ),
    "birthdate": ("DATE_OF_BIRTH", True),
    "birthday": ("DATE_OF_BIRTH", True),
    "born": ("DATE_OF_BIRTH", True),
    "ssn": ("NATIONAL_ID", True),
    "nino": ("NATIONAL_ID", True),
    "nin": ("NATIONAL_ID", True),
    "insee": ("NATIONAL_ID", True),
    "nir": ("NATIONAL_ID", True),
    "dni": ("NATIONAL_ID", True),
    "nie": ("NATIONAL_ID", True),
    "passport": ("NATIONAL_ID", True),
    "steuerid": ("NATIONAL_ID", True),
    "idnr": ("NATIONAL_ID", True),
    "iban": ("IBAN", True),
    "card": ("CREDIT_CARD", False),
    "pan": ("CREDIT_CARD", False),
    "ip": ("IP_ADDRESS", False),
    "address": ("ADDRESS", False),
    "street": ("ADDRESS", True),
    "fullname": ("PERSON", True),
    "firstname": ("PERSON", True),
    "lastname": ("PERSON", True),
    "surname": ("PERSON", True),
    "givenname": ("PERSON", True),
    "familyname": ("PERSON", True),
    "author": ("PERSON", False),
    "owner": ("PERSON", False),
    "customer": ("PERSON", False),
    "cardholder": ("PERSON", True),
    "username": ("PERSON", False),
    "assignee": ("PERSON", False),
    "reporter": ("PERSON", False),
    "recipient": ("PERSON", False),
    "sender": ("PERSON", False),
    "contact": ("PERSON", False),
    "employee": ("PERSON", False),
    "patient": ("PERSON", False),
    "name": ("PERSON", False),
    "user": ("PERSON", False),
}
_LABEL_PHRASES: dict[tuple[str, ...], tuple[str, bool]] = {
    ("full", "name"): ("PERSON", True),
    ("first", "name"): ("PERSON", True),
    ("last", "name"): ("PERSON", True),
    ("given", "name"): ("PERSON", True),
    ("family", "name"): ("PERSON", True),
    ("display", "name"): ("PERSON", True),
    ("customer", "name"): ("PERSON", True),
    ("contact", "name"): ("PERSON", True),
    ("holder", "name"): ("PERSON", True),
    ("account", "holder"): ("PERSON", True),
    ("user", "name"): ("PERSON", False),
    ("date", "of", "birth"): ("DATE_OF_BIRTH", True),
    ("ne", "le"): ("DATE_OF_BIRTH", True),
    ("nee", "le"): ("DATE_OF_BIRTH", True),
    ("ne", "e", "le"): ("DATE_OF_BIRTH", True),
    ("ngay", "sinh"): ("DATE_OF_BIRTH", True),
    ("cep", "tel"): ("PHONE", True),
    ("dien", "thoai"): ("PHONE", True),
    ("birth", "date"): ("DATE_OF_BIRTH", True),
    ("social", "security"): ("NATIONAL_ID", True),
    ("national", "id"): ("NATIONAL_ID", True),
    ("tax", "id"): ("NATIONAL_ID", True),
    ("steuer", "id"): ("NATIONAL_ID", True),
    ("id", "number"): ("NATIONAL_ID", False),
    ("card", "number"): ("CREDIT_CARD", True),
    ("credit", "card"): ("CREDIT_CARD", True),
    ("phone", "number"): ("PHONE", True),
    ("email", "address"): ("EMAIL", True),
    ("ip", "address"): ("IP_ADDRESS", True),
    ("remote", "addr"): ("IP_ADDRESS", True),
    ("forwarded", "for"): ("IP_ADDRESS", True),
    ("client", "ip"): ("IP_ADDRESS", True),
    ("street", "address"): ("ADDRESS", True),
    ("home", "address"): ("ADDRESS", True),
    ("shipping", "address"): ("ADDRESS", True),
    ("billing", "address"): ("ADDRESS", True),
    ("postal", "address"): ("ADDRESS", True),
    ("mailing", "address"): ("ADDRESS", True),
    ("address", "line"): ("ADDRESS", True),
    ("bank", "account"): ("IBAN", False),
}
_NOT_ADDRESS = {"email", "ip", "mac", "remote", "wallet", "server", "host", "url", "web"}
# Keys whose values are identifiers, digests, versions, times or money: kept.
_SAFE_WORDS = {
    "id",
    "uuid",
    "guid",
    "sha",
    "sha1",
    "sha256",
    "hash",
    "digest",
    "commit",
    "etag",
    "checksum",
    "version",
    "release",
    "build",
    "revision",
    "rev",
    "created",
    "updated",
    "modified",
    "timestamp",
    "ts",
    "time",
    "at",
    "date",
    "sku",
    "order",
    "invoice",
    "amount",
    "total",
    "price",
    "currency",
    "status",
    "count",
    "qty",
    "quantity",
    "level",
    "env",
    "region",
    "trace",
    "span",
    "request",
    "correlation",
    "latency",
    "elapsed",
    "duration",
    "size",
    "bytes",
    "code",
    "method",
    "path",
    "route",
    "product",
    "item",
    # the product or plan a form or order names, in other languages (folded: 'Ürün' → 'urun')
    "producto",
    "produto",
    "prodotto",
    "produkt",
    "produit",
    "artikel",
    "article",
    "articulo",
    "artigo",
    "articolo",
    "urun",
    "tuote",
    "zbozi",
    "towar",
    "plan",
    "page",
    "limit",
    "offset",
    "event",
    "type",
    "kind",
    "model",
    "image",
    "tag",
    "flag",
    "feature",
    "city",
    "country",
}


@functools.lru_cache(maxsize=4096)
def classify_key(key: str) -> KeyMeaning | None:
    """The meaning of a key name, or None when it says nothing."""
    words = normalize_key(key)
    if not words:
        return None
    if not "".join(words).isascii():
        # Keys in other scripts: the table of whole keys first, then the shared vocabulary
        # (which holds a few, e.g. the national id names and '生年月日').
        script = SCRIPT_KEYS.get(key.strip().lower())
        if script:
            return KeyMeaning(*script)
    joined = "".join(words)
    negated = any(w in _SECRET_NEGATORS for w in words)
    if not negated:
        if joined in _SECRET_STRONG or any(w in _SECRET_STRONG for w in words):
            return KeyMeaning("SECRET", True)
        if any(w.endswith(_SECRET_SUFFIXES) for w in words):
            return KeyMeaning("SECRET", True)
        if len(words) > 1 and words[-1] == "pass":  # DB_PASS, SMTP_PASS; not pass_rate
            return KeyMeaning("SECRET", True)
        if any(_contains(words, p) for p in _SECRET_PHRASES):
            return KeyMeaning("SECRET", True)
    if id_key_kinds(words):  # a national id by any of its names (masking.national_ids)
        return KeyMeaning("NATIONAL_ID", True)
    for phrase, (label, strong) in _LABEL_PHRASES.items():
        if _contains(words, phrase):
            return KeyMeaning(label, strong)
    if joined in _LABEL_WORDS:
        label, strong = _LABEL_WORDS[joined]
        return KeyMeaning(label, strong)
    if joined in INTL_LABEL_WORDS:
        return KeyMeaning(*INTL_LABEL_WORDS[joined])
    last = words[-1]
    if last in _SAFE_WORDS or (len(words) > 1 and last in ("id", "ids", "at", "uuid")):
        return KeyMeaning(SAFE, False)
    for word in reversed(words):
        word = word if word in _LABEL_WORDS or word in INTL_LABEL_WORDS else word.removesuffix("s")
        if address_compound(word):
            word = "address"
        found = _LABEL_WORDS.get(word) or INTL_LABEL_WORDS.get(word)
        if found:
            label, strong = found
            if label == "ADDRESS" and any(w in _NOT_ADDRESS for w in words):
                return None
            return KeyMeaning(label, strong and len(words) <= 3)
    if not negated and any(w in _SECRET_WEAK for w in words):
        return KeyMeaning("SECRET", False)
    return None


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))
