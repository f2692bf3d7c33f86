"""Properties over generated payloads: never raises, JSON stays JSON, a planted secret never
comes back."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails_plugin.masking import Masker

MASKER = Masker(ner=False)
CANARIES = [
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "sk_live_51Habc123DEF456ghi789JKL",
    "ana.lopez@example.org",
    "4242 4242 4242 4242",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "GB82 WEST 1234 5698 7654 32",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
SEPARATORS = [" ", "\n", "=", ": ", ",", "\t", " is ", "(", '"']


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_masking_never_raises_and_json_stays_json(value):
    result = MASKER.mask(value)
    json.dumps(result.value)  # still serialisable, same kinds of values
    if isinstance(value, dict | list):
        # A JSON document in a string is parsed, masked and written back as JSON. (A bare
        # scalar is plain text: "117200000000000" may be masked whole, like any number.)
        masked_text = MASKER.mask(json.dumps(value)).value
        json.loads(masked_text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=json_values,
    canary=st.sampled_from(CANARIES),
    before=st.text(max_size=10),
    sep1=st.sampled_from(SEPARATORS),
    sep2=st.sampled_from(SEPARATORS),
    key=st.sampled_from(["note", "data", "x", "message", "value"]),
)
def test_a_planted_secret_never_comes_back(value, canary, before, sep1, sep2, key):
    planted = f"{before}{sep1}{canary}{sep2}tail"
    payload = {"wrapper": value, key: planted, "list": [planted]}
    out = json.dumps(MASKER.mask(payload).value, ensure_ascii=False)
    assert canary not in out
    assert canary.replace(" ", "") not in out.replace(" ", "")
    text_out = MASKER.mask(json.dumps(payload)).value
    assert canary not in text_out
