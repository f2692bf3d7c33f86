"""Invisible characters, look-alike letters and encodings do not hide a value; what gets masked
is the original text at the original offsets."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from guardrails_plugin.masking import Masker

AWS = "AKIAIOSFODNN7EXAMPLE"


@pytest.mark.parametrize(
    "text",
    [
        "key AKIA\u200bIOSFODNN7EXAMPLE here",  # zero-width space
        "key AKIA\u2060IOSFODNN7\ufeffEXAMPLE here",  # word joiner, BOM
        "key ＡＫＩＡＩＯＳＦＯＤＮＮ７ＥＸＡＭＰＬＥ here",  # fullwidth
        "key АKIАIOSFODNN7EXАMPLE here",  # Cyrillic А
        "key AKIA\u00adIOSFODNN7EXAMPLE here",  # soft hyphen
    ],
)
def test_folded_evasions_are_masked_in_the_original(fast: Masker, text: str):
    out = fast.mask(text).value
    assert out == "key <API_KEY_1> here", repr(out)


def test_zero_width_inside_an_email_and_a_card(fast: Masker):
    out = fast.mask("mail a\u200bna@exa\u200cmple.org card 4242\u200b4242 4242 4242").value
    assert out == "mail <EMAIL_1> card <CREDIT_CARD_1>"


def test_offsets_point_into_the_original_text(fast: Masker):
    text = "x \u200b\u200bana@example.org y"
    [finding] = fast.scan(text)
    assert text[finding.start : finding.end] == "ana@example.org"


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
        lambda s: s.encode().hex(),
        lambda s: urllib.parse.quote(s, safe=""),
    ],
    ids=["base64", "base64url", "hex", "percent"],
)
def test_encoded_secrets_and_pii_are_found(fast: Masker, encode):
    for secret in (f"aws_key={AWS}", "contact me: ana.lopez@example.org"):
        blob = encode(secret)
        out = fast.mask(f"payload {blob} end").value
        assert blob not in out, (secret, out)


def test_random_base64_and_hex_are_left_alone(fast: Masker):
    text = "digest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 ok"
    assert fast.scan(text) == []
    noise = base64.b64encode(bytes(range(48))).decode()
    assert fast.scan(f"blob {noise}") == []
