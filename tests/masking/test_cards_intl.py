"""Cards of the Maestro and domestic debit ranges, and order numbers of the same shape kept."""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker

# Luhn-valid numbers made up for these tests.
MAESTRO = "5020 4411 9036 2211"
MAESTRO_RUN = MAESTRO.replace(" ", "")


@pytest.mark.parametrize(
    "text",
    [
        f"please charge my card {MAESTRO}",
        f"betalkaart {MAESTRO.replace(' ', '-')}",
        f"kortnummer {MAESTRO_RUN}",
        f"Karte Nr. {MAESTRO_RUN}",
    ],
)
def test_debit_cards_masked(fast: Masker, text: str) -> None:
    out = fast.mask(text).value
    assert MAESTRO not in out and MAESTRO_RUN not in out
    assert MAESTRO.replace(" ", "-") not in out


@pytest.mark.parametrize(
    "text",
    [
        f"sobre o pedido {MAESTRO_RUN}, obrigado",
        f"Bestellung Nr. {MAESTRO_RUN} ist unterwegs",
        f"Objednávka č. {MAESTRO_RUN} odeslána",
        f"zamówienie {MAESTRO_RUN} wysłane",
        f"reference {MAESTRO_RUN}",  # an ungrouped run on the wide debit ranges needs a card word
    ],
)
def test_order_numbers_of_card_shape_kept(fast: Masker, text: str) -> None:
    assert MAESTRO_RUN in fast.mask(text).value


@pytest.mark.parametrize(
    "text",
    [
        "bitte auf de44500105175407324931 überweisen",
        "iban: nl91 abna 0417 1643 00",
    ],
)
def test_lower_case_iban_masked(fast: Masker, text: str) -> None:
    out = fast.mask(text).value
    assert "IBAN" in out and "0417" not in out and "5407" not in out


def test_hex_digest_shaped_like_an_iban_kept(fast: Masker) -> None:
    text = "span be4450010517540 trace de4450010517540732493100ab2f merged"
    assert "IBAN" not in fast.mask(text).value


@pytest.mark.parametrize(
    "payload",
    [
        # a card object: the key is only 'number', its parent and siblings say card
        {"payment_method": {"card": {"brand": "maestro", "exp_month": 4, "number": MAESTRO_RUN}}},
        {"card": {"number": MAESTRO_RUN}},
        {"source": {"exp_year": 2029, "cvc_check": "pass", "number": MAESTRO_RUN}},
        {"debit_card_no": MAESTRO_RUN},
        {"kartennummer": MAESTRO_RUN},
    ],
)
def test_debit_card_under_a_card_structure_masked(fast: Masker, payload: dict) -> None:
    """Issue 13 held-out: an ungrouped Maestro number under `number` in a Stripe-style card
    object leaked; the structure (a card key above, expiry keys beside) says card."""
    assert MAESTRO_RUN not in str(fast.mask(payload).value)


@pytest.mark.parametrize(
    "payload",
    [
        {"order": {"number": MAESTRO_RUN, "status": "shipped"}},
        {"invoice": {"number": MAESTRO_RUN, "exp_date": "2029-01-01"}},
        {"cards_sold": {"count": MAESTRO_RUN}},  # a card word above, but not a number key
    ],
)
def test_record_numbers_of_debit_shape_kept(fast: Masker, payload: dict) -> None:
    assert MAESTRO_RUN in str(fast.mask(payload).value)
