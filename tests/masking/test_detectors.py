"""Each detector's positives and the look-alikes it must leave alone."""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker


def labels(masker: Masker, text: str) -> set[tuple[str, str]]:
    return {(f.data_class, text[f.start : f.end]) for f in masker.scan(text)}


def found(masker: Masker, text: str) -> set[str]:
    return {text[f.start : f.end] for f in masker.scan(text)}


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("write to maria.garcia+news@correo.es today", "EMAIL", "maria.garcia+news@correo.es"),
        ("tel: +44 20 7946 0958", "PHONE", "+44 20 7946 0958"),
        ("call (415) 555-0132 ext. 12", "PHONE", "(415) 555-0132 ext. 12"),
        ("fax 0221 4711 0815", "PHONE", "0221 4711 0815"),
        ("portable 06 12 34 56 78", "PHONE", "06 12 34 56 78"),
        ("card 4242 4242 4242 4242 exp 12/30", "CREDIT_CARD", "4242 4242 4242 4242"),
        ("amex 3782-822463-10005", "CREDIT_CARD", "3782-822463-10005"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "IBAN", "GB82 WEST 1234 5698 7654 32"),
        ("iban=DE89370400440532013000", "IBAN", "DE89370400440532013000"),
        ("SSN 123-45-6789", "NATIONAL_ID", "123-45-6789"),
        ("NI number AB 12 34 56 C", "NATIONAL_ID", "AB 12 34 56 C"),
        ("DNI 12345678Z", "NATIONAL_ID", "12345678Z"),
        ("Steuer-ID: 86095742719", "NATIONAL_ID", "86095742719"),
        ("from 203.0.113.45 twice", "IP_ADDRESS", "203.0.113.45"),
        ("peer 2001:db8:85a3::8a2e:370:7334 up", "IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
        ("born on 14 March 1979 in Ulm", "DATE_OF_BIRTH", "14 March 1979"),
        ("DOB: 1979-03-14", "DATE_OF_BIRTH", "1979-03-14"),
    ],
)
def test_validated_patterns(fast, text, label, value):
    assert (label, value) in labels(fast, text)


@pytest.mark.parametrize(
    "text",
    [
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 merged",
        "request a80defc1-a5f7-45b7-bfc9-ecbbb7a5c22a took 12ms",
        "image sha256:127bf0e1443f883073f6b32aaf0e8afc9a63945268923332726ec3e16a122e76",
        "release v2.14.3-rc.1 and 2025.12.5 shipped",
        "is SKU 235-431-8695 in stock? order #3780624",
        "model 551-326, part no. 555-867-5309",
        "EAN 4006381333931 on the box",
        "card 4242 4242 4242 4241 is not a Luhn number",
        "IBAN GB82 WEST 1234 5698 7654 33 has a bad checksum",
        "at 12:30:45 the job restarted",
        "created_at 2024-09-15T08:00:00Z, total 4722.99 EUR",
        'ETag: "ab7ab3f3c46889dc39696259cb352010"',
        "X-Request-ID: req_evjdh2zSik0yai",
        "write to support@example.com or noreply@shop.example",
        "version 10.0.0.1 of the plugin",
    ],
)
def test_hard_negatives_survive(fast, text):
    assert found(fast, text) == set(), fast.scan(text)


