"""Adversarial payload shapes for the masker: each builds about ``size`` characters of one shape
that used to cost (or could cost) more than linear time. Shared by the adversarial benchmark and
the profiling helper; plain functions of the size, deterministic (seeded), no I/O."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from typing import Any

__all__ = ["SHAPES", "build"]

_PROSE = (
    "the quick brown fox jumps over lazy dog while our team reviews every open ticket and "
    "ships small fixes before lunch so that nobody waits for the release train again"
)
_WORDS = _PROSE.split(" ")
_FIRST = [
    "Anna", "Bernd", "Carla", "Dieter", "Elena", "Farid", "Greta", "Hannes", "Ines", "Jonas",
    "Katrin", "Lukas", "Marta", "Niklas", "Olga", "Pavel", "Rosa", "Sven", "Tanja", "Ulrich",
]  # fmt: skip
_LAST = [
    "Albers", "Brandt", "Conrad", "Dietz", "Engel", "Fuchs", "Graf", "Hahn", "Imhof", "Jung",
    "Kraus", "Lorenz", "Mayer", "Neumann", "Otto", "Peters", "Roth", "Sauer", "Thiel", "Vogt",
]  # fmt: skip


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // max(1, len(unit)) + 1))[:size]


def _prose(size: int, rng: random.Random, *, newline_every: int = 0) -> str:
    out: list[str] = []
    n = 0
    while n < size:
        word = rng.choice(_WORDS)
        sep = "\n" if newline_every and rng.random() < 1 / newline_every else " "
        out.append(word + sep)
        n += len(word) + 1
    return "".join(out)[:size]


def _names(count: int) -> list[str]:
    """``count`` distinct person names: first + last, with a numbered middle part past 400."""
    names = []
    for i in range(count):
        first, last = _FIRST[i % 20], _LAST[(i // 20) % 20]
        extra = i // 400
        names.append(f"{first} {last}" if extra == 0 else f"{first} {_suffix(extra)}{last.lower()}")
    return names


def _suffix(n: int) -> str:
    letters = "BCDFGHKLMNPRSTVWZ"
    out = ""
    while True:
        out = letters[n % len(letters)] + out
        n //= len(letters)
        if n == 0:
            return out.capitalize() + "a"


def lowercase_prose(size: int, rng: random.Random) -> str:
    return _prose(size, rng)


def lowercase_prose_lines(size: int, rng: random.Random) -> str:
    return _prose(size, rng, newline_every=14)


def lowercase_single_word_lines(size: int, rng: random.Random) -> str:
    # Five words then one long lowercase token per line: the prose heuristic's worst case.
    line = "aa bb cc dd ee " + "x" * 2000 + "\n"
    return _repeat(line, size)


def title_case_prose(size: int, rng: random.Random) -> str:
    return " ".join(w.capitalize() for w in _prose(size, rng).split())[:size]


def capitalised_name_run(size: int, rng: random.Random) -> str:
    names = _names(400)
    return " ".join(rng.choice(names) for _ in range(size // 10))[:size]


def csv_export(size: int, rng: random.Random) -> str:
    rows = ["id,name,email,phone,city,iban,notes"]
    n, i = len(rows[0]), 0
    names = _names(4000)
    while n < size:
        name = names[i % len(names)]
        user = name.lower().replace(" ", ".")
        row = (
            f"{i},{name},{user}@example.org,+49 30 {rng.randint(1000000, 9999999)},Berlin,"
            f'DE89370400440532013000,"ordered {rng.choice(_WORDS)} twice"'
        )
        rows.append(row)
        n += len(row) + 1
        i += 1
    return "\n".join(rows)[:size]


def many_names(size: int, rng: random.Random) -> dict[str, Any]:
    """Distinct people, one per ~80 characters (4,000 in 320 KB): name spreading and overlap
    resolution see thousands of names in one payload."""
    names = _names(max(10, size // 78))
    return {"users": [{"name": n, "note": f"Dear {n}, your order shipped."} for n in names]}


def names_in_one_text(size: int, rng: random.Random) -> str:
    names = _names(max(10, size // 28))
    return " ".join(f"Dear {n}, thanks." for n in names)[:size]


def digit_run(size: int, rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(size))


def digits_spaced(size: int, rng: random.Random) -> str:
    return _repeat("4 1 1 1 2 ", size)


def digits_dashed(size: int, rng: random.Random) -> str:
    return _repeat("12-34-", size)


def digits_dotted(size: int, rng: random.Random) -> str:
    return _repeat("1.2.", size)


def colon_hex_run(size: int, rng: random.Random) -> str:
    return _repeat("ab:", size)


def phone_runs(size: int, rng: random.Random) -> str:
    return _repeat("+49 30 12 34 56 78 90 ", size)


def card_like(size: int, rng: random.Random) -> str:
    return _repeat("4111 1111 1111 1111 ", size)


def base64_blob(size: int, rng: random.Random) -> str:
    raw = bytes(rng.getrandbits(8) for _ in range(size * 3 // 4 + 3))
    return base64.b64encode(raw).decode()[:size]


def base64_tokens(size: int, rng: random.Random) -> str:
    raw = bytes(rng.getrandbits(8) for _ in range(3000))
    token = base64.b64encode(raw).decode()[:4000]
    return _repeat(token + " ", size)


def hex_blob(size: int, rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(size))


def nested_json_strings(size: int, rng: random.Random) -> dict[str, Any]:
    leaf = {"email": "ana@example.com", "note": "call +49 30 70053440"}
    inner: Any = leaf
    for _ in range(6):
        inner = {"payload": json.dumps(inner), "meta": "x"}
    unit = len(json.dumps(inner))
    return {"items": [inner] * max(1, size // unit)}


def many_emails(size: int, rng: random.Random) -> str:
    return " ".join(f"user{i}@example{i % 97}.org" for i in range(size // 20))[:size]


def email_near_miss(size: int, rng: random.Random) -> str:
    return "a@" + _repeat("a.", size - 2)


def whitespace_run(size: int, rng: random.Random) -> str:
    return " " * size


def whitespace_after_keywords(size: int, rng: random.Random) -> str:
    # Each keyword starts a pattern that then meets a long run of blanks.
    part = size // 6
    return (
        "key:" + " " * part + "x\n"
        "hi" + " " * part + "x\n"
        "thanks" + " " * part + "x\n"
        "From: " + "a" * part + "\n"
        "password=" + "\t" * part + "x\n"
        "aa bb cc dd ee " + " " * part
    )


def single_token(size: int, rng: random.Random) -> str:
    return "a" * size


def dotted_token(size: int, rng: random.Random) -> str:
    return _repeat("a.1", size)


def url_run(size: int, rng: random.Random) -> str:
    return _repeat("ab://c:d@", size)


def aws_words(size: int, rng: random.Random) -> str:
    return _repeat("aws secret key ", size)


def secret_word_run(size: int, rng: random.Random) -> str:
    return _repeat("password token secret ", size)


def pem_headers(size: int, rng: random.Random) -> str:
    return _repeat("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", size)


def percent_token(size: int, rng: random.Random) -> str:
    return "% " + "a" * (size - 2)


def pem_blank_run(size: int, rng: random.Random) -> str:
    return "-----BEGIN PRIVATE KEY-----\n" + " " * (size - 30) + "."


def backslash_run(size: int, rng: random.Random) -> str:
    return _repeat('"k": "' + "\\" * 60 + "\n", size)


def quoted_pairs(size: int, rng: random.Random) -> str:
    return _repeat('"k": \'' + "v" * 20 + " ", size)


def kwargs_unclosed(size: int, rng: random.Random) -> str:
    return _repeat('a="' + "x" * 10 + "\\", size)


def sql_insert(size: int, rng: random.Random) -> str:
    return "INSERT INTO t (a, b) VALUES (" + "'" * (size - 40) + " x"


def header_lines(size: int, rng: random.Random) -> str:
    return _repeat("X-Trace: " + "abc " * 20 + "\n", size)


def greetings(size: int, rng: random.Random) -> str:
    return _repeat("hi hello dear thanks ", size)


def wrote_lines(size: int, rng: random.Random) -> str:
    return _repeat("on monday, Anna Albers <a@b.c> said\n", size)


def wrote_unclosed(size: int, rng: random.Random) -> str:
    return _repeat("on x, Ana <", size)


def address_near_miss(size: int, rng: random.Random) -> str:
    return _repeat("12 Aaaa Bbbb Cccc Dddd Eeee, ", size)


def german_street_token(size: int, rng: random.Random) -> str:
    return "1 " + _repeat("a.b", size)


def mixed_scripts(size: int, rng: random.Random) -> str:
    return _repeat("Іvаn Реtrоv ivаn@ехаmрlе.соm ᴊᴏʜɴ ꭰ 𝐚𝐛 é\u0301\u200b ", size)


def cjk_text(size: int, rng: random.Random) -> str:
    return _repeat("東京都渋谷区の山田太郎さんに連絡してください。", size)


def combining_marks(size: int, rng: random.Random) -> str:
    return _repeat("a\u0301\u0302\u0303\u0304", size)


SHAPES: dict[str, Callable[[int, random.Random], Any]] = {
    f.__name__: f
    for f in (
        lowercase_prose,
        lowercase_prose_lines,
        lowercase_single_word_lines,
        title_case_prose,
        capitalised_name_run,
        csv_export,
        many_names,
        names_in_one_text,
        digit_run,
        digits_spaced,
        digits_dashed,
        digits_dotted,
        colon_hex_run,
        phone_runs,
        card_like,
        base64_blob,
        base64_tokens,
        hex_blob,
        nested_json_strings,
        many_emails,
        email_near_miss,
        whitespace_run,
        whitespace_after_keywords,
        single_token,
        dotted_token,
        url_run,
        secret_word_run,
        pem_headers,
        percent_token,
        pem_blank_run,
        backslash_run,
        aws_words,
        wrote_unclosed,
        quoted_pairs,
        kwargs_unclosed,
        sql_insert,
        header_lines,
        greetings,
        wrote_lines,
        address_near_miss,
        german_street_token,
        mixed_scripts,
        cjk_text,
        combining_marks,
    )
}


def build(shape: str, size: int, seed: int = 7) -> Any:
    return SHAPES[shape](size, random.Random(seed))
