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
