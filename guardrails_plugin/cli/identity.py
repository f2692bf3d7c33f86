"""Who is at this terminal: the CLI votes as ``cli:<OS account>``, taken from the OS.

The account comes from the process's effective uid through the password database, never from
``USER``/``LOGNAME`` (which anyone can set: ``USER=bob guardrails-plugin approve`` must not vote
as bob). An account with no name (a container's bare uid) is ``cli:uid:<n>``.
"""

from __future__ import annotations

import os

from guardrails_plugin.errors import ConfigError

__all__ = ["cli_identity", "os_account"]


def os_account() -> str:
    """The name of the OS account this process runs as (effective uid)."""
    try:
        import pwd
    except ImportError:  # Windows has no uid database
        raise ConfigError(
            "the CLI cannot tell which OS account you are on this platform, so it cannot vote; "
            "use Slack or run the CLI on a POSIX host"
        ) from None
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def cli_identity() -> str:
    return f"cli:{os_account()}"
