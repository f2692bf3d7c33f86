"""Names in forms and tables whose context is a label or a column beside them: form fields
written as label/value pairs in any language, CSV exports whose headers carry marks ('N° client'),
weak name columns ('Nom') next to strong ones, Turkish 'Ad' beside 'Soyad', one-character
Chinese family names."""

from __future__ import annotations

import json

import pytest

from tests.masking._helpers import destroyed, leaks


@pytest.mark.parametrize("container", ["fields", "items", "answers"])
def test_form_fields_in_a_list(fast, container):
    form = {
        "form_id": "f-20931",
        container: [
            {"label": "Produkt", "value": "Bosch Akkuschrauber GSR 12V"},
            {"label": "Familienname", "value": "Kowalczyk"},
            {"label": "Vorname", "value": "Wiebke"},
            {"label": "Nombre", "value": "Xiomara"},
            {"label": "Kundennummer", "value": "8812034"},
        ],
    }
    text = json.dumps(form, ensure_ascii=False)
    assert leaks(fast, text, ["Kowalczyk", "Wiebke", "Xiomara"]) == []
    assert destroyed(fast, text, ["Bosch Akkuschrauber GSR 12V", "8812034"]) == []


def test_tags_under_a_weak_person_label_stay(fast):
    text = '{"Tags": [{"Key": "Owner", "Value": "team-ledger"}, {"Key": "Name", "Value": "db-3"}]}'
    assert destroyed(fast, text, ["team-ledger", "db-3"]) == []


def test_csv_header_with_marks_and_weak_name_column(fast):
    text = (
        "N° client;Nom;Prénom;Courriel;Ville\n"
        "5531;Lefebvre;Gaëlle;g.lefebvre@exemple.fr;Rennes\n"
        "9120;Okonkwo;Chidi;chidi.o@exemple.fr;Nantes\n"
    )
    assert leaks(fast, text, ["Lefebvre", "Gaëlle", "Okonkwo", "Chidi"]) == []
    assert destroyed(fast, text, ["5531", "9120"]) == []


def test_product_table_keeps_names(fast):
    text = "sku,name,price,brand\nZX-1,Aurora Lamp,49.00,Lumo\nZX-2,Nimbus Desk,199.00,Lumo\n"
    assert destroyed(fast, text, ["Aurora Lamp", "Nimbus Desk"]) == []


def test_turkish_ad_beside_soyad(fast):
    csv = (
        "Numara,Soyad,Ad,E-posta\n"
        "101,Erdem,Nilüfer,ne@ornek.com.tr\n"
        "102,Şahin,Batuhan,bs@ornek.com.tr\n"
    )
    assert leaks(fast, csv, ["Erdem", "Nilüfer", "Şahin", "Batuhan"]) == []
    assert leaks(fast, '{"ad": "Sevgül", "soyad": "Tekin"}', ["Sevgül", "Tekin"]) == []


def test_one_character_chinese_family_name(fast):
    text = '{"resourceType": "Patient", "name": [{"family": "郑", "given": ["丽华"]}]}'
    assert leaks(fast, text, ['"郑"', "丽华"]) == []
