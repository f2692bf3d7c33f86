"""Strategies per label, placeholders per run, the vault, allow lists, and failures."""

from __future__ import annotations

import threading

import pytest

from guardrails_plugin.errors import InputTooLarge, MaskingError
from guardrails_plugin.masking import Limits, Masker, Vault
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.types import MaskingSettings

TEXT = "ana@example.org paid with 4242 4242 4242 4242; key AKIAIOSFODNN7EXAMPLE"


def test_placeholders_are_stable_within_a_run_and_independent_across_runs(fast: Masker):
    run = Vault("run-1")
    a = fast.mask({"to": "ana@example.org", "cc": "bo@example.net"}, vault=run).value
    b = fast.mask("reply to bo@example.net and ana@example.org", vault=run).value
    assert a == {"to": "<EMAIL_1>", "cc": "<EMAIL_2>"}
    assert b == "reply to <EMAIL_2> and <EMAIL_1>"
    other = fast.mask("bo@example.net", vault=Vault("run-2")).value
    assert other == "<EMAIL_1>"


def test_vault_restores_only_its_own_placeholders(fast: Masker):
    run = Vault("run-1")
    masked = fast.mask({"to": "ana@example.org", "body": "hi"}, vault=run).value
    assert run.restore(masked) == {"to": "ana@example.org", "body": "hi"}
    assert run.restore({"x": ["<EMAIL_1>", "<EMAIL_9>", ("<EMAIL_1>",)]}) == {
        "x": ["ana@example.org", "<EMAIL_9>", ("ana@example.org",)]
    }
    assert Vault("run-2").restore(masked) == masked
    assert "ana@" not in repr(run)


def test_vault_names_placeholders_it_never_issued(fast: Masker):
    run = Vault("run-1")
    fast.mask({"to": "ana@example.org"}, vault=run)
    args = {"to": "<EMAIL_1>", "cc": ["<EMAIL_2>", "<PHONE_1> <EMAIL_2>"], "n": 3}
    assert run.unknown(args) == ["<EMAIL_2>", "<PHONE_1>"]
    # Look-alikes that no masker mints (no such data class) are ordinary text.
    assert run.unknown({"body": "<TICKET_1> <Email_1> <EMAIL_x>"}) == []
    assert Vault("run-2").unknown(args) == ["<EMAIL_1>", "<EMAIL_2>", "<PHONE_1>"]


def test_partial_hash_redact_and_block(fast: Masker):
    settings = MaskingSettings(
        strategy="redact", classes={"CREDIT_CARD": "partial", "EMAIL": "hash", "SECRET": "block"}
    )
    result = fast.mask(TEXT, settings=settings)
    email_hash = result.value.split(" ")[0]
    assert email_hash.startswith("<EMAIL:") and len(email_hash) == len("<EMAIL:>") + 12
    assert "****4242" in result.value
    assert "<API_KEY>" in result.value  # block redacts as well...
    assert result.blocked == ("API_KEY",)  # ...and tells the guard to deny
    # hash is keyed and stable across maskers with the same key, different with another key
    same = Masker(ner=False, hash_key=b"k" * 32).mask(TEXT, settings=settings).value
    other = Masker(ner=False, hash_key=b"z" * 32).mask(TEXT, settings=settings).value
    assert same.split(" ")[0] == email_hash != other.split(" ")[0]


def test_allow_list(fast: Masker):
    allowing = Masker(ner=False, allow=["ana@example.org"])
    assert allowing.mask("ana@example.org bo@example.net").value == "ana@example.org <EMAIL_1>"


def test_concurrent_runs_never_share_placeholders():
    masker = Masker(ner=False)
    errors: list[str] = []

    def run(i: int) -> None:
        vault = Vault(f"run-{i}")
        for j in range(30):
            value = f"user{i}_{j}@example.org"
            out = masker.mask({"v": value}, vault=vault).value["v"]
            if out != f"<EMAIL_{j + 1}>" or vault.restore(out) != value:
                errors.append(f"{i}/{j}: {out}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


class Broken:
    name = "broken"
    batched = False

    def detect(self, leaves: list[Leaf]) -> list[list]:
        raise RuntimeError("regex engine on fire")


class WrongShape:
    name = "wrong"
    batched = False

    def detect(self, leaves: list[Leaf]) -> list[list]:
        return []


@pytest.mark.parametrize("detector", [Broken(), WrongShape()])
def test_a_failing_detector_raises_instead_of_finding_nothing(detector):
    masker = Masker(detectors=[detector])
    with pytest.raises(MaskingError, match=detector.name):
        masker.mask("anything")


def test_hostile_payloads_are_refused():
    masker = Masker(ner=False, limits=Limits(max_depth=50, max_leaves=1000, max_chars=10_000))
    deep: list = []
    for _ in range(60):
        deep = [deep]
    cyclic: dict = {}
    cyclic["self"] = cyclic
    for payload, message in [
        (deep, "deeper than 50"),
        ([str(i) for i in range(2000)], "more than 1,000 strings"),
        ("x" * 20_000, "more than 10,000 characters"),
        (cyclic, "cyclic"),
    ]:
        with pytest.raises(InputTooLarge, match=message):
            masker.mask(payload)


def test_unknown_strategy_is_an_error(fast: Masker):
    with pytest.raises(ValueError, match="unknown masking strategy 'shred'"):
        fast.mask("ana@example.org", settings=MaskingSettings(strategy="shred"))
