"""Street addresses in the orders of many countries, after cue phrases and under address keys
in many languages; places alone and product codes must survive."""

from __future__ import annotations

import pytest

from tests.masking._helpers import destroyed, leaks


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Lever aan Prinsengracht 263-1, 1016 GV Amsterdam graag.", "Prinsengracht 263-1"),
        ("Adres: Kerkstraat 7, 3581 RB Utrecht", "Kerkstraat 7"),
        ("Leveringsadresse: Nørregade 12, 3. sal, 1165 København K", "Nørregade 12"),
        ("skickas till Drottninggatan 53, 111 21 Stockholm", "Drottninggatan 53"),
        ("Adresse: Thorvald Meyers gate 49B, 0555 Oslo", "Thorvald Meyers gate 49B"),
        ("Toimitusosoite: Mannerheimintie 12 B 7, 00100 Helsinki", "Mannerheimintie 12 B 7"),
        ("Doručovací adresa: Cejl 42, 602 00 Brno", "Cejl 42"),
        ("adres dostawy: ul. Marszałkowska 84/92 m. 12, 00-514 Warszawa", "Marszałkowska 84/92"),
        ("Διεύθυνση: Ερμού 25, 105 63 Αθήνα", "Ερμού 25"),
        ("Address: 14 Long Street, Cape Town, 8001", "14 Long Street"),
        ("Dirección: Av. Corrientes 1234, piso 3, C1043 CABA", "Corrientes 1234"),
        ("Endereço: Rua Augusta 1508, apto 42, São Paulo, 01304-001", "Rua Augusta 1508"),
        ("Adresa: Strada Lipscani 18, București 030031", "Strada Lipscani 18"),
        ("Adres: Bağdat Caddesi No: 145 D: 6, Kadıköy 34728 İstanbul", "Bağdat Caddesi No: 145"),
        ("Kjøpmannsgata 5, 7013 TRONDHEIM", "7013 TRONDHEIM"),
        # Street words with accents, read folded ('väylä' as 'vayla', '-ská' as '-ska').
        ("Toimitusosoite: Itäväylä 9, 00930 Helsinki", "Itäväylä 9"),
        ("Adresa: Lidická 7, 60200 Brno", "Lidická 7"),
    ],
)
def test_street_addresses(fast, text, address):
    assert leaks(fast, text, [address]) == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Please change my address to 5 Wattle Grove, Dubbo NSW 2830", "5 Wattle Grove"),
        ("my new address is Lagerhusvej 4, 8600 Silkeborg", "Lagerhusvej 4"),
        ("meine neue Adresse ist Am Kuhbach 3, 58802 Balve", "Am Kuhbach 3"),
        ("ma nouvelle adresse : 3 chemin des Vignes, 74500 Évian", "3 chemin des Vignes"),
        ("mi dirección es Jirón Junín 455, Lima 15001", "Jirón Junín 455"),
        ("mijn adres is Dorpsweg 11, 7721 AA Dalfsen", "Dorpsweg 11"),
        ("mój adres to Różana 9, 62-030 Luboń", "Różana 9"),
        ("send it to Kastanienhof 2, 6020 Innsbruck please", "Kastanienhof 2"),
    ],
)
def test_addresses_after_cue_phrases(fast, text, address):
    assert leaks(fast, text, [address]) == []


@pytest.mark.parametrize(
    ("payload", "secret"),
    [
        ({"adresse": "Rosenvænget 8, 2100 København Ø"}, "Rosenvænget 8"),
        ({"dirección": "Carrera 7 # 71-21, Bogotá"}, "Carrera 7 # 71-21"),
        ({"indirizzo": "Via dei Mille 24, 80121 Napoli"}, "Via dei Mille 24"),
        ({"adres": "Spuistraat 210, 1012 VT Amsterdam"}, "Spuistraat 210"),
        ({"straße": "Lindenweg 4a"}, "Lindenweg 4a"),
        ({"calle": "Las Heras 2150"}, "Las Heras 2150"),
        ({"ulica": "Piotrkowska 104"}, "Piotrkowska 104"),
        ({"adresa": "Vinohradská 1511/230, 100 00 Praha 10"}, "Vinohradská 1511/230"),
    ],
)
def test_address_keys_in_other_languages(fast, payload, secret):
    assert leaks(fast, payload, [secret]) == []


@pytest.mark.parametrize(
    "text",
    [
        "Deployed 3 replicas to eu-west-1 at 10:42; 1012 requests failed.",
        "Version 2.14 of Gate 5 firmware shipped",
        "Order 4471 of 12 units, SKU 1016-GV, ships from Amsterdam.",
        "Meeting in room 302 at 14:00, Stockholm office",
        "The flight SK 1465 lands in Oslo at 09:10.",
        "price 1234 EUR, vat 21 %, total 1493.14",
        "Niveau 4, 5000 Punkte erreicht",  # a word ending in 'u' is no street word
    ],
)
def test_look_alikes_survive(fast, text):
    words = [w.strip(",.;") for w in text.split()]
    assert destroyed(fast, text, words) == []
