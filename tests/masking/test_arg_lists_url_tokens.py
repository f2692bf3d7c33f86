"""Secrets in argument lists (a flag, then its value as the next item) and credentials sent as
the user name of a URL (Sentry DSNs, tokens before '@' in a clone URL)."""

from __future__ import annotations

import json

import pytest

from guardrails_plugin.masking import Masker


@pytest.mark.parametrize(
    "payload",
    [
        {"args": ["valkey-server", "--requirepass", "Marmelade-77", "--port", "6380"]},
        {"command": ["app", "-password", "Marmelade-77"]},
        {"spec": {"containers": [{"args": ["--api-key", "Marmelade-77", "--verbose"]}]}},
    ],
)
def test_list_item_after_secret_flag_is_masked(fast: Masker, payload: dict) -> None:
    out = json.dumps(fast.mask(payload).value)
    assert "Marmelade-77" not in out
    assert "--port" in out or "-password" in out or "--verbose" in out


def test_list_item_after_other_flag_is_kept(fast: Masker) -> None:
    payload = {"args": ["--region", "ap-south-2", "--password", "--stdin-file", "x.txt"]}
    assert fast.mask(payload).value == payload


def test_json_text_argument_list(fast: Masker) -> None:
    text = '{"command": ["redis-server", "--masterauth", "quokka1999", "--port", "6379"]}'
    out = fast.mask(text).value
    assert "quokka1999" not in out and "6379" in out


@pytest.mark.parametrize(
    "text",
    [
        '      args: ["--requirepass", "Brezel&Senf42", "--maxmemory", "1gb"]\n',
        "    args: ['--auth-token', 'Brezel&Senf42']\n",
        "    command:\n      - sidekick\n      - --db-password\n      - Brezel&Senf42\n"
        "      - --port\n",
        '    args:\n      - "--secret"\n      - "Brezel&Senf42"\n',
    ],
)
def test_yaml_argument_lists(fast: Masker, text: str) -> None:
    out = fast.mask(text).value
    assert "Brezel&Senf42" not in out
    assert "--" in out


def test_yaml_flag_without_secret_name_kept(fast: Masker) -> None:
    text = '    args: ["--log-level", "debug", "--workers", "4"]\n'
    assert fast.mask(text).value == text


@pytest.mark.parametrize(
    ("text", "token"),
    [
        (
            "DSN=https://7e1d0c2b9a8f47d6b5c4a3e2f1d0c9b8@o55021.ingest.sentry.io/88",
            "7e1d0c2b9a8f47d6b5c4a3e2f1d0c9b8",
        ),
        (
            "git clone https://Qv7_kLm2Pq0rTuVw9YxAbN@git.example.org/team/repo.git",
            "Qv7_kLm2Pq0rTuVw9YxAbN",
        ),
    ],
)
def test_token_as_url_user_is_masked(fast: Masker, text: str, token: str) -> None:
    out = fast.mask(text).value
    assert token not in out
    assert "@" in out  # the host stays


@pytest.mark.parametrize(
    "text",
    [
        "pushed to ssh://git@git.example.org/team/repo.git",
        "mirror at https://releases-bot@git.example.org/team",
    ],
)
def test_user_name_in_url_is_not_a_token(fast: Masker, text: str) -> None:
    out = fast.mask(text).value
    assert "TOKEN" not in out and "SECRET" not in out
