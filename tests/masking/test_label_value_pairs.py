"""A value whose key sits beside it: ``{"label": "Date of birth", "value": ...}``.

Forms, HAR entries, env lists (Kubernetes, ECS, GitHub), AWS tags and contact lists name a value
in a sibling field; the value is judged by that name as if it were its key, and the name itself
is kept.
"""

from __future__ import annotations

import json

import pytest

from guardrails_plugin.masking import Masker
from guardrails_plugin.masking.labels import pair_key


def test_form_field_date_of_birth(fast: Masker):
    payload = {"fields": [{"label": "Date of birth", "value": "1979-11-02"}]}
    out = fast.mask(payload).value
    assert out == {"fields": [{"label": "Date of birth", "value": "<DATE_OF_BIRTH_1>"}]}


def test_har_headers_and_query_params(fast: Masker):
    har = {
        "request": {
            "headers": [
                {"name": "X-Api-Key", "value": "u4Hs9kQe2Zt"},
                {"name": "Accept", "value": "application/json"},
            ],
            "queryString": [{"name": "access_token", "value": "plainword"}],
            "cookies": [{"name": "session", "value": "Qw7rT9yU2iO4pA", "httpOnly": True}],
        }
    }
    out = fast.mask(har).value["request"]
    assert out["headers"][0] == {"name": "X-Api-Key", "value": "<SECRET_1>"}
    assert out["headers"][1] == {"name": "Accept", "value": "application/json"}
    assert out["queryString"][0]["value"].startswith("<SECRET")
    assert out["cookies"][0]["value"].startswith("<SECRET")
    assert out["cookies"][0]["name"] == "session"


def test_env_lists_keep_the_name_and_mask_the_secret(fast: Masker):
    container = {
        "env": [
            {"name": "REDIS_PASSWORD", "value": "tulip88"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "STRIPE_API_KEY_2", "value": "notashape"},
        ]
    }
    out = fast.mask(container).value["env"]
    assert out[0] == {"name": "REDIS_PASSWORD", "value": "<SECRET_1>"}
    assert out[1] == {"name": "LOG_LEVEL", "value": "info"}
    assert out[2]["name"] == "STRIPE_API_KEY_2" and out[2]["value"].startswith("<SECRET")


@pytest.mark.parametrize(
    ("pair", "label"),
    [
        ({"Key": "DB_PASSWORD", "Value": "marmalade7"}, "SECRET"),
        ({"field": "email", "val": "ingrid (at) example"}, "EMAIL"),
        ({"type": "phone", "number": "0612 88 47 19"}, "PHONE"),
        ({"type": "mobile", "value": "+47 912 34 567"}, "PHONE"),
        ({"title": "Home address", "content": "Storgata 14, 0155 Oslo"}, "ADDRESS"),
        ({"name": "Passport number", "value": "K4417729"}, "NATIONAL_ID"),
        ({"system": "phone", "value": "22 33 44 55", "use": "home"}, "PHONE"),
        ({"question": "What is your date of birth?", "answer": "3 March 1968"}, "DATE_OF_BIRTH"),
    ],
)
def test_label_key_decides_the_value(fast: Masker, pair: dict[str, str], label: str | None):
    value_key = next(
        k for k in pair if k.lower() in ("value", "val", "number", "content", "answer")
    )
    labels = {f.data_class for f in fast.scan(pair) if f.path == (value_key,)}
    if label is None:
        assert not labels
    else:
        assert any(found.startswith(label) or label in found for found in labels), labels
    label_key = next(iter(pair))
    assert fast.mask(pair).value[label_key] == pair[label_key]  # the label is kept


def test_label_in_another_language_is_normalised_like_a_key():
    # The label's text goes through the same key normalisation as a real key would.
    assert pair_key({"label": "Date of Birth", "value": "x"}) == ("value", "Date of Birth")
    assert pair_key({"Name": "Geburtsdatum", "Value": "x"}) == ("Value", "Geburtsdatum")


def test_not_a_pair():
    assert pair_key({"name": "Ingrid", "email": "x"}) is None  # no value-ish key
    assert pair_key({"label": "a" * 200, "value": "x"}) is None  # prose, not a label
    assert pair_key({"label": "line one\nline two", "value": "x"}) is None
    assert pair_key({"label": 3, "value": "x"}) is None


def test_content_blocks_are_not_relabelled(fast: Masker):
    # {"type": "text", "text": ...} is a chat content block: its type says nothing, and the
    # text is scanned as before.
    block = {"type": "text", "text": "reach me on +44 20 7946 0958"}
    assert fast.mask(block).value == {"type": "text", "text": "reach me on <PHONE_1>"}


def test_pairs_inside_json_strings(fast: Masker):
    text = json.dumps({"Environment": [{"Name": "APP_SECRET", "Value": "orchard"}]})
    out = json.loads(fast.mask(text).value)
    assert out["Environment"][0] == {"Name": "APP_SECRET", "Value": "<SECRET_1>"}


def test_numbers_stay_numbers(fast: Masker):
    pair = {"name": "retries", "value": 3}
    assert fast.mask(pair).value == pair


@pytest.mark.parametrize("label", ["Producto", "Artikel", "Ürün", "Prodotto", "Product"])
def test_product_field_in_a_form_is_kept(fast: Masker, label: str) -> None:
    form = [
        {"label": "Nachname", "value": "Brandauer"},
        {"label": label, "value": "Lumen Desk Lamp"},
    ]
    out = fast.mask(form).value
    assert out[1]["value"] == "Lumen Desk Lamp"
    assert "Brandauer" not in str(out)


def test_kept_label_does_not_hide_a_structure(fast: Masker) -> None:
    block = {"type": "event", "data": "write to ingrid.falk@posteo.de"}
    assert "ingrid.falk" not in str(fast.mask(block).value)


def test_percent_encoded_name_in_a_query_string(fast: Masker) -> None:
    url = "https://portal.example.org/find?vorname=Ji%C5%99ina&nachname=Dvo%C5%99%C3%A1k"
    out = fast.mask(url).value
    assert "Ji%C5%99ina" not in out and "Dvo%C5%99%C3%A1k" not in out
