"""Passwords on command lines whose flag does not say 'password': ``mysql -pX``,
``redis-cli -a X``, ``sshpass -p X``, ``curl -u user:X``, and a password named in prose
(``the staging password: X``).

A password has no shape, so each is taken only where the command or the word says what it is:
``-p`` is a password to MySQL and a parent-directory switch to ``mkdir``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from guardrails_plugin.masking.spans import Span

__all__ = ["command_passwords", "named_passwords"]

_COMMAND = re.compile(
    r"(?<![\w/.-])(?P<cmd>mysql(?:dump|admin|import|sh|check)?|mariadb(?:-dump|-admin)?|"
    r"redis-cli|sshpass|curl)(?![\w-])"
)
_VALUE = r"(?:'(?P<sq>[^'\n]*)'|\"(?P<dq>[^\"\n]*)\"|(?P<bare>[^\s'\";|&]+))"
# The flag that carries the password, per command: attached to '-p' for MySQL (a blank after
# '-p' means 'prompt me', and the next word is a database), after a blank for the others.
_FLAGS = {
    "mysql": re.compile(r"(?<![\w-])-p" + _VALUE),
    "redis-cli": re.compile(r"(?<![\w-])-a[ \t]++" + _VALUE),
    "sshpass": re.compile(r"(?<![\w-])-p[ \t]++" + _VALUE),
    "curl": re.compile(
        r"(?<![\w-])(?:-u|--user)(?:[ \t]++|=)[\"']?[^\s:\"']{1,128}:(?P<bare>[^\s\"']+)"
    ),
}


def _flag_pattern(command: str) -> re.Pattern[str]:
    if command.startswith(("mysql", "mariadb")):
        return _FLAGS["mysql"]
    return _FLAGS[command]


def command_passwords(text: str) -> Iterator[Span]:
    """The password flags of known commands, read to the end of the command's line. Each line
    is read once, however many commands it names."""
    done_until = -1
    for m in _COMMAND.finditer(text):
        if m.start() < done_until:
            continue
        line_end = text.find("\n", m.end())
        line_end = len(text) if line_end < 0 else line_end
        for flag in _flag_pattern(m.group("cmd")).finditer(text, m.end(), line_end):
            found = flag.groupdict()
            group = next(g for g in ("sq", "dq", "bare") if found.get(g) is not None)
            if flag.end(group) > flag.start(group):
                yield Span(flag.start(group), flag.end(group), "PASSWORD", "secret.cli", 0.95)
        done_until = line_end


_NAMED = re.compile(
    r"(?i)(?<![^\W\d_])(?:password|passwd|passphrase|pwd|pin|passcode|kennwort|passwort|"
    r"wachtwoord|senha|contrase(?:ñ|n)a|mot de passe)"
    r"[\"']?[ \t]{0,3}(?::|=|\bis\b)[ \t]{0,3}[\"'`]?(?P<v>[^\s\"'`]{4,128})"
)
_PLACEHOLDER = re.compile(r"^(?:\*+|x+|\.+|<[^<>]*>|\$\{[^}]*\}|\{\{.*\}\}|\$[A-Z_]+)$")


def named_passwords(text: str) -> Iterator[Span]:
    """'the password: tulip88', 'Passwort ist …': a word after a password word and a colon,
    '=' or 'is'. A plain dictionary word ('password: required', 'password is expired') is not
    taken: the value must hold a digit or a symbol."""
    for m in _NAMED.finditer(text):
        value = m.group("v").rstrip(".,;:!?)")
        if len(value) < 4 or _PLACEHOLDER.match(value) or "://" in value:
            continue
        if not any(c.isdigit() or not c.isalnum() for c in value):
            continue
        start = m.start("v")
        yield Span(start, start + len(value), "PASSWORD", "secret.named", 0.9)
