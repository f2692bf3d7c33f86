"""People and groups: who an identity belongs to, and who is in a group; and the one function
that says when two identity strings name the same account (`canonical_identity`).

A person has several identities (``slack:U024BE7LH``, ``cli:alice``, ``email:alice@example.com``);
separation of duties and quorum count people, not identities, so every identity of the requester
is barred from approving and two clicks by one person count once.

Identities are compared in their canonical form, everywhere (the policy's ``people:``, a request's
principal and ``on_behalf_of``, every channel's voter, the web's token claims), so no channel can
dodge a duty by spelling:

- an e-mail-shaped value (it holds ``@``: ``oidc:Ana@Example.com``, ``email:…``) must be ASCII
  and is lowercased. A non-ASCII address is refused, never folded: ``"\\u212aate".lower()`` is
  ``kate``, so lowercasing first would let an account whose address starts with KELVIN SIGN
  become Kate. Providers treat such an address as another account; so do we, by refusing it.
- any other value (Slack ids, OS accounts, OIDC ``sub``) is compared exactly, case included (OS
  accounts ``Bob`` and ``bob`` are two people), and must already be in Unicode NFKC form, so
  ``cli:ｂob`` (fullwidth) is refused rather than mistaken for, or kept apart from, ``cli:bob``.

`same_account_skeleton` is looser (NFKC + casefold) and is used only to *bar*: a voter whose
identity merely looks like the requester's is treated as the requester (the safe direction).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "Directory",
    "UnusableIdentity",
    "canonical_identity",
    "canonical_or_none",
    "same_account_skeleton",
]

MAX_IDENTITY = 512


class UnusableIdentity(ValueError):
    """The identity string cannot be compared safely (non-ASCII e-mail, not NFKC, controls)."""


def canonical_identity(identity: str) -> str:
    """The form in which ``identity`` is stored and compared; `UnusableIdentity` when it has
    none. Check first, then fold: ASCII is checked on the raw string, before any lowercasing."""
    if not isinstance(identity, str) or not identity or len(identity) > MAX_IDENTITY:
        raise UnusableIdentity("an identity must be a non-empty string of at most 512 characters")
    if not identity.isprintable() or any(c.isspace() for c in identity):
        raise UnusableIdentity(f"identity {identity!r} holds spaces or control characters")
    kind, sep, value = identity.partition(":")
    if not sep or not kind or not value:
        raise UnusableIdentity(f"identity {identity!r} is not of the form kind:value")
    if "@" in value:
        if not identity.isascii():
            raise UnusableIdentity(
                f"identity {identity!r} is an e-mail address with non-ASCII characters; only "
                "ASCII addresses are accepted (a look-alike letter could name another person)"
            )
        return kind.lower() + ":" + value.lower()
    if unicodedata.normalize("NFKC", identity) != identity:
        raise UnusableIdentity(
            f"identity {identity!r} is not in Unicode NFKC form (a look-alike of another)"
        )
    return identity


def canonical_or_none(identity: str | None) -> str | None:
    try:
        return canonical_identity(identity) if identity else None
    except UnusableIdentity:
        return None


def same_account_skeleton(identity: str) -> str:
    """A loose key (NFKC, casefolded) under which look-alike identities collide. For barring
    only: never to decide that someone *is* an approver."""
    return unicodedata.normalize("NFKC", identity).casefold()


@dataclass(frozen=True)
class Directory:
    people: Mapping[str, frozenset[str]] = field(default_factory=dict)
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The policy loader refuses unusable identities with a located message; a Directory
        # built directly keeps only the usable ones, in canonical form.
        people = {
            person: frozenset(c for c in map(canonical_or_none, ids) if c is not None)
            for person, ids in self.people.items()
        }
        object.__setattr__(self, "people", people)
        by_identity: dict[str, str] = {}
        for person, identities in people.items():
            for identity in identities:
                by_identity[identity] = person
        object.__setattr__(self, "_by_identity", by_identity)

    def person_of(self, identity: str) -> str | None:
        """The person an identity belongs to, or None for an unknown or unusable identity."""
        by_identity: dict[str, str] = self._by_identity  # type: ignore[attr-defined]
        canonical = canonical_or_none(identity)
        return by_identity.get(canonical) if canonical is not None else None

    def identities_of(self, person: str) -> frozenset[str]:
        return self.people.get(person, frozenset())

    def members(self, group: str) -> frozenset[str]:
        return self.groups.get(group, frozenset())

    def same_person(self, a: str, b: str) -> bool:
        """True when two identities are the same account or belong to the same person."""
        ca, cb = canonical_or_none(a), canonical_or_none(b)
        if ca is not None and ca == cb:
            return True
        pa = self.person_of(a)
        return pa is not None and pa == self.person_of(b)
