"""Secrets on command lines, in env and ini files, and after a telling word in prose.

A password has no shape, so these are found only next to a flag, key or word that says what they
are: ``--password x``, ``-pX`` on a MySQL command line, ``KEY = value``.
"""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker


def _masked(masker: Masker, text: str) -> str:
    return masker.mask(text).value


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("mysql -h db1 -u app -pQuince42 shop", "Quince42"),
        ("mysqldump --user=app -p'Quince 42' shop > dump.sql", "Quince 42"),
        ("redis-server --requirepass lanternfish --port 6380", "lanternfish"),
        ("redis-cli -a lanternfish ping", "lanternfish"),
        ("deploy --password=lanternfish --region eu-west-1", "lanternfish"),
        ("deploy --password lanternfish --region eu-west-1", "lanternfish"),
        ("gh auth --token opal55 --host github.com", "opal55"),
        ("tool --api-key=opal55 --verbose", "opal55"),
        ("tool --client-secret 'two words' run", "two words"),
        ("docker run -e MYSQL_ROOT_PASSWORD=opal55 mysql:8", "opal55"),
        ("PGPASSWORD=opal55 psql -h db -U app", "opal55"),
        ("curl -u deploy:opal55 https://ci.example.com/api", "opal55"),
        ("sshpass -p opal55 ssh deploy@host", "opal55"),
        ("DB_PASSWORD = opal55\nDEBUG = true\n", "opal55"),
        ("[client]\npassword = opal55\nhost = db1\n", "opal55"),
        ("export API_TOKEN='opal55'\n", "opal55"),
        ("set DB_PASS=opal55", "opal55"),
        ("the staging password: opal55, change it later", "opal55"),
        ("Set-Cookie: sessionid=k2Jd8sQwP0aZ7xLm; Path=/; HttpOnly", "k2Jd8sQwP0aZ7xLm"),
        ("Cookie: csrftoken=xY7pQ2; theme=dark", "xY7pQ2"),
        ("Authorization: Basic ZGVwbG95Om9wYWw1NQ==", "ZGVwbG95Om9wYWw1NQ=="),
        ("amqp://guest:opal55@rabbit:5672/", "opal55"),
    ],
)
def test_secret_is_masked(fast: Masker, text: str, secret: str):
    out = _masked(fast, text)
    assert secret not in out, out


@pytest.mark.parametrize(
    "text",
    [
        "mkdir -pv /var/lib/app",
        "ls -la --color=auto --sort size",
        "deploy --region eu-west-1 --replicas 3 --name payments",
        "pip install --upgrade requests==2.32.3",
        "Password: required",
        "DEBUG = true\nLOG_LEVEL = info\nWORKERS = 4\n",
        "set the theme=dark",
        "Cookie: theme=dark; lang=en",
        "git commit -m 'fix' --author 'CI Bot <ci@example.com>'",
    ],
)
def test_no_secret_here(fast: Masker, text: str):
    found = [f for f in fast.scan(text) if f.data_class in ("SECRET", "PASSWORD", "TOKEN")]
    assert not found, [(text[f.start : f.end], f.data_class) for f in found]


def test_the_flag_name_is_kept(fast: Masker):
    assert _masked(fast, "run --password=lanternfish") == "run --password=<PASSWORD_1>"
    out = _masked(fast, "redis-server --requirepass lanternfish")
    assert out.startswith("redis-server --requirepass <")
