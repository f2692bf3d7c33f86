"""HL7 v2 segments, CSV exports and FHIR resources: names, birth dates, addresses, phones and
ids in the fields their standard defines."""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker
from tests.masking._helpers import destroyed, leaks

HL7 = (
    "MSH|^~\\&|LAB|NORTHCLINIC|EHR|NORTHCLINIC|20240611083000||ADT^A01|MSG77120|P|2.5\r"
    "PID|1||PX44821^^^NC^MR||Haraldsen^Solveig^Marit||19670322|F|||Storgata 14^^Tromsø^^9008^NO"
    "||+47 412 33 876|||||||09036712345\r"
    "NK1|1|Haraldsen^Einar|SPO|Storgata 14^^Tromsø^^9008^NO|+47 913 22 104\r"
    "GT1|1||Lindahl^Petra||Kirkeveien 3^^Bodø^^8006^NO|+47 977 01 223\r"
    "PV1|1|I|WARD3^301^B\r"
)


def test_hl7_pid_fields_are_masked(fast):
    secrets = [
        "Haraldsen",
        "Solveig",
        "19670322",
        "Storgata 14",
        "Tromsø",
        "412 33 876",
        "Einar",
        "Lindahl",
        "Petra",
        "Kirkeveien 3",
        "913 22 104",
        "09036712345",
    ]
    assert leaks(fast, HL7, secrets) == []


def test_hl7_structure_survives(fast):
    keep = ["MSH|^~\\&|LAB|NORTHCLINIC", "ADT^A01", "MSG77120", "PV1|1|I|WARD3^301^B", "|F|"]
    assert destroyed(fast, HL7, keep) == []


def test_hl7_with_newlines(fast):
    text = HL7.replace("\r", "\n")
    assert leaks(fast, text, ["Haraldsen", "Solveig", "Kirkeveien 3"]) == []


def test_csv_surname_given_cells(fast):
    text = (
        "id;patient;geboortedatum;woonplaats\n"
        "1;Dijkstra, Wilhelmina;1984-02-11;Utrecht\n"
        "2;Brouwer, Teun;1990-07-30;Zwolle\n"
    )
    assert leaks(fast, text, ["Dijkstra", "Wilhelmina", "Brouwer, Teun"]) == []


def test_csv_name_columns_in_other_languages(fast):
    text = "nr,Nachname,Vorname,Ort\n17,Grünewald,Ludwiga,Kassel\n18,Oberhuber,Korbinian,Passau\n"
    assert leaks(fast, text, ["Grünewald", "Ludwiga", "Oberhuber", "Korbinian"]) == []
    assert destroyed(fast, text, ["Kassel", "Passau", "17", "18"]) == []


def test_fhir_patient(fast):
    patient = {
        "resourceType": "Patient",
        "id": "pat-5521",
        "name": [{"use": "official", "family": "Sæther", "given": ["Ingebjørg", "Lise"]}],
        "telecom": [{"system": "phone", "value": "+47 934 55 120", "use": "mobile"}],
        "birthDate": "1958-09-03",
        "address": [
            {"line": ["Fjellveien 22B"], "city": "Ålesund", "postalCode": "6003", "country": "NO"}
        ],
    }
    secrets = ["Sæther", "Ingebjørg", "Lise", "934 55 120", "1958-09-03", "Fjellveien 22B"]
    assert leaks(fast, patient, secrets) == []
    assert destroyed(fast, patient, ["pat-5521", "Patient", "official", "phone"]) == []


@pytest.mark.parametrize(
    ("cx", "value"),
    [
        ("X7712093^^^NIE^NI", "X7712093"),  # type code NI
        ("5512 8834 0019^^^UIDAI^NNIND", "5512 8834 0019"),  # NN + country
        ("C88120433^^^USSSA^SS", "C88120433"),
        ("8812203391^^^PESEL^XX", "8812203391"),  # an authority that names the number
    ],
)
def test_hl7_identifier_list_national_numbers(fast: Masker, cx: str, value: str) -> None:
    message = (
        "MSH|^~\\&|LAB|CLINIC|EHR|HOSP|202501011200||ADT^A04|M7781|P|2.5\r"
        f"PID|1||447120^^^CLINIC^MR~{cx}||Quist^Edda||19700101|F\r"
    )
    out = fast.mask(message).value
    assert value not in out
    assert "447120^^^CLINIC^MR" in out  # the record number is the hospital's own: kept
