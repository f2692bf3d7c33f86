"""Secrets and PII hidden by encoding: base64 (and base64url), percent-encoding, hex.

A candidate token is decoded (bounded in size and depth) and the decoded text is scanned by the
other pattern detectors; if anything sensitive is inside, the whole encoded token is masked in
the original text under the label found.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
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
                unquoted = urllib.parse.unquote(m.group())
                candidates.append((m.start(), m.end(), unquoted if unquoted != m.group() else None))
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
