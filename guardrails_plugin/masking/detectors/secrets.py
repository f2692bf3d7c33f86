"""The secrets catalogue: provider tokens, JWTs, private keys, auth headers, credentials in URLs
and connection strings, and high-entropy strings that a nearby word calls a secret.

Catalogue patterns are matched with Python ``re`` on the raw string: a spaCy tokenizer splits
``sk-f7bc…`` at the hyphen, and ``re`` is ~17x faster than a span ruler (INTEGRATION.md F).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence

from guardrails_plugin.masking.deadline import checkpoint_long
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.detectors.commands import command_passwords, named_passwords
from guardrails_plugin.masking.spans import Span

__all__ = ["CATALOGUE", "SecretsDetector", "entropy", "looks_like_token"]

# (name, data class, pattern); the span is group "s" when present, else the whole match.
CATALOGUE: list[tuple[str, str, re.Pattern[str]]] = [
    (name, label, re.compile(pattern))
    for name, label, pattern in [
        (
            "aws.access_key_id",
            "API_KEY",
            r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}(?![A-Z0-9])",
        ),
        (
            "github",
            "API_KEY",
            r"(?<![\w])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})",
        ),
        ("gitlab", "API_KEY", r"(?<![\w-])(?:glpat|gldt|glrt|glptt|glsoat)-[A-Za-z0-9_-]{20,}"),
        ("slack.token", "API_KEY", r"(?<![\w-])xox[abeoprs]-(?:[A-Za-z0-9]+-){1,4}[A-Za-z0-9]+"),
        (
            "slack.webhook",
            "API_KEY",
            r"https://hooks\.slack\.com/services/(?P<s>T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)",
        ),
        ("stripe", "API_KEY", r"(?<![\w])(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}"),
        ("stripe.webhook", "API_KEY", r"(?<![\w])whsec_[A-Za-z0-9]{20,}"),
        ("anthropic", "API_KEY", r"(?<![\w-])sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{20,}"),
        ("openai", "API_KEY", r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        ("google.api_key", "API_KEY", r"(?<![\w-])AIza[0-9A-Za-z_-]{35}"),
        ("google.oauth", "TOKEN", r"(?<![\w-])ya29\.[0-9A-Za-z_-]{20,}"),
        ("twilio", "API_KEY", r"(?<![\w])SK[0-9a-fA-F]{32}(?![\w])"),
        ("sendgrid", "API_KEY", r"(?<![\w])SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"),
        ("mailgun", "API_KEY", r"(?<![\w-])key-[0-9a-zA-Z]{32}(?![\w])"),
        ("npm", "API_KEY", r"(?<![\w])npm_[A-Za-z0-9]{36}(?![\w])"),
        ("pypi", "API_KEY", r"(?<![\w])pypi-AgE[A-Za-z0-9_-]{50,}"),
        ("huggingface", "API_KEY", r"(?<![\w])hf_[A-Za-z0-9]{30,}(?![\w])"),
        ("digitalocean", "API_KEY", r"(?<![\w])do[opr]_v1_[a-f0-9]{64}(?![\w])"),
        ("shopify", "API_KEY", r"(?<![\w])shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![\w])"),
        (
            "jwt",
            "TOKEN",
            r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        ),
        ("auth.bearer", "TOKEN", r"(?i:\bbearer)\s+(?P<s>[A-Za-z0-9._~+/=-]{8,})"),
        (
            "auth.basic",
            "TOKEN",
            r"(?i:authorization|auth)[\"']?\s*[:=]\s*[\"']?(?i:basic|digest|token)\s+(?P<s>[A-Za-z0-9._~+/=-]{6,})",
        ),
        (
            "conn.password",
            "PASSWORD",
            r"(?i:(?<![\w])(?:password|pwd|passwd)\s*=\s*)(?P<s>[^;\"'\s]+)",
        ),
        (
            "conn.account_key",
            "API_KEY",
            r"(?i:(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*)(?P<s>[^;\"'\s]+)",
        ),
        (
            "aws.secret_key",
            "API_KEY",
            r"(?i:aws.{0,20}(?:secret|key).{0,25}?)(?<![A-Za-z0-9/+])(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
        ),
    ]
]

_URL_START = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,20}://")
_URL_END = re.compile(r"[\s\"'<>]")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:[/?#]|$)")
_SECRET_WORD = re.compile(
    r"(?i)(?:password|passwd|pwd|passphrase|secret|token|api[ _-]?key|apikey|access[ _-]?key|"
    r"private[ _-]?key|credential|client[ _-]?secret|pin\b|otp\b)"
)
_TOKEN_CANDIDATE = re.compile(r"(?<![\w/+.-])[A-Za-z0-9_\-+/=!@#$%^&*~.]{8,200}(?![\w/+=-])")
_VERSION = re.compile(r"^v?\d+(?:\.\d+)+(?:[-+][\w.]+)?$|^\d{4}-\d{2}-\d{2}")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^(?:sha\d*:|0x)?[0-9a-fA-F]+$")


def looks_like_token(value: str, *, min_length: int = 12) -> bool:
    """A credential-shaped string: long, mixed character classes, high entropy, and not an
    identifier shape we keep (UUIDs, hex digests, versions, dates)."""
    if len(value) < min_length or " " in value:
        return False
    if _UUID.match(value) or _HEX.match(value) or _VERSION.match(value):
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )
    return classes >= 3 and entropy(value) >= 3.0


def _catalogue(text: str) -> Iterator[Span]:
    for name, label, pattern in CATALOGUE:
        checkpoint_long(text, "secrets", name)
        for m in pattern.finditer(text):
            start, end = (m.start("s"), m.end("s")) if "s" in pattern.groupindex else m.span()
            if end > start:
                yield Span(start, end, label, f"secret.{name}", 0.97)


def _url_passwords(text: str) -> Iterator[Span]:
    """``scheme://user:pass@host``: the password may hold ``#``, ``?``, ``/`` or ``@``, so the
    userinfo ends at the last ``@`` that is followed by a host name.

    Linear: the URL's token (up to whitespace or a quote) is read once, however many
    ``scheme://`` it holds; each start then looks its ``@`` and ``:`` up (it re-read the token
    per start, quadratic on ``ab://c:d@ab://c:d@…``).
    """
    token_end = -1
    last_at = -1
    colons: list[int] = []
    for m in _URL_START.finditer(text):
        rest_start = m.end()
        if rest_start > token_end:
            stop = _URL_END.search(text, rest_start)
            token_end = stop.start() if stop else len(text)
            last_at = _last_host_at(text, rest_start, token_end)
            colons = [
                c.start() for c in _COLON.finditer(text, rest_start, max(rest_start, last_at))
            ]
        if last_at <= rest_start:
            continue
        i = bisect.bisect_left(colons, rest_start)
        if i == len(colons) or colons[i] >= last_at:
            if _token_user(text, rest_start, last_at):
                yield Span(rest_start, last_at, "TOKEN", "secret.url_token", 0.97)
            continue
        if colons[i] == last_at - 1:
            continue
        yield Span(colons[i] + 1, last_at, "PASSWORD", "secret.url_password", 0.97)


# A credential sent as the user name of a URL, with no password: Sentry DSNs
# ('https://<32 hex>@o1.ingest.sentry.io/2'), 'https://<token>@github.com/org/repo.git'. A user
# name ('git@', 'deploy@', 'ana.lima@') is kept: the user part must be long and token-shaped.
_USER_TOKEN = re.compile(r"[A-Za-z0-9_~+=.-]{16,256}")


def _token_user(text: str, start: int, end: int) -> bool:
    if not _USER_TOKEN.fullmatch(text, start, end):
        return False
    user = text[start:end]
    if _HEX.match(user):
        return any(c.isdigit() for c in user) and any(c.isalpha() for c in user)
    return looks_like_token(user, min_length=16)


_COLON = re.compile(":")
_AT = re.compile("@")


def _last_host_at(text: str, start: int, end: int) -> int:
    """The last ``@`` in ``text[start:end]`` followed by a host name, or -1."""
    best = -1
    for at in _AT.finditer(text, start, end):
        # Each host match reads at most up to the next '@' or '/', so all of them read the
        # token about once.
        if _HOST.match(text, at.start() + 1, end):
            best = at.start()
    return best


_PEM_BEGIN = re.compile(r"-----BEGIN (?P<kind>[A-Z0-9 ]{0,40})PRIVATE KEY-----[ \t]*+\r?\n")
_PEM_END = re.compile(r"-----END (?P<kind>[A-Z0-9 ]{0,40})PRIVATE KEY-----")
_NOT_PEM_BODY = re.compile(r"[^A-Za-z0-9+/=\s:,-]")


def _pem_keys(text: str) -> Iterator[Span]:
    """The body of a PEM private key: from the line after ``-----BEGIN … PRIVATE KEY-----`` to its
    ``-----END`` line (the same kind), or to the end of the text if the key was cut off. The
    body must consist of base64, header fields and blanks.

    Done in code so it is linear: ``END`` lines are indexed once by kind, and the first
    character that cannot be in a body is looked up once per stretch (a lazy regex body before
    a blank run and ``(?:END|$)`` was quadratic on long blank runs and on many unterminated
    keys).
    """
    if "PRIVATE KEY-----" not in text:
        return
    ends: dict[str, list[tuple[int, int]]] = {}
    for m in _PEM_END.finditer(text):
        ends.setdefault(m.group("kind"), []).append((m.start(), m.end()))
    scanned_from, next_stop = -1, -1  # the first non-body character at or after scanned_from
    resume = 0
    for m in _PEM_BEGIN.finditer(text):
        if m.start() < resume:
            continue
        body = m.end()
        if body >= len(text):
            continue
        if not scanned_from <= body <= next_stop:
            stop = _NOT_PEM_BODY.search(text, body)
            scanned_from, next_stop = body, stop.start() if stop else len(text)
        kind_ends = ends.get(m.group("kind"), [])
        i = bisect.bisect_left(kind_ends, (body + 1, 0))  # the body has at least one character
        if i < len(kind_ends):
            end_start, match_end = kind_ends[i]
        elif next_stop == len(text):
            end_start, match_end = len(text), len(text)  # cut off: the key runs to the end
        else:
            continue
        if next_stop < end_start:
            continue  # something that cannot be in a key body comes first
        resume = match_end
        # Blanks before the END line (or the end of the text) are not part of the body.
        body_end = body + 1 + len(text[body + 1 : end_start].rstrip())
        yield Span(body, body_end, "PRIVATE_KEY", "secret.pem.private_key", 0.97)


def _secret_in_context(text: str) -> Iterator[Span]:
    """'my password is Nimbus2717!YAz', 'token for now: x9…' — a token right after the word."""
    for word in _SECRET_WORD.finditer(text):
        window_end = min(len(text), word.end() + 40)
        newline = text.find("\n", word.end(), window_end)
        window_end = newline if newline >= 0 else window_end
        for m in _TOKEN_CANDIDATE.finditer(text, word.end(), window_end):
            value = m.group().rstrip(".,;:!")
            if looks_like_token(value, min_length=8):
                yield Span(m.start(), m.start() + len(value), "SECRET", "secret.context", 0.85)
                break


class SecretsDetector:
    name = "secrets"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out = []
        for leaf in leaves:
            text = leaf.text
            spans = list(_catalogue(text))
            checkpoint_long(text, "secrets", "private keys")
            spans.extend(_pem_keys(text))
            if "://" in text:
                checkpoint_long(text, "secrets", "URL passwords")
                spans.extend(_url_passwords(text))
            checkpoint_long(text, "secrets", "secret words")
            spans.extend(_secret_in_context(text))
            spans.extend(named_passwords(text))
            checkpoint_long(text, "secrets", "command lines")
            spans.extend(command_passwords(text))
            out.append(spans)
        return out