SECRETS = [
    ("AKIAIOSFODNN7EXAMPLE", "key AKIAIOSFODNN7EXAMPLE"),
    (
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "token ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("glpat-xY8zW3vQ9aBc7dEf1GhI", "GITLAB=glpat-xY8zW3vQ9aBc7dEf1GhI"),
    ("xoxb-2048-4096-a1B2c3D4e5F6g7H8", "slack xoxb-2048-4096-a1B2c3D4e5F6g7H8"),
    ("sk_live_51Habc123DEF456ghi789JKL", "stripe.api_key = 'sk_live_51Habc123DEF456ghi789JKL'"),
    (
        "sk-proj-Abc123Def456Ghi789Jkl012Mno345",
        "OPENAI_API_KEY=sk-proj-Abc123Def456Ghi789Jkl012Mno345",
    ),
    ("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx", "key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "maps key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    (
        "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
        "SENDGRID SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
    ),
    ("SKa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "twilio SKa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("s3cr3t-P@ss", "postgres://app:s3cr3t-P@ss@db.internal:5432/app"),
    ("Tr1cky#Pass?word", "redis://:Tr1cky#Pass?word@cache:6379/0"),
    ("x9Lq2PzR7vKm", "Server=db;Database=shop;User Id=sa;Password=x9Lq2PzR7vKm;"),
    ("mF8#kP2qLz", "export DB_PASSWORD=mF8#kP2qLz"),
    ("abc123XYZ789def456GHI", "Authorization: Bearer abc123XYZ789def456GHI"),
    ("dXNlcjpwYXNzd29yZDEyMw==", "Authorization: Basic dXNlcjpwYXNzd29yZDEyMw=="),
    ("Nimbus2717!YAz", "my password is Nimbus2717!YAz, don't share"),
]


@pytest.mark.parametrize(("secret", "text"), SECRETS, ids=[s[0][:12] for s in SECRETS])
def test_secrets_catalogue(fast, secret, text):
    masked = fast.mask(text).value
    assert secret not in masked, masked
    assert any(
        f.data_class
        in ("API_KEY", "TOKEN", "PASSWORD", "PRIVATE_KEY", "SECRET", "CONNECTION_STRING")
        for f in fast.scan(text)
    )


def test_pem_private_key_body(fast):
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
    text = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
    masked = fast.mask(text).value
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in masked
    assert masked.startswith("-----BEGIN PRIVATE KEY-----\n<PRIVATE_KEY_1>")


@pytest.mark.parametrize(
    ("payload", "path", "label"),
    [
        ({"email": "not-an-email-shape"}, ("email",), "EMAIL"),
        ({"ssn": "078051120"}, ("ssn",), "NATIONAL_ID"),
        ({"phone": "5551234 ext 12"}, ("phone",), "PHONE"),
        ({"full_name": "jane doe"}, ("full_name",), "PERSON"),
        ({"dob": "3rd of May 1980"}, ("dob",), "DATE_OF_BIRTH"),
        ({"password": "correct horse battery staple"}, ("password",), "SECRET"),
        ({"apiToken": "plain"}, ("apiToken",), "SECRET"),
        ({"customer": {"name": "Ana Lopez"}}, ("customer", "name"), "PERSON"),
    ],
)
def test_key_names_decide_the_label(fast, payload, path, label):
    assert [(f.path, f.data_class) for f in fast.scan(payload)] == [(path, label)]


@pytest.mark.parametrize(
    "payload",
    [
        {"order_id": "555-867-5309"},
        {"sha": "4111111111111111"[:15] + "2"},
        {"uuid": "4e1b1c4a-8f1d-4b6c-9f0e-2b3c4d5e6f70"},
        {"version": "10.0.0.1"},
        {"created_at": "1979-03-14"},
        {"items": [{"name": "Moleskine Classic XL", "sku": "SKU 599-826-1036"}]},
        {"max_tokens": 2048, "token_type": "bearer"},
    ],
)
def test_key_names_lower_the_label(masker, payload):
    assert masker.scan(payload) == []


def test_keyed_cells_in_text(fast):
    text = "id,full_name,phone\n7,jane doe,5551234 ext 12\n"
    assert {("PERSON", "jane doe"), ("PHONE", "5551234 ext 12")} <= labels(fast, text)
    sql = "INSERT INTO t (id, ssn, note) VALUES (1, '078051120', 'ok');"
    assert ("NATIONAL_ID", "078051120") in labels(fast, sql)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi Siobhán,\nyour parcel is late.", "Siobhán"),
        ("Thanks for waiting.\nKind regards,\nYusuf Demir\n", "Yusuf Demir"),
        ("From: Lena Kowalczyk <lena.k@example.org>\nSubject: hi", "Lena Kowalczyk"),
        ("> On 2024-01-02, Pedro Almodóvar wrote:\n> ok", "Pedro Almodóvar"),
        ("[2024-05-01 10:00:01] kmurphy: can you check?", "kmurphy"),
        ("Refund approved for Gerold Stahr yesterday.", "Gerold Stahr"),
        ("Please ask Elizabeth Warren about the contract.", "Elizabeth Warren"),
    ],
)
def test_person_names(masker, text, name):
    assert ("PERSON", name) in labels(masker, text)


def test_a_name_found_once_is_masked_everywhere(masker):
    text = "From: Janett Albers <ja@example.com>\n\nthe box was damaged.\n\nThanks,\nJanett\n"
    masked = masker.mask(text).value
    assert "Janett" not in masked


@pytest.mark.parametrize(
    "text",
    [
        "the Brita Marella 2.4L filter arrived",
        "[2024-05-01 10:00:01] support-bot: ticket created",
        "Host: api.example.com\nContent-Type: application/json",
        "May Day parade on Main Street",
    ],
)
def test_name_look_alikes(masker, text):
    assert {lab for lab, _ in labels(masker, text)} - {"ADDRESS"} == set(), masker.scan(text)


@pytest.mark.parametrize(
    "address",
    [
        "221B Baker Street, London, NW1 6XE",
        "Flat 4, Paula Summit, South Jayne, G4 2BF",
        "Hauptstraße 12/3, 10115 Berlin",
        "12, rue de la Paix, 75002 Paris",
        "Calle de Alcalá 42, Madrid, 28014",
        "Via Roma 10, Milano",
    ],
)
def test_addresses(fast, address):
    assert ("ADDRESS", address) in labels(fast, f"Ship to {address}.\n")


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("my passport number is X1234567.", "NATIONAL_ID", "X1234567"),
        ("Kind regards,\nSiobhan Mac Giolla Phadraig", "PERSON", "Siobhan Mac Giolla Phadraig"),
        ('{"assignee": "jsmith", "id": 4711}', "PERSON", "jsmith"),
    ],
)
def test_document_numbers_long_signatures_and_handles(masker, text, label, value):
    assert value not in str(masker.mask(text).value)


def test_licence_keys_are_not_document_numbers(fast):
    assert fast.scan("order 12345678 shipped; license key ABC123456") == []


def test_percent_encoded_value_in_a_url_is_replaced_in_place() -> None:
    """Issue 13: masking must not break a URI. A percent-encoded email in a query string used to
    replace the whole URL with one placeholder; now only the encoded value is."""
    url = "https://crm.example.com/c?email=wiebke.osterhaus%40example.org&tab=notes"
    masked = Masker().mask({"url": url}).value["url"]
    assert masked.startswith("https://crm.example.com/c?email=")
    assert masked.endswith("&tab=notes")
    assert "osterhaus" not in masked


def test_percent_decoding_maps_multibyte_characters_back() -> None:
    from guardrails_plugin.masking.detectors.encoded import _unquote

    decoded, starts = _unquote("Ji%C5%99%C3%AD+%E2%82%AC")
    assert decoded == "Jiří+€"
    assert starts == [0, 1, 2, 8, 14, 15, 24]
    assert _unquote("bad%C5%20x") == ("bad%C5%20x", list(range(11)))
