"""How the user can type ``guardrails-plugin`` again, for the hints commands print.

`make demo` runs ``.venv/bin/guardrails-plugin`` without putting ``.venv/bin`` on the PATH, so a
hint that says ``guardrails-plugin audit tail`` fails with "command not found" in that very shell.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["command", "how_to_reach"]

NAME = "guardrails-plugin"


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (``.venv/bin/...``)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _bin_dir() -> Path:
    # Not resolved: a venv's python is a symlink to the base interpreter, outside the venv.
    return Path(os.path.abspath(sys.executable)).parent


def command() -> str:
    """What to type to run this installation's command from the current shell."""
    script = _bin_dir() / NAME
    found = shutil.which(NAME)
    if found is not None and (not script.exists() or Path(found).samefile(script)):
        return NAME
    if script.exists():
        return _shown(script)
    return f"{_shown(Path(os.path.abspath(sys.executable)))} -m guardrails_plugin"


def how_to_reach() -> str | None:
    """A sentence saying how to get ``guardrails-plugin`` on the PATH, or None if it is."""
    if command() == NAME:
        return None
    activate = _bin_dir() / "activate"
    if not activate.exists():
        return None
    return (
        f"`{NAME}` is not on your PATH in this shell: run `. {_shown(activate)}` once to put it "
        f"there, or type the full path as above."
    )
