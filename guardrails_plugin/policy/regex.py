"""Policy-author regexes, compiled with RE2 so matching is linear in the input.

A ``regex:`` condition runs on text the agent wrote. Python's backtracking engine lets one
pattern like ``(a+)+$`` and a 40-character argument take hours, holding the GIL: every guarded
call of the process stalls. RE2 (``google-re2``) guarantees time linear in the text, so there is
no pattern/argument pair that hangs the guard. The price is syntax: RE2 has no backreferences,
lookaround, atomic groups or possessive quantifiers (exactly the features that need
backtracking), and such a pattern is refused when the policy loads, saying what to change.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import re2

__all__ = ["AuthorRegex", "compile_author_regex"]

# RE2's default memory budget (8 MiB) bounds the compiled program; larger patterns
# ("(a{100}){100}") are refused as too large rather than compiled slowly.
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print the failing pattern to stderr through absl

# RE2's error texts for the unsupported features, and what to tell the policy's author.
_UNSUPPORTED = (
    ("invalid perl operator: (?P", "a backreference ((?P=name))"),
    ("invalid perl operator: backreference", "a backreference (\\1 ... \\9)"),
    ("invalid perl operator: (?=", "lookaround ((?=...))"),
    ("invalid perl operator: (?!", "lookaround ((?!...))"),
    ("invalid perl operator: (?<=", "lookaround ((?<=...))"),
    ("invalid perl operator: (?<!", "lookaround ((?<!...))"),
    ("invalid perl operator: (?>", "an atomic group ((?>...))"),
    ("bad repetition operator: ++", "a possessive quantifier (++)"),
    ("bad repetition operator: *+", "a possessive quantifier (*+)"),
    ("bad repetition operator: ?+", "a possessive quantifier (?+)"),
    ("invalid escape sequence: \\Z", "\\Z (write \\z or $)"),
    ("invalid perl operator: (?x", "the verbose flag (?x)"),
)

_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[1-9]")


class AuthorRegex(Protocol):
    def search(self, text: str) -> Any: ...


def compile_author_regex(pattern: str) -> AuthorRegex:
    """The compiled pattern; raises ValueError with a sentence for the policy's author."""
    try:
        compiled: AuthorRegex = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise ValueError(_explain(pattern, exc)) from None
    return compiled


def _explain(pattern: str, exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    if _BACKREFERENCE.search(text):
        text = "invalid perl operator: backreference"
    for needle, feature in _UNSUPPORTED:
        if needle in text:
            return (
                f"regex {pattern!r} uses {feature}, which RE2 does not support: policy regexes "
                "run on RE2 so that matching takes time linear in the argument, and these "
                "features need backtracking. Rewrite it without them (split the check into "
                "several conditions with any/all/not if needed)"
            )
    if "pattern too large" in text:
        return (
            f"regex {pattern!r} is too large for RE2's memory budget; use smaller repetition counts"
        )
    return f"invalid regex {pattern!r}: {text} (policy regexes use RE2 syntax)"
