"""Red-team F3 and F4 (after issue 11 #1 and #4): keys of mappings were never scanned.

A tool output keyed by email address reached the model raw; a secret or a card written as an
argument's key slipped past `data:` rules and was stored raw in the audit; and a placeholder
as a key inside JSON text (`'{"<API_KEY_1>": 1}'`) laundered its class, then was restored to
the real secret for the tool. Keys are now scanned and masked like values (plain identifiers
excepted). Covers P11 and P12.
"""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker
from guardrails_plugin.types import MaskingSettings

from .conftest import SpyTool, stored_bytes

EMAIL = "ana.lopez@example.org"
TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
CARD = "4111 1111 1111 1111"

POLICY = """
version: 1
defaults: {effect: allow}
rules:
  - id: no-secrets-out
    match: {tool: ["http_*"], data: {contains: [SECRET]}}
    effect: deny
    reason: Agents may not send credentials anywhere.
  - id: email
    match: {tool: send_email}
    effect: allow
    masking: {restore_placeholders: true, classes: {CREDIT_CARD: block}}
"""


def test_an_output_keyed_by_sensitive_values_is_masked(make_guard, tmp_path):
    guard = make_guard(POLICY)
    outcome = guard.call("list_logins", {}, SpyTool({EMAIL: 3, TOKEN: "token", "user_id": 7}))
    assert outcome.allowed
    assert outcome.output == {"<EMAIL_1>": 3, "<API_KEY_1>": "token", "user_id": 7}
    stored = stored_bytes(tmp_path / "guard.db")
    assert EMAIL.encode() not in stored and TOKEN.encode() not in stored


def test_a_secret_as_an_argument_key_is_a_secret(make_guard, tmp_path):
    guard = make_guard(POLICY)
    tool = SpyTool()
    outcome = guard.call("http_post", {"body": {KEY_ID: 1, CARD: 2}}, tool)
    assert not outcome.allowed and tool.runs == [] and "no-secrets-out" in outcome.message
    assert KEY_ID.encode() not in stored_bytes(tmp_path / "guard.db")


def test_a_placeholder_as_a_key_inside_json_text_keeps_its_class(make_guard):
    guard = make_guard(POLICY)
    run = guard.run("r1")
    seen = guard.call("get_record", {}, SpyTool(f"{KEY_ID} and {CARD}"), run=run)
    assert seen.output == "<API_KEY_1> and <CREDIT_CARD_1>"
    tool = SpyTool()
    outcome = guard.call("http_post", {"body": '{"<API_KEY_1>": 1}'}, tool, run=run)
    assert not outcome.allowed and tool.runs == []
    outcome = guard.call(
        "send_email", {"to": "x", "body": '{"a": {"<CREDIT_CARD_1>": "x"}}'}, tool, run=run
    )
    assert not outcome.allowed and tool.runs == [] and "CREDIT_CARD" in outcome.message


def test_keys_that_mask_alike_do_not_overwrite_each_other():
    redact = MaskingSettings(strategy="redact")
    masked = Masker(ner=False).mask({EMAIL: 1, "bo.ng@example.org": 2}, settings=redact).value
    assert masked == {"<EMAIL>": 1, "<EMAIL>#2": 2}


def test_plain_identifier_keys_are_left_alone():
    payload = {"user_id": 1, "firstName": "x", "field2": "y", "x-api-key": "z"}
    assert Masker(ner=False).mask(payload).value.keys() == payload.keys()


def test_a_token_shaped_like_a_field_name_is_still_scanned():
    """Second red team M1: `sk_live_4eC39HqLyjWDarjtT1zdp7dc` passed for a field name."""
    key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    assert Masker(ner=False).mask({"json": {key: "x"}}).value == {"json": {"<API_KEY_1>": "x"}}


@pytest.mark.timeout(60)  # does not hang; quadratic probing took minutes at this size
def test_many_keys_masked_alike_cost_linear_time():
    """Second red team M2: every redacted key probed `#2`, `#3`, ... from the start."""
    redact = MaskingSettings(strategy="redact")
    payload = {f"user{i}@example.org": i for i in range(4000)}
    masked = Masker(ner=False).mask(payload, settings=redact).value
    assert len(masked) == 4000 and "<EMAIL>#4000" in masked


def test_a_literal_key_never_overwrites_a_masked_one():
    """Third red team F4: under `redact`, `{"alice@…": 10, "mallory@…": 1000000, "<EMAIL>#2": 20}`
    masked mallory's key to `<EMAIL>#2`, and the literal key of that name overwrote it: the
    reviewer and the audit saw two entries, the tool got three."""
    redact = MaskingSettings(strategy="redact")
    payload = {"alice@corp.com": 10, "mallory@evil.com": 1_000_000, "<EMAIL>#2": 20}
    masked = Masker(ner=False).mask(payload, settings=redact).value
    assert sorted(masked.values()) == [10, 20, 1_000_000]
