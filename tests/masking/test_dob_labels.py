"""Dates of birth under labels, keys and column headers in many languages, in any common date
format; other dates (created_at, timestamps) survive."""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker


def dobs(masker: Masker, value: object) -> list[str]:
    return [f.data_class for f in masker.scan(value) if f.data_class == "DATE_OF_BIRTH"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Geburtsdatum", "02.03.1984"),
        ("geb.", "2. März 1984"),
        ("date_de_naissance", "2 mars 1984"),
        ("dateNaissance", "02/03/1984"),
        ("geboortedatum", "2 maart 1984"),
        ("fecha_de_nacimiento", "2 de marzo de 1984"),
        ("data_di_nascita", "02/03/1984"),
        ("data_urodzenia", "2 marca 1984"),
        ("doğum_tarihi", "02.03.1984"),
        ("födelsedatum", "1984-03-02"),
        ("fødselsdato", "02.03.1984"),
        ("syntymäaika", "2.3.1984"),
        ("datum_narozeni", "2. března 1984"),
        ("data_de_nascimento", "02/03/1984"),
        ("DOB", "19840302"),
        ("birth_date", "1984-03-02"),
        ("birthDate", "March 2, 1984"),
        ("生年月日", "1984-03-02"),
    ],
)
def test_dob_under_a_key_in_many_languages(fast: Masker, key: str, value: str) -> None:
    payload = {"person": {key: value, "created_at": "2024-05-01T10:00:00Z"}}
    masked = fast.mask(payload).value["person"]
    assert masked[key] != value
    assert masked["created_at"] == "2024-05-01T10:00:00Z"


def test_mongo_date_under_a_dob_key(fast: Masker) -> None:
    payload = {
        "dob": {"$date": "1984-03-02T00:00:00Z"},
        "updated": {"$date": "2024-05-01T00:00:00Z"},
    }
    masked = fast.mask(payload).value
    assert masked["dob"]["$date"] != "1984-03-02T00:00:00Z"
    assert masked["updated"]["$date"] == "2024-05-01T00:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "Geburtsdatum: 02.03.1984",
        "geb. 2. März 1984 in Graz",
        "née le 2 mars 1984 à Lyon",
        "Date de naissance : 02/03/1984",
        "geboortedatum 2 maart 1984",
        "fecha de nacimiento: 2 de marzo de 1984",
        "data di nascita 02/03/1984",
        "data urodzenia: 2 marca 1984",
        "doğum tarihi 02.03.1984",
        "födelsedatum 1984-03-02",
        "fødselsdato 02.03.1984",
        "syntymäaika 2.3.1984",
        "datum narození 2. března 1984",
        "data de nascimento 02/03/1984",
        "DOB 19840302",
    ],
)
def test_dob_after_a_label_in_prose(fast: Masker, text: str) -> None:
    assert dobs(fast, text)


def test_dob_column_in_csv_and_in_code(fast: Masker) -> None:
    csv = "id,Geburtsdatum,created\n17,02.03.1984,2024-05-01\n"
    masked = fast.mask(csv).value
    assert "02.03.1984" not in masked and "2024-05-01" in masked
    code = 'patient = Patient(dob = "1984-03-02", admitted="2024-05-01")'
    masked = fast.mask(code).value
    assert "1984-03-02" not in masked and "2024-05-01" in masked


@pytest.mark.parametrize(
    "payload",
    [
        {"created_at": "1984-03-02"},
        {"date": "19840302"},
        {"timestamp": "2024-05-01T10:00:00Z"},
        "the release of 02.03.1984 was the first",
    ],
)
def test_other_dates_survive(fast: Masker, payload: object) -> None:
    assert not dobs(fast, payload)


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("hola, nací el 4 de julio de 1972 en Cádiz", "4 de julio de 1972"),
        ("bom dia, nasci em 04/07/1972 e moro em Braga", "04/07/1972"),
        ("Jan Novák, nar. 4. 7. 1972", "4. 7. 1972"),
        ("narodila jsem se 4. července 1972", "4. července 1972"),
        ("kund: född 4 juli 1972", "4 juli 1972"),
        ("kunde: født 04.07.1972", "04.07.1972"),
        ("müşteri: D.T. 4 Temmuz 1972", "4 Temmuz 1972"),
        ("Personalien: geb. 4.7.72, wohnhaft in Kiel", "4.7.72"),
        ("Födelsedatum: 720704 ", "720704"),
        ("syntynyt 4.7.1972 Oulussa", "4.7.1972"),
    ],
)
def test_birth_cues_in_prose(fast: Masker, text: str, date: str) -> None:
    assert date not in fast.mask(text).value


@pytest.mark.parametrize(
    "text",
    ["ordernummer 720704 skickad", "Lieferung am 04.07.24, Rechnung 72070412"],
)
def test_short_dates_need_the_birth_word(fast: Masker, text: str) -> None:
    assert dobs(fast, text) == []


@pytest.mark.parametrize(
    "header",
    ["N° client;Prénom Nom;Né(e) le;Ville", "Nº;Nombre;F. nacimiento;birth number (rodné číslo)"],
)
def test_csv_headers_with_marks(fast: Masker, header: str) -> None:
    text = header + "\n4471;Odile Marchetti;09.12.1966;Lyon\n"
    assert "09.12.1966" not in fast.mask(text).value
