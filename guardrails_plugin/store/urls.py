"""Where a store lives, as the user names it: a SQLite path or ``sqlite:///…``, or a
``postgresql://…`` URL. No database driver is imported here.

`mask_url` is the only way a store's location reaches a message: a PostgreSQL URL may carry a
password (``postgresql://agent:s3cret@db/guardrails`` or ``?password=…``), and logs, errors and
``--help`` must never show it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "DB_ENV",
    "DEFAULT_DB",
    "is_postgres",
    "mask_url",
    "resolve_target",
    "sqlite_path",
    "without_password",
]

DB_ENV = "GUARDRAILS_DB"
DEFAULT_DB = "guardrails.db"

_PG_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite://"
_MASK = "***"
# Keyword/value conninfo ("host=db password=s3cret") and URL query parameters alike.
_PASSWORD_WORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)


def resolve_target(target: str | os.PathLike[str] | None = None) -> str | Path:
    """Explicit argument > ``GUARDRAILS_DB`` > ``./guardrails.db``: a PostgreSQL URL as text,
    anything else as the SQLite file's path."""
    chosen = target if target is not None else os.environ.get(DB_ENV) or DEFAULT_DB
    text = os.fspath(chosen)
    if is_postgres(text):
        return text
    return sqlite_path(text)


def is_postgres(target: object) -> bool:
    return isinstance(target, str) and target.lower().startswith(_PG_SCHEMES)


def sqlite_path(text: str) -> Path:
    """``sqlite:///relative.db`` and ``sqlite:////abs/path.db`` (SQLAlchemy's spelling), or a
    plain path."""
    if text.lower().startswith(_SQLITE_SCHEME):
        rest = text[len(_SQLITE_SCHEME) :]
        if not rest.startswith("/"):
            raise ValueError(f"{text!r}: write sqlite:///relative.db or sqlite:////abs/path.db")
        return Path(rest[1:])
    return Path(text)


def mask_url(target: object) -> str:
    """The location with any password replaced by ``***``; paths come back unchanged."""
    text = os.fspath(target) if isinstance(target, str | os.PathLike) else str(target)
    if not is_postgres(text):
        return _PASSWORD_WORD.sub(rf"\g<1>{_MASK}", text)
    try:
        parts = urlsplit(text)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":" + _MASK
            netloc = f"{userinfo}@{host}"
        query = parts.query
        if query:
            pairs = [
                (k, _MASK if k.lower() == "password" else v)
                for k, v in parse_qsl(query, keep_blank_values=True)
            ]
            query = urlencode(pairs, safe="/:*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        # A URL too broken to parse still must not leak: keep only what precedes the userinfo.
        return text.split("://", 1)[0] + "://" + _MASK


def without_password(url: str) -> str:
    """A PostgreSQL URL with its password left out (not masked): what a message may tell someone
    to paste, who supplies the password from PGPASSWORD or ~/.pgpass as libpq does."""
    masked = mask_url(url)
    parts = urlsplit(masked)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(pairs, safe="/:"), ""))
