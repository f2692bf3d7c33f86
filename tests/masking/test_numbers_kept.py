"""Numbers that are ids stay as they are, JSON numbers stay numbers, and values someone already
masked are not masked again."""

from __future__ import annotations

import json

import pytest

from guardrails_plugin.masking import Masker


def cards(masker: Masker, value: object) -> list[str]:
    return [f.data_class for f in masker.scan(value) if f.data_class == "CREDIT_CARD"]


@pytest.mark.parametrize(
    "payload",
    [
        {"order_id": 4111111111111111},
        {"order_id": "4111111111111111"},
        {"variant_id": 40000000000000002},
        {"id": "5500000000000004"},
        {"message": {"id": 1234567890123452}},
        {"snowflake": "412345678901234566"},
        {"items": [{"product_id": 4012888888881881, "qty": 2}]},
        "order_id=4111111111111111 status=paid",
        "2025-06-11T08:15:00Z INFO order_id=4111111111111111 status=paid",
        "order_id,total\n4111111111111111,12.50\n",
        "Order-Id: 4111111111111111",
        {"order_no": "4111111111111111", "txnRef": 5500000000000004},
        "ids: 40000000000000002 40128888888818810",  # 17+ digits: not a card
    ],
)
def test_luhn_valid_ids_are_not_cards(fast: Masker, payload: object) -> None:
    assert not cards(fast, payload)
    assert fast.mask(payload).value == payload


def test_json_numbers_stay_numbers(fast: Masker) -> None:
    payload = {"order_id": 4111111111111111, "total": 129900, "ts": 1714557600123}
    assert fast.mask(payload).value == payload
    text = json.dumps(payload)
    assert json.loads(fast.mask(text).value) == payload


def test_a_sensitive_json_number_is_masked_to_a_number(fast: Masker) -> None:
    payload = {"card_number": 4111111111111111, "phone": 4915123456789}
    masked = fast.mask(payload).value
    assert masked == {"card_number": 0, "phone": 0}
    assert {f.data_class for f in fast.scan(payload)} == {"CREDIT_CARD", "PHONE"}
    inner = json.loads(fast.mask(json.dumps(payload)).value)
    assert inner == {"card_number": 0, "phone": 0}


@pytest.mark.parametrize(
    "text",
    [
        "SSN on file: ***-**-1931",
        "card ****4242 charged",
        "ssn XXX-XX-1234",
        "paid with •••• 4242",
        "card number **** **** **** 4242",
        "phone +44 **** ***921",
        "IBAN DE** **** **** **** **30 00",
    ],
)
def test_already_masked_values_are_not_findings(fast: Masker, text: str) -> None:
    assert fast.scan(text) == [], fast.scan(text)


@pytest.mark.parametrize(
    "payload",
    [
        {"ssn": "***-**-1931"},
        {"card_number": "****4242"},
        {"national_id": "XXX-XX-1234"},
        {"card": "•••• 4242"},
        {"phone": "+1 ***-***-4821"},
    ],
)
def test_already_masked_values_under_keys_are_kept(fast: Masker, payload: object) -> None:
    assert fast.mask(payload).value == payload
    assert fast.scan(payload) == []


def test_real_cards_are_still_cards(fast: Masker) -> None:
    assert cards(fast, {"card": "4111 1111 1111 1111"})
    assert cards(fast, "paid with 5500 0000 0000 0004 yesterday")
    assert cards(fast, {"payment": {"pan": 4012888888881881}})
