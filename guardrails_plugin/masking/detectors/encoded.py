"""Secrets and PII hidden by encoding: base64 (and base64url), percent-encoding, hex.

A candidate token is decoded (bounded in size and depth) and the decoded text is scanned by the
other pattern detectors. For base64 and hex, if anything sensitive is inside, the whole encoded
token is masked under the label found. Percent-encoding maps back character by character, so in
a URL only the encoded value is replaced (``?email=ana%40example.org&tab=1`` keeps its other
parameters and stays a URL).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Callable, Sequence

from guardrails_plugin.masking.deadline import checkpoint_long
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.spans import Span

__all__ = ["EncodedDetector"]

_B64 = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{16,4096}={0,2}(?![A-Za-z0-9+/_=-])")
# Starts only where a run of URL characters starts, and never gives back what it read: a long
# token in a text holding a '%' was re-read from every position in it (quadratic).
_PCT = re.compile(r"(?<![^\s%\"'<>])(?:[^\s%\"'<>]*+%[0-9A-Fa-f]{2})++[^\s%\"'<>]*+")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){12,1024}(?![0-9A-Fa-f])")
_MAX_DEPTH = 2

Scan = Callable[[str], list[Span]]


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or sum(ch.isprintable() or ch in "\n\t" for ch in text) < 0.95 * len(text):
        return None
    return text


def _b64(token: str) -> str | None:
    padded = token + "=" * (-len(token) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable(raw)


def _hex(token: str) -> str | None:
    try:
        return _printable(bytes.fromhex(token))
    except ValueError:
        return None


class EncodedDetector:
    name = "encoded"
    batched = False

    def __init__(self, scan: Scan) -> None:
        self.scan = scan  # the plain detectors, applied to decoded text

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        return [self._find(leaf.text, 0) for leaf in leaves]

    def _find(self, text: str, depth: int) -> list[Span]:
        if depth >= _MAX_DEPTH:
            return []
        spans: list[Span] = []
        candidates: list[tuple[int, int, str | None]] = []
        checkpoint_long(text, "encoded", "base64")
        for m in _B64.finditer(text):
            token = m.group()
            if any(c.isupper() for c in token) and any(c.islower() for c in token):
                candidates.append((m.start(), m.end(), _b64(token.rstrip("="))))
        if "%" in text:
            for m in _PCT.finditer(text):
                spans.extend(self._percent(m.group(), m.start(), depth))
        checkpoint_long(text, "encoded", "hex")
        for m in _HEX.finditer(text):
            candidates.append((m.start(), m.end(), _hex(m.group())))
        checkpoint_long(text, "encoded", "decoded candidates")
        for start, end, decoded in candidates:
            if not decoded:
                continue
            found = self.scan(decoded) or self._find(decoded, depth + 1)
            if found:
                label = max(found, key=lambda s: s.score).label
                spans.append(Span(start, end, label, "encoded", 0.9))
        return spans

    def _percent(self, token: str, at: int, depth: int) -> list[Span]:
        """Findings in a percent-encoded token, mapped back to the characters that encode them."""
        decoded, starts = _unquote(token)
        if decoded == token:
            return []
        found = self.scan(decoded) or self._find(decoded, depth + 1)
        return [
            Span(at + starts[sp.start], at + starts[sp.end], sp.label, "encoded", 0.9)
            for sp in found
            if 0 <= sp.start < sp.end <= len(decoded)
        ]


_ESCAPE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _unquote(token: str) -> tuple[str, list[int]]:
    """``token`` percent-decoded (UTF-8; invalid sequences kept as written), and for each decoded
    character the offset in ``token`` where its encoding starts, plus ``len(token)`` at the end."""
    out: list[str] = []
    starts: list[int] = []
    last = 0
    for m in _ESCAPE.finditer(token):
        for i in range(last, m.start()):
            out.append(token[i])
            starts.append(i)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        char_start, before = m.start(), len(out)
        try:
            for pos in range(m.start(), m.end(), 3):
                chars = decoder.decode(bytes([int(token[pos + 1 : pos + 3], 16)]))
                for ch in chars:
                    out.append(ch)
                    starts.append(char_start)
                if chars:
                    char_start = pos + 3
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:  # not UTF-8: the run stays as written
            del out[before:], starts[before:]
            for i in range(m.start(), m.end()):
                out.append(token[i])
                starts.append(i)
        last = m.end()
    for i in range(last, len(token)):
        out.append(token[i])
        starts.append(i)
    starts.append(len(token))
    return "".join(out), starts
