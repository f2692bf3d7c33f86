"""People and groups: who an identity belongs to, and who is in a group.

A person has several identities (``slack:U024BE7LH``, ``cli:alice``, ``email:alice@example.com``);
separation of duties and quorum count people, not identities, so every identity of the requester
is barred from approving and two clicks by one person count once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Directory"]


@dataclass(frozen=True)
class Directory:
    people: Mapping[str, frozenset[str]] = field(default_factory=dict)
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_identity: dict[str, str] = {}
        for person, identities in self.people.items():
            for identity in identities:
                by_identity[identity] = person
        object.__setattr__(self, "_by_identity", by_identity)

    def person_of(self, identity: str) -> str | None:
        """The person an identity belongs to, or None for an unknown identity."""
        by_identity: dict[str, str] = self._by_identity  # type: ignore[attr-defined]
        return by_identity.get(identity)

    def identities_of(self, person: str) -> frozenset[str]:
        return self.people.get(person, frozenset())

    def members(self, group: str) -> frozenset[str]:
        return self.groups.get(group, frozenset())

    def same_person(self, a: str, b: str) -> bool:
        """True when two identities are equal or belong to the same person."""
        if a == b:
            return True
        pa = self.person_of(a)
        return pa is not None and pa == self.person_of(b)
