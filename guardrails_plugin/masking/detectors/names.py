"""Person names from the shape of messages: email display names, greetings and sign-offs,
"On <date>, <name> wrote:", and chat speakers after a timestamp.

These complement NER, which misses names it has not seen (many non-English names), names in
lower case, and chat handles. Each pattern is a convention of how people write to each other,
not a list of names.

Linear time: blank runs between optional parts are possessive (``[ \t]*,?[ \t]+`` re-read a
run of blanks once per character of it), a pattern that can start at many places in one line
has bounded parts, and the display-name pattern starts only where a run of name characters does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from guardrails_plugin.masking.deadline import checkpoint_long
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.detectors.keyctx import looks_like_name
from guardrails_plugin.masking.detectors.person_chat import SPEAKER_ROLES
from guardrails_plugin.masking.spans import Span

__all__ = ["NOT_NAMES", "NameShapeDetector"]

_NAME_WORD = r"[^\W\d_][^\W\d_'’-]*"
_ADDRESS_HEADER = re.compile(r"(?im)^(?:from|to|cc|bcc|reply-to|sender)[ \t]*:[ \t]*(?P<v>.+)$")
# Starts only where a run of name characters starts (a later start in the same run could only
# find the same '<', after re-reading the run: quadratic on a long header).
_DISPLAY_NAME = re.compile(
    r"(?<![^\"<>,;:@\n])\"?(?P<n>[^\"<>,;:@\n]++)\"?\s*+<[^<>@\s]++@[^<>\s]++>"
)
_GREETING = re.compile(
    rf"(?<![\w])(?i:hi|hello|hey|dear|hallo|bonjour|hola|ciao|buongiorno|guten tag|thanks|"
    rf"thank you|cheers)(?:[ \t]*+,)?[ \t]++"
    rf"(?P<n>{_NAME_WORD}(?:[ \t]+{_NAME_WORD})?)[ \t]*[,!.:\n]"
)
_SIGN_OFF = re.compile(
    rf"(?im)^[ \t>]*(?:thanks|thank you|regards|best regards|kind regards|best|cheers|sincerely|"
    rf"mit freundlichen gr[üu](?:ß|ss)en|viele gr[üu](?:ß|ss)e|cordialement|saludos|un saludo|"
    rf"grazie|ciao)[ \t]*+[,!.]?"
    rf"[ \t]*+\r?\n[ \t>]*+(?P<n>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,3}})[ \t]*$"
)
_WROTE = re.compile(
    rf"(?im)(?:^|\bon\b[^\n]{{0,40}},)[ \t>]*+(?P<n>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,3}})"
    rf"(?:[ \t]+<[^>\n]{{1,200}}>)?[ \t]+(?:wrote|schrieb|a [ée]crit|escribi[óo]|ha scritto):"
)
_CHAT_SPEAKER = re.compile(
    r"(?m)^[ \t]*(?:\[[^\]\n]{5,40}\]|\(?\d{1,2}:\d{2}(?::\d{2})?\)?|<)[ \t]*<?"
    r"(?P<n>[A-Za-z][\w.-]{1,30})>?[ \t]*:[ \t]"
)
# A message that ends with a line holding only a name: the writer's signature.
_SIGNATURE = re.compile(
    rf"(?:[.!?,:][ \t]*\n|\n[ \t]*\n)[ \t]*(?P<n>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{1,2}})[ \t]*"
    rf"(?:\n[ \t]*(?:--.*)?)*$"
)
# Words a pattern above can catch that are not names.
NOT_NAMES = {
    "all",
    "everyone",
    "team",
    "there",
    "again",
    "for",
    "so",
    "much",
    "guys",
    "folks",
    "both",
    "you",
    "and",
    "in",
    "advance",
    "sir",
    "madam",
    "support",
    "colleagues",
    "friends",
    "world",
    "agent",
    "bot",
    "system",
    "admin",
    "assistant",
    "ops",
    "user",
    "customer",
    "operator",
    "info",
    "debug",
    "error",
    "warn",
    "warning",
    "note",
    "todo",
    "q",
    "a",
    "me",
    "us",
    "it",
    "the",
    "this",
    "that",
    "best",
    "regards",
    "kind",
    "thanks",
    "hi",
    "hello",
    "hey",
    "dear",
    "sent",
    "from",
    "to",
    "on",
    "team!",
    "service",
    "helpdesk",
    "bot:",
    "server",
    "client",
    "host",
    "root",
    "sre",
    "dev",
}


def _name_span(text: str, start: int, end: int, *, chat: bool = False) -> Span | None:
    value = text[start:end].strip()
    if not value:
        return None
    start = text.index(value, start)
    words = value.lower().split()
    if any(w in NOT_NAMES for w in words) or words[0].endswith(("bot", "-bot")):
        return None
    if chat:
        if "bot" in value.lower() or value.lower() in SPEAKER_ROLES:
            return None  # 'klient:', 'operatore:' speak for a role, not a person
        return Span(start, start + len(value), "PERSON", "names.chat_speaker", 0.8)
    if not looks_like_name(value, capitalized=False):
        return None
    return Span(start, start + len(value), "PERSON", "names.shape", 0.85)


def _find(text: str) -> Iterator[Span]:
    for header in _ADDRESS_HEADER.finditer(text):
        for m in _DISPLAY_NAME.finditer(header.group("v")):
            base = header.start("v")
            span = _name_span(text, base + m.start("n"), base + m.end("n"))
            if span:
                yield span
    for number, pattern in enumerate((_GREETING, _SIGN_OFF, _WROTE, _SIGNATURE), 1):
        checkpoint_long(text, "names", f"pattern {number}")
        for m in pattern.finditer(text):
            candidate = m.group("n")
            if pattern in (_GREETING, _SIGNATURE) and not all(
                w[:1].isupper() for w in candidate.split()
            ):
                continue
            span = _name_span(text, m.start("n"), m.end("n"))
            if span:
                yield span
    for m in _CHAT_SPEAKER.finditer(text):
        span = _name_span(text, m.start("n"), m.end("n"), chat=True)
        if span:
            yield span


class NameShapeDetector:
    name = "names"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for leaf in leaves:
            text = leaf.text
            if len(text) < 6 or not any(c.isalpha() for c in text):
                out.append([])
                continue
            out.append(list(_find(text)))
        return out
