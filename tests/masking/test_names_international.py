"""Full names from cultures the English NER model and the Latin-1 lexicon pattern miss: letters
outside Latin-1, surname particles, surname shapes, non-Latin scripts under name keys."""

from __future__ import annotations

import pytest

from tests.masking._helpers import destroyed, leaks


@pytest.mark.parametrize(
    "name",
    [
        "Łukasz Przybyszewski",
        "Jiří Hornáček",
        "Şükrü Özdemir",
        "Zdeněk Štěpánek",
        "Agnieszka Żurawska",
        "Ögmundur Þórðarson",
        "Sigríður Ásgeirsdóttir",
        "Ahmed bin Rashid Al-Mazrouei",
        "Marieke van der Kooij",
        "Wouter ter Horst",
        "Aoife Ní Bhriain",
        "Seamus Ó Súilleabháin",
        "Fergus McTavish",
        "Yusuf ibn Harun",
        "Dimitrios Papadopoulos",
    ],
)
def test_full_names_in_prose(fast, name):
    text = f"The refund for {name} was approved yesterday."
    assert leaks(fast, text, [name]) == []


@pytest.mark.parametrize(
    "name",
    [
        "Kjetil Haugsværd",  # given name known, surname not
        "Mirosława Grzelczyk",
        "Torbjørn Aasheim",
        "Vendula Nováková",
    ],
)
def test_names_in_a_log_line(fast, name):
    text = f"2024-11-02T10:11:12Z INFO ticket 8812 reassigned to {name} (tier 2)"
    assert leaks(fast, text, [name]) == []


@pytest.mark.parametrize(
    ("payload", "secret"),
    [
        ({"customer": {"name": "Αικατερίνη Λαμπράκη", "tier": "gold"}}, "Αικατερίνη Λαμπράκη"),
        ({"contact": {"name": "Trần Văn Khải"}}, "Trần Văn Khải"),
        ({"patient": {"given_name": "Haukur"}}, "Haukur"),
        ({"user": {"last_name": "Øvrebø"}}, "Øvrebø"),
        ({"owner": {"name": "عبد الرحمن الزهراني"}}, "عبد الرحمن الزهراني"),
        ({"member": {"name": "이준호"}}, "이준호"),
        ({"name": "Björn Þorvaldsson", "email_verified": True}, "Björn Þorvaldsson"),
    ],
)
def test_names_under_name_keys(fast, payload, secret):
    assert leaks(fast, payload, [secret]) == []


@pytest.mark.parametrize(
    ("payload", "keep"),
    [
        ({"name": "Aeron Chair", "sku": "AER-B-23", "price": 1395}, "Aeron Chair"),
        ({"name": "Herman Miller Embody", "price": 1795, "currency": "EUR"}, "Herman Miller"),
        ({"metadata": {"name": "payments-api", "namespace": "prod"}}, "payments-api"),
        ({"kind": "Service", "metadata": {"name": "checkout"}}, "checkout"),
        ({"name": "Nordic Blue", "hex": "#1d3b5c"}, "Nordic Blue"),
        ({"plan": {"name": "Business Plus", "seats": 40}}, "Business Plus"),
    ],
)
def test_things_under_name_keys_survive(fast, payload, keep):
    assert destroyed(fast, payload, [keep]) == []


@pytest.mark.parametrize(
    "text",
    [
        "Deploy Kubernetes Cluster in Frankfurt Region",
        "Migrated Postgres Replica to Warsaw Datacenter",
        "The Volvo Ocean Race starts in Alicante.",
        "Rollout of Microsoft Teams to Copenhagen finished.",
    ],
)
def test_capitalised_things_survive(masker, text):
    words = [w.strip(".,") for w in text.split() if w[:1].isupper()]
    assert destroyed(masker, text, words) == []
