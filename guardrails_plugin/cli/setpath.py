"""``--set PATH=VALUE`` for ``edit``: change one value inside a request's JSON arguments.

PATH is keys joined by dots, with list items by number (``recipients.0``, ``filter.limit``);
VALUE is read as JSON (``10``, ``true``, ``["a"]``, ``null``) and is a plain string when it is
not JSON (``to=bob@example.org``). Anything these cannot express goes through ``--args``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

__all__ = ["apply_sets", "parse_set"]


def parse_set(item: str) -> tuple[list[str], Any]:
    """``"a.b=1"`` -> (["a", "b"], 1); raises ValueError with a sentence for the user."""
    path, sep, raw = item.partition("=")
    keys = path.strip().split(".") if path.strip() else []
    if not sep or not keys or any(not k for k in keys):
        raise ValueError(
            f"expected PATH=VALUE such as limit=10 or to.0=ops@example.org, got {item!r}"
        )
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw  # a bare word or an address: the value is the text itself
    return keys, value


def apply_sets(args: dict[str, Any], sets: Iterable[tuple[list[str], Any]]) -> dict[str, Any]:
    """A copy of ``args`` with each (path, value) set. Every container on the way must exist
    (a typo must not grow a new branch the reviewer never meant); the last key of a mapping may
    be new, a list index must exist."""
    out = copy.deepcopy(args)
    for keys, value in sets:
        here: Any = out
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = ".".join(keys[: depth + 1])
            if isinstance(here, dict):
                if last:
                    here[key] = value
                elif key in here:
                    here = here[key]
                else:
                    known = ", ".join(sorted(map(str, here))) or "none"
                    raise ValueError(f"--set {'.'.join(keys)}: no key {where!r} (keys: {known})")
            elif isinstance(here, list):
                if not key.isdigit() or int(key) >= len(here):
                    raise ValueError(
                        f"--set {'.'.join(keys)}: {where!r} is not an item of a list of "
                        f"{len(here)} (items are numbered from 0)"
                    )
                if last:
                    here[int(key)] = value
                else:
                    here = here[int(key)]
            else:
                raise ValueError(
                    f"--set {'.'.join(keys)}: {'.'.join(keys[:depth]) or 'the arguments'} is "
                    f"{json.dumps(here)}, not an object or a list"
                )
    return out
