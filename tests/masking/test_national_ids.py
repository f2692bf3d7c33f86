"""National ids from python-stdnum's catalogue: under their local key names, after their
names in prose, and (only the distinctive, checksummed shapes) on their own."""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker


def classes(masker: Masker, value: object) -> set[tuple[str, str]]:
    """(class, leaf path's last key) per finding."""
    return {(f.data_class, str(f.path[-1]) if f.path else "") for f in masker.scan(value)}


def found(masker: Masker, text: str) -> set[tuple[str, str]]:
    return {(f.data_class, text[f.start : f.end]) for f in masker.scan(text)}


# Values computed with each id's own check-digit rules; none comes from a corpus.
KEYED = [
    ("pesel", "85072312343"),
    ("tckn", "38651902442"),
    ("tc_kimlik_no", "38651902442"),
    ("my_number", "739182640510"),
    ("mynumber", "7391 8264 0510"),
    ("身份证号", "110105198806172311"),
    ("shenfenzheng", "110105198806172311"),
    ("resident_id", "110105198806172311"),
    ("aadhaar", "7392 4851 3067"),
    ("bsn", "384726100"),
    ("burgerservicenummer", "384726100"),
    ("personnummer", "790412-1238"),
    ("hetu", "120385-482M"),
    ("cpr", "120385-4821"),
    ("fodselsnummer", "12038500110"),
    ("fødselsnummer", "12038500110"),
    ("rodne_cislo", "855712/0308"),
    ("codice_fiscale", "BRNLCU79L12F205C"),
    ("codiceFiscale", "BRNLCU79L12F205C"),
    ("cpf", "473.829.160-22"),
    ("nhs_number", "483 920 1757"),
    ("NHSNumber", "6128473903"),
    ("kvnr", "M482910378"),
    ("versichertennummer", "A123456780"),
]


@pytest.mark.parametrize(("key", "value"), KEYED)
def test_id_under_its_local_key_name(fast: Masker, key: str, value: str) -> None:
    result = fast.mask({"patient": {key: value, "ward": "B4"}})
    assert result.value["patient"][key] != value
    assert ("NATIONAL_ID", key) in classes(fast, {"patient": {key: value}})
    assert result.value["patient"]["ward"] == "B4"


@pytest.mark.parametrize(("key", "value"), KEYED[:8])
def test_id_column_in_a_csv_export(fast: Masker, key: str, value: str) -> None:
    text = f"name_hash,{key},visits\nx91f,{value},3\n"
    assert ("NATIONAL_ID", value) in found(fast, text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Mój PESEL to 85072312343, proszę o kontakt.", "85072312343"),
        ("TC Kimlik No: 38651902442", "38651902442"),
        ("TCKN 38651902442 ile kayıtlı", "38651902442"),
        ("マイナンバー 7391 8264 0510 を登録しました", "7391 8264 0510"),
        ("My Number: 739182640510.", "739182640510"),
        ("身份证号码：110105198806172311", "110105198806172311"),
        ("Aadhaar no. 7392 4851 3067 linked", "7392 4851 3067"),
        ("mijn BSN is 384726100", "384726100"),
        ("personnummer 790412-1238 saknas", "790412-1238"),
        ("henkilötunnus 120385-482M", "120385-482M"),
        ("CPR-nr. 120385-4821", "120385-4821"),
        ("fødselsnummer: 12038500110", "12038500110"),
        ("rodné číslo 855712/0308", "855712/0308"),
        ("codice fiscale BRNLCU79L12F205C", "BRNLCU79L12F205C"),
        ("meu CPF é 473.829.160-22", "473.829.160-22"),
        ("NHS number 483 920 1757 on file", "483 920 1757"),
        ("Krankenversichertennummer M482910378", "M482910378"),
    ],
)
def test_id_after_its_name_in_prose(fast: Masker, text: str, value: str) -> None:
    assert ("NATIONAL_ID", value) in found(fast, text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("dati: BRNLCU79L12F205C, Milano", "BRNLCU79L12F205C"),
        ("cliente 473.829.160-22 aprovado", "473.829.160-22"),
        ("證件 110105198806172311 已核驗", "110105198806172311"),
        ("asiakas 120385-482M soitti", "120385-482M"),
    ],
)
def test_distinctive_checksummed_shapes_without_a_cue(fast: Masker, text: str, value: str) -> None:
    assert ("NATIONAL_ID", value) in found(fast, text)


@pytest.mark.parametrize(
    "text",
    [
        "order 38651902442 shipped",  # TCKN-valid, but an order number without a cue
        "PESEL check failed with error 40312",  # the cue, but no PESEL-shaped number
        "build 384726100 passed",
        "invoice 739182640510 paid",
    ],
)
def test_look_alikes_without_cue_or_checksum_survive(fast: Masker, text: str) -> None:
    assert not [f for f in fast.scan(text) if f.data_class == "NATIONAL_ID"]


def test_a_named_id_with_a_wrong_check_digit_is_still_masked(fast: Masker) -> None:
    # Named and shaped like a PESEL: a mistyped (or generated) number is still someone's.
    text = "PESEL 85072312344 (literówka)"
    assert ("NATIONAL_ID", "85072312344") in found(fast, text)


def test_generic_id_keys_take_any_valid_catalogue_id(fast: Masker) -> None:
    payload = {"personal_id": "85072312343", "citizen_no": "38651902442", "personal_id2": "x-17"}
    masked = fast.mask(payload).value
    assert masked["personal_id"] != "85072312343" and masked["citizen_no"] != "38651902442"
    assert masked["personal_id2"] == "x-17"


def test_ids_under_id_keys_are_not_national_ids(fast: Masker) -> None:
    payload = {"order_id": "38651902442", "variant_id": "85072312343", "sku": "384726100"}
    assert fast.mask(payload).value == payload


def test_a_validator_that_breaks_cannot_clear_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: a third-party validator raising something other than its own validation
    error (a bug on odd input) leaves the value 'shaped' (still masked after a cue), not 'no'."""
    from guardrails_plugin.masking import national_ids

    kind = national_ids.kinds_for_cue("pesel")[0]

    def broken(text: str) -> object:
        raise IndexError("string index out of range")

    monkeypatch.setattr(national_ids, "_module", lambda path: (broken, str))
    assert national_ids.validate([kind], "02070803628") == (national_ids.Verdict.SHAPED, kind)
