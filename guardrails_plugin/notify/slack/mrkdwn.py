"""Untrusted text into Slack mrkdwn: escaped, and cut to fit Block Kit's limits.

Slack parses ``<...>`` in message text as mentions and links (``<!channel>``,
``<https://evil|good>``) and refuses a message whose text objects are too long (3,000 characters
for a section). Escaping lengthens text (``<`` is ``&lt;``), so a limit must be applied *after*
escaping, and a cut must never split an entity: ``&am`` would render as garbage or, worse, let
the next character form a different entity. `mrkdwn` does both, at whole escaped characters.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ELLIPSIS", "escape", "mrkdwn"]

ELLIPSIS = "…"

# Backticks become U+02CB (a look-alike that is not one) so untrusted text can never close a
# code block it is shown in, and still reads differently from a quote: in SQL `level` and
# 'level' are different things, and the reviewer must see which.
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "\u02cb"}
_TABLE = str.maketrans(_ESCAPES)


def escape(text: Any) -> str:
    """Slack mrkdwn control characters, plus backticks (as U+02CB) so code blocks cannot be
    closed."""
    return str(text).translate(_TABLE)


def mrkdwn(raw: Any, limit: int, marker: str = ELLIPSIS) -> str:
    """``raw`` escaped, at most ``limit`` characters long. When it does not fit, it is cut at a
    whole escaped character and ``marker`` (trusted, already mrkdwn) is appended."""
    text = str(raw)
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    budget = max(0, limit - len(marker))
    out: list[str] = []
    used = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        if used + len(piece) > budget:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + marker[: limit - used]
