"""The `hash` strategy's key: where it comes from, and the keys it refuses (issue 14 #14)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from guardrails_plugin.cli import cli
from guardrails_plugin.errors import ConfigError
from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.types import MaskingSettings

HASHED = """
version: 1
defaults: {effect: allow, masking: {strategy: hash}}
"""
EMAIL = "ana.lopez@example.org"
GENERATE = "python -c 'import secrets; print(secrets.token_hex(32))'"


def hashed_output(db: Path, masker: Masker | None = None) -> str:
    """What the model reads back from a tool that returns an email, through a fresh Guard (a
    new run of the application) on the store at ``db``."""
    store = SQLiteStore(db)
    try:
        guard = Guard(
            Policy.from_string(HASHED),
            store,
            principal="agent:bot",
            masker=masker or Masker(ner=False),
        )
        outcome = guard.call("lookup", {}, lambda args: {"email": EMAIL})
        assert outcome.allowed
        output: Any = outcome.output
        return str(output["email"])
    finally:
        store.close()


@pytest.fixture(autouse=True)
def no_keys_from_the_environment(monkeypatch):
    monkeypatch.delenv("GUARDRAILS_MASK_KEY", raising=False)
    monkeypatch.delenv("GUARDRAILS_AUDIT_KEY", raising=False)


def test_a_guard_hashes_the_same_value_the_same_way_across_runs_of_one_store(tmp_path):
    """Issue 14 #14: with no mask key configured, a Guard keys `hash` from its store's key, so
    the same value hashes the same in every run that uses the store (as the docs say)."""
    first = hashed_output(tmp_path / "a.db")
    again = hashed_output(tmp_path / "a.db")
    assert re.fullmatch(r"<EMAIL:[0-9a-f]{12}>", first)
    assert first == again
    assert hashed_output(tmp_path / "b.db") != first  # another store, another key


def test_a_configured_mask_key_wins_and_is_shared_across_stores(tmp_path, monkeypatch):
    """Issue 14 #14: GUARDRAILS_MASK_KEY (64 hex characters) makes `hash` values the same for
    every store and for a bare Masker."""
    monkeypatch.setenv("GUARDRAILS_MASK_KEY", "ab" * 32)
    one, two = hashed_output(tmp_path / "a.db"), hashed_output(tmp_path / "b.db")
    assert one == two
    bare = Masker(ner=False).mask({"email": EMAIL}, settings=MaskingSettings(strategy="hash"))
    assert bare.value == {"email": one}


def test_an_explicit_hash_key_beats_the_environment_and_the_store(tmp_path, monkeypatch):
    """Issue 14 #14: Masker(hash_key=...) is used as given, inside a Guard too."""
    monkeypatch.setenv("GUARDRAILS_MASK_KEY", "ab" * 32)
    explicit = hashed_output(tmp_path / "a.db", Masker(ner=False, hash_key=b"k" * 32))
    bare = Masker(ner=False, hash_key=b"k" * 32)
    assert explicit == bare.mask(EMAIL, settings=MaskingSettings(strategy="hash")).value


def test_a_bare_masker_without_a_key_hashes_per_process(monkeypatch):
    """Issue 14 #14: outside a Guard, with no key, `hash` is stable only within the masker's
    process (documented as such); two maskers differ."""
    settings = MaskingSettings(strategy="hash")
    one, two = Masker(ner=False), Masker(ner=False)
    assert one.mask(EMAIL, settings=settings).value == one.mask(EMAIL, settings=settings).value
    assert one.mask(EMAIL, settings=settings).value != two.mask(EMAIL, settings=settings).value


@pytest.mark.parametrize("value", ["secret7", "ab" * 16, "c2hvcnQ="])
def test_a_short_mask_key_in_the_environment_is_refused(monkeypatch, value):
    """Issue 14 #14: a mask key under 32 bytes is refused, saying what is expected and how to
    make one (it used to accept a 7-byte key)."""
    monkeypatch.setenv("GUARDRAILS_MASK_KEY", value)
    with pytest.raises(ConfigError) as refused:
        Masker(ner=False)
    message = str(refused.value)
    assert "GUARDRAILS_MASK_KEY" in message
    assert "32 bytes" in message and "64 hex characters" in message
    assert GENERATE in message


def test_a_mask_key_that_is_not_hex_or_base64_is_refused(monkeypatch):
    """Issue 14 #14: a passphrase is not a key."""
    monkeypatch.setenv("GUARDRAILS_MASK_KEY", "correct horse battery staple, but longer than 32")
    with pytest.raises(ConfigError, match="hex or base64"):
        Masker(ner=False)


def test_a_short_explicit_hash_key_is_refused():
    """Issue 14 #14: Masker(hash_key=...) needs 32 bytes too."""
    with pytest.raises(ConfigError, match=re.escape(GENERATE)):
        Masker(ner=False, hash_key=b"7 bytes")


def test_a_short_audit_key_says_how_to_make_one(tmp_path, monkeypatch):
    """Issue 14 #14: the audit key's refusal says what is expected and how to generate one."""
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", "ab" * 8)
    with pytest.raises(ConfigError) as refused:
        SQLiteStore(tmp_path / "g.db")
    message = str(refused.value)
    assert "GUARDRAILS_AUDIT_KEY" in message and "8 bytes" in message
    assert "64 hex characters" in message and GENERATE in message


def test_the_mask_command_says_hashes_are_per_process_without_a_key():
    """Issue 14 #14: `mask --strategy hash` without a key says its hashes hold for this run
    only, and how to make them stable."""
    result = CliRunner().invoke(cli, ["mask", "--no-ner", "--strategy", "hash"], input=EMAIL)
    assert result.exit_code == 0
    assert re.fullmatch(r"<EMAIL:[0-9a-f]{12}>\n", result.stdout)
    assert "GUARDRAILS_MASK_KEY" in result.stderr and "this run only" in result.stderr


def test_the_mask_command_refuses_a_short_key_in_one_sentence(monkeypatch):
    """Issue 14 #14: a short GUARDRAILS_MASK_KEY is a clear error, not a traceback."""
    monkeypatch.setenv("GUARDRAILS_MASK_KEY", "ab" * 7)
    result = CliRunner().invoke(cli, ["mask", "--no-ner", "--strategy", "hash"], input=EMAIL)
    assert result.exit_code == 1
    assert "GUARDRAILS_MASK_KEY is 7 bytes" in result.output and GENERATE in result.output
    assert "Traceback" not in result.output
