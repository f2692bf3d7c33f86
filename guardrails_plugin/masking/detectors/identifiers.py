"""Identifiers shaped like personal data, kept: message ids and calendar UIDs (``<…@host>``),
team mailboxes (``customer-care@``), AWS ARNs.

Each is marked ``SAFE`` above the email pattern's score, so the address inside is not masked
and no guess (a name in ``assumed-role/Admin/…``) tears it. What validates as sensitive on its
own is left out of the kept span: a card or an international phone number written as a message
id (``<4111…1111@pay.example.com>``) is still masked, and so is an email inside an ARN.
Validated secrets score higher and win anyway. Role words are a
setting: ``IdentifierDetector(role_words=frozenset())`` (registered with ``replace=True``) masks
every mailbox.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence

from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.detectors.mailbox import (
    ROLE_WORDS,
    has_machine_sign,
    is_id_local,
    is_role_mailbox,
)
from guardrails_plugin.masking.detectors.patterns import EMAIL, validated_values
from guardrails_plugin.masking.keys import normalize_key
from guardrails_plugin.masking.spans import Span

__all__ = ["IdentifierDetector"]

_SAFE = "SAFE"
_SCORE = 0.96  # above the email pattern (0.95), below the secrets catalogue (0.97)
_ARN_SCORE = 0.93  # above name guesses and context patterns; an email inside still wins

# An address token from its start (the look-behind: no token character before it), so each
# start reads at most one token. ':' and '/' end a token: 'UID:…', '…/role/name@…' in an ARN.
_TOKEN = r"[^\s<>\"'@,;:()\[\]/]"
_ADDRESS = re.compile(
    rf"(?<!{_TOKEN})(?P<local>{_TOKEN}{{1,256}})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# Where a mailbox starts inside a token: after the last character no mailbox has
# ('email=ana@…', '?to=support@…').
_NOT_MAILBOX = re.compile(r"[^A-Za-z0-9._+-]")
# Keys and headers whose addresses are message or event ids: with '<…>' around the address or
# a machine-made local part, whatever their shape.
_MESSAGE_ID_KEYS = frozenset(
    {
        "messageid",
        "internetmessageid",
        "inreplyto",
        "references",
        "resentmessageid",
        "xmessageid",
        "contentid",
        "icaluid",
        "uid",
        "threadindex",
        "originalmessageid",
    }
)
# The same as a header or an iCalendar property right before the address ('UID:…', which has
# no blank after the colon and so is no header cell).
_MESSAGE_HEADER = re.compile(
    r"(?i)(?:^|\n)[ \t]*(?:uid|message-id|in-reply-to|references|content-id|x-message-id)"
    r"[ \t]*:[ \t]*<?\Z"
)
_ID_WORDS = frozenset({"id", "ids", "uid", "uuid", "guid"})
_ARN = re.compile(r"(?<![\w:-])arn:aws[\w-]{0,20}:[\w-]{0,40}:[\w-]{0,40}:\d{0,12}:[\w+=,.@/:*-]+")


def _key_kind(key: str | None) -> str | None:
    """'message' for message-id keys, 'id' for other id keys, else None."""
    if not key:
        return None
    words = normalize_key(key)
    if not words:
        return None
    if "".join(words) in _MESSAGE_ID_KEYS:
        return "message"
    return "id" if words[-1] in _ID_WORDS else None


class IdentifierDetector:
    name = "identifiers"
    batched = False

    def __init__(self, role_words: frozenset[str] = ROLE_WORDS) -> None:
        self.role_words = frozenset(w.lower() for w in role_words)

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for leaf in leaves:
            spans: list[Span] = []
            if "@" in leaf.text:
                spans.extend(self._addresses(leaf))
            if "arn:" in leaf.text:
                spans.extend(_arns(leaf.text))
            out.append(spans)
        return out

    def _addresses(self, leaf: Leaf) -> Iterator[Span]:
        text = leaf.text
        leaf_kind = _key_kind(leaf.key)
        # Header cells do not overlap: the last one starting before an address is the only
        # one that can hold it (a bisection, not a scan of every cell per address).
        message_cells = sorted(
            (c.start, c.end) for c in leaf.cells if _key_kind(c.key) == "message"
        )
        cell_starts = [s for s, _ in message_cells]
        for m in _ADDRESS.finditer(text):
            start, end = m.span()
            local = m.group("local")
            i = bisect.bisect_right(cell_starts, start) - 1
            in_message_cell = (i >= 0 and end <= message_cells[i][1]) or bool(
                _MESSAGE_HEADER.search(text, max(0, start - 40), start)
            )
            in_message = leaf_kind == "message" or in_message_cell
            wrapped = text[start - 1 : start] == "<" and text[end : end + 1] == ">"
            # Two signs of a message id, from the context (a message-id key or header, '<…>'
            # around it) or from the local part (machine-made): one alone is not enough, or
            # '{"references": "anna@…"}' and 'UID: anna@…' would keep a person's address.
            context = in_message or wrapped or leaf_kind == "id"
            if (in_message and wrapped) or (context and is_id_local(local)):
                yield from _kept(text, start, end, "identifiers.message_id")
                continue
            # Unwrapped, '=' or '?' before the address belong to a pair or a query string.
            cut = max((c.end() for c in _NOT_MAILBOX.finditer(local)), default=0)
            start, local = start + cut, local[cut:]
            if local and (has_machine_sign(local) or is_role_mailbox(local, self.role_words)):
                yield from _kept(text, start, end, "identifiers.address")


def _kept(text: str, start: int, end: int, detector: str) -> Iterator[Span]:
    """``text[start:end]`` kept, but for the values in it that validate as sensitive (a card or
    a phone number as the local part): those are left to the detectors that name them."""
    holes: list[tuple[int, int]] = []
    if any(c.isdigit() for c in text[start:end]):
        holes = [(start + s.start, start + s.end) for s in validated_values(text[start:end])]
    yield from _around(start, end, holes, detector, _SCORE)


def _around(
    start: int, end: int, holes: list[tuple[int, int]], detector: str, score: float
) -> Iterator[Span]:
    """SAFE spans over ``start..end`` but for the holes (in order, inside it)."""
    for hole_start, hole_end in sorted(holes):
        if hole_start > start:
            yield Span(start, hole_start, _SAFE, detector, score)
        start = max(start, hole_end)
    if end > start:
        yield Span(start, end, _SAFE, detector, score)


def _arns(text: str) -> Iterator[Span]:
    """An ARN kept whole but for the email addresses inside it (a role session name)."""
    for m in _ARN.finditer(text):
        value = m.group().rstrip(".,:")
        start, end = m.start(), m.start() + len(value)
        emails = [e.span() for e in EMAIL.finditer(text, start, end)]
        yield from _around(start, end, emails, "identifiers.arn", _ARN_SCORE)
