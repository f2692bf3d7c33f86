"""Masking keeps structure: types, key order, JSON inside strings, CSV shape."""

from __future__ import annotations

import json

from guardrails_plugin.masking import Masker


def test_nested_json_keeps_types_and_key_order(fast: Masker):
    payload = {
        "z": 1,
        "user": {"email": "ana@example.org", "age": 41, "vip": True, "tags": ["a", None]},
        "a": [{"card": "4242 4242 4242 4242"}, 3.5],
        "t": ("ok", "call +44 20 7946 0958"),
    }
    masked = fast.mask(payload).value
    assert list(masked) == ["z", "user", "a", "t"]
    assert list(masked["user"]) == ["email", "age", "vip", "tags"]
    assert masked["user"]["age"] == 41 and masked["user"]["vip"] is True
    assert masked["user"]["tags"] == ["a", None]
    assert masked["a"][1] == 3.5 and isinstance(masked["t"], tuple)
    assert masked["user"]["email"] == "<EMAIL_1>"
    assert masked["a"][0]["card"] == "<CREDIT_CARD_1>"
    assert masked["t"] == ("ok", "call <PHONE_1>")
    assert payload["user"]["email"] == "ana@example.org"  # the input is not modified


def test_json_inside_json_strings_is_masked_and_stays_valid(fast: Masker):
    inner = json.dumps({"api_key": "sk_live_51Habc123DEF456ghi789JKL", "n": 2})
    middle = json.dumps({"payload": inner, "email": "bo@example.net"})
    text = json.dumps({"type": "tool_result", "content": middle})
    out = fast.mask(text).value
    outer = json.loads(out)
    level2 = json.loads(outer["content"])
    level3 = json.loads(level2["payload"])
    assert level3 == {"api_key": "<API_KEY_1>", "n": 2}
    assert level2["email"] == "<EMAIL_1>"
    assert "sk_live" not in out and "bo@example.net" not in out
    paths = {f.path for f in fast.scan(text)}
    assert ("$json", "content", "$json", "payload", "$json", "api_key") in paths


def test_unchanged_json_strings_are_returned_byte_for_byte(fast: Masker):
    text = '{"b": 1,   "a": [1, 2.50]}'
    assert fast.mask(text).value == text
    assert fast.mask({"s": text}).value == {"s": text}


def test_csv_keeps_its_shape(fast: Masker):
    text = 'id,name,email\n1,x,ana@example.org\n2,y,"bo@example.net"\n'
    out = fast.mask(text).value
    assert out == 'id,name,email\n1,x,<EMAIL_1>\n2,y,"<EMAIL_2>"\n'


def test_lists_are_not_mangled(fast: Masker):
    phones = ["+44 20 7946 0958", "+49 30 70053440", "+44 20 7946 0958"]
    assert fast.mask({"phones": phones}).value == {
        "phones": ["<PHONE_1>", "<PHONE_2>", "<PHONE_1>"]
    }


def test_integers_and_bytes_are_scanned(fast: Masker):
    out = fast.mask({"card": 4242424242424242, "raw": b"token=sk_live_51Habc123DEF456ghi789JKL"})
    assert out.value["card"] == 0  # masked, and still a number (walk.MASKED_NUMBER)
    assert [f.data_class for f in fast.scan({"card": 4242424242424242})] == ["CREDIT_CARD"]
    assert b"sk_live" not in out.value["raw"] and isinstance(out.value["raw"], bytes)  # issue 12 #5
    assert fast.mask({"count": 1234567}).value == {"count": 1234567}


def test_masking_is_stable_on_already_masked_output(fast: Masker):
    text = "mail ana@example.org, card 4242 4242 4242 4242"
    once = fast.mask(text).value
    assert fast.mask(once).value == once
