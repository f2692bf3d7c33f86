"""Phones written the national way (no country code), after cue words in many languages or
under phone-ish keys, validated with phonenumbers against the regions the cue's language
suggests."""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker


def phones(masker: Masker, text: str) -> set[str]:
    return {text[f.start : f.end] for f in masker.scan(text) if f.data_class == "PHONE"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Bel me op 0612 34 56 78 na vijf uur", "0612 34 56 78"),
        ("mobiel: 06-48213957", "06-48213957"),
        ("Llámame al 96 123456, por favor", "96 123456"),
        ("móvil 612 48 93 27", "612 48 93 27"),
        ("Tel. 030 7284193", "030 7284193"),
        ("Handy 0171 4829365", "0171 4829365"),
        ("Mobil: 0157 38294617", "0157 38294617"),
        ("portable 07 48 29 36 51", "07 48 29 36 51"),
        ("mon téléphone : 04.91.27.38.46", "04.91.27.38.46"),
        ("cellulare 347 829 4617", "347 829 4617"),
        ("telefono 06 4829 3617", "06 4829 3617"),
        ("komórka 601 482 937", "601 482 937"),
        ("cep: 0532 481 29 37", "0532 481 29 37"),
        ("sđt 0912 482 937", "0912 482 937"),
        ("call me on 07700 482937 tonight", "07700 482937"),
        ("reach me at (212) 482-9371", "(212) 482-9371"),
        ("messages to 0412 482 937 please", "0412 482 937"),
        ("ring mig på 070-482 93 71", "070-482 93 71"),
        ("puhelin 040 482 9371", "040 482 9371"),
        ("celular (11) 94829-3716", "(11) 94829-3716"),
        # Greek cues: the text is folded before detection (τ, κ, ο read as Latin letters).
        ("κινητό 694 829 3716", "694 829 3716"),
        ("ΤΗΛ: 210 482 9371", "210 482 9371"),
    ],
)
def test_national_phone_after_a_cue(fast: Masker, text: str, value: str) -> None:
    assert value in phones(fast, text)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("telefon", "0171 4829365"),
        ("Telefonnummer", "030 7284193"),
        ("téléphone", "04 91 27 38 46"),
        ("telefoon", "020 482 9371"),
        ("movil", "612 48 93 27"),
        ("cellulare", "347 829 4617"),
        ("handy", "0157 38294617"),
        ("komorka", "601 482 937"),
        ("cep_telefonu", "0532 481 29 37"),
        ("sdt", "0912 482 937"),
    ],
)
def test_national_phone_under_a_phone_key(fast: Masker, key: str, value: str) -> None:
    assert fast.mask({key: value}).value[key] != value


@pytest.mark.parametrize(
    "text",
    [
        "call me on Monday at 10:30",
        "Tel. extension 2048",
        "phone model 2024 edition",
        "telefono: vedi ordine 2024-03-11",
        "cell B12 holds 20240501",
        "mobile app v2.3.1 build 20240501",
    ],
)
def test_cue_without_a_phone_keeps_the_text(fast: Masker, text: str) -> None:
    assert not phones(fast, text)


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("podem me ligar no 21 3487 6621, obrigado", "21 3487 6621"),
        ("Pueden llamarme al 644 21 83 07.", "644 21 83 07"),
        ("Zavolejte mi na 604 118 392 prosím", "604 118 392"),
        ("U kunt me bellen op 06 4412 9034.", "06 4412 9034"),
        ("Sie erreichen mich unter 0176 55419023.", "0176 55419023"),
        ("proszę dzwonić pod numer 501 773 246.", "501 773 246"),
        ("Pozdrawiam,\nAnna Kowal\nM: 501 773 246\n", "501 773 246"),
        ("Hilsen,\nJens\nMob. 40917263\n", "40917263"),
        ("Hälsningar\ntfn 070-318 44 92\n", "070-318 44 92"),
        ("Saluti\n\u260e 347 2210987\n", "347 2210987"),
        ("call me on 0612345678", "0612345678"),
    ],
)
def test_call_me_phrases_and_signatures(fast: Masker, text: str, phone: str) -> None:
    assert phone not in fast.mask(text).value


def test_long_digit_run_after_cue_is_masked_whole(fast: Masker) -> None:
    out = fast.mask("bel me op 0612345678 graag").value
    assert "345678" not in out
