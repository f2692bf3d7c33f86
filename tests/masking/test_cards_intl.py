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
