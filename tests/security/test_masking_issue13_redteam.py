"""Issue 13 red team: the masker changes of issue 13, attacked from outside.

The guard's rules match on the data classes the masker finds (``data: [EMAIL]`` asks for approval,
``block`` denies). A hostile model shapes tool arguments; an untrusted tool shapes outputs. Each
test below is one way to make real personal data or a secret come out kept (or as nothing) by
choosing a key, a wrapper or the text around it, or to stall the masker with a hostile shape.
Every test fails on the code it was written against (main at 499dfbc); the docstring names the
finding and its impact. The values are made up (test card numbers, invented names).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from guardrails_plugin.errors import MaskingTimeout
from guardrails_plugin.masking import Masker

CARD = "4111111111111111"  # a Visa test number (Luhn-valid)
CARD_SPACED = "4111 1111 1111 1111"
PERSON_EMAIL = "henrietta.vossberg@gmail.com"
SECRET = "Tr0ub4dor&3horse"


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker(hash_key=b"k" * 32, ner=False)


@pytest.fixture(scope="module")
def ner_masker() -> Masker:
    return Masker(hash_key=b"k" * 32)


def classes(masker: Masker, payload: Any) -> list[str]:
    return [f.data_class for f in masker.mask(payload).findings]


def masked_text(masker: Masker, payload: Any) -> str:
    return repr(masker.mask(payload).value)


# --- identifiers detector ------------------------------------------------------------------------


def test_card_wrapped_as_message_id_is_kept(masker: Masker) -> None:
    """Finding 1 (high): a card number written as a message id, ``<4111…1111@pay.example.com>``,
    is kept. The identifiers detector marks the whole ``<…@host>`` SAFE at 0.96, above the Luhn
    card (0.95), and a 16-digit local part counts as machine-made. Impact: one pair of angle
    brackets and an '@host' smuggle a real card past every CREDIT_CARD rule; the same works for
    a phone number (``<+14155550123@sms.example.com>``) and in a ``Message-ID:`` line."""
    for text in (
        f"charge <{CARD}@pay.example.com> now",
        f"Message-ID: <{CARD}@mail.example.com>",
    ):
        found = classes(masker, {"body": text})
        assert "CREDIT_CARD" in found, text
        assert CARD not in masked_text(masker, {"body": text})


@pytest.mark.parametrize(
    ("payload", "data_class"),
    [
        ({"message_id": f"<{CARD}@pay.example.com>"}, "CREDIT_CARD"),
        ({"body": "reply to <+14155550123@sms.example.com> today"}, "PHONE"),
        ({"internetMessageId": "<+447911123456@sms.example.co.uk>"}, "PHONE"),
        ({"to": f"{CARD}@gmail.com"}, "CREDIT_CARD"),  # 16 digits: a 'hex run' machine sign
        ({"message_id": "<DE89370400440532013000@bank.example.com>"}, "IBAN"),
    ],
)
def test_validated_value_inside_a_kept_identifier_is_masked(
    masker: Masker, payload: dict[str, str], data_class: str
) -> None:
    """Finding 1, beyond the red team's cases: whatever kept the address (message-id key,
    wrapping, a machine sign), a card, phone or IBAN in it is masked; the host stays."""
    assert classes(masker, payload) == [data_class], payload
    assert "example" in masked_text(masker, payload) or "gmail" in masked_text(masker, payload)


def test_person_email_with_role_plus_tag_is_kept(masker: Masker) -> None:
    """Finding 5 (high): a person's address with a sub-address tag that is a role word or a hex
    run (``henrietta.vossberg+alerts@gmail.com``, ``…+0123456789abcdef@…``) is taken for a team
    mailbox or a machine id and kept. Gmail, Outlook and most providers deliver ``+tag`` mail to
    the person, so a hostile model adds a tag and mails (or leaks) a person's address with no
    EMAIL finding, no approval."""
    local, domain = PERSON_EMAIL.split("@")
    for tag in ("alerts", "support", "team", "0123456789abcdef"):
        address = f"{local}+{tag}@{domain}"
        assert classes(masker, {"to": address}) == ["EMAIL"], address
        assert "EMAIL" in classes(masker, {"body": f"please forward it to {address} today"})


def test_person_name_in_a_team_list_or_a_wrapped_tag_is_an_email(masker: Masker) -> None:
    """Finding 5, beyond the red team's cases: a tag is judged apart from the mailbox in a
    wrapped address too, and a team-list suffix does not make a first name a team's."""
    for address in (
        "<henrietta.vossberg+0123456789abcdef@gmail.com>",
        "henrietta-alerts@gmail.com",
        "henrietta.vossberg.oncall@outlook.com",
    ):
        assert "EMAIL" in classes(masker, {"body": f"write to {address} please"}), address
    # what the rules were written for stays kept
    for address in (
        "support+billing@acme.example",
        "db-alerts@acme.example",
        "team-payments@acme.example",
    ):
        assert classes(masker, {"to": address}) == [], address


def test_message_id_context_keeps_a_person_email(masker: Masker) -> None:
    """Finding 6 (medium): under a message-id key (``references``, ``uid``, ``message_id``) or
    after a ``UID:``/``References:`` line in free text, any address is kept, even an unwrapped
    person's address with no machine sign. Impact: a model writes ``"References: <address>"``
    in an email body, or puts the address under a ``references`` argument, and the EMAIL rule
    never sees it."""
    for payload in (
        {"references": PERSON_EMAIL},
        {"uid": PERSON_EMAIL},
        {"body": f"Hello,\nUID: {PERSON_EMAIL}\nthanks"},
        {"body": f"Subject: hi\nReferences: {PERSON_EMAIL}, olaf.brenneke@yahoo.com"},
    ):
        assert "EMAIL" in classes(masker, payload), payload


def test_message_id_context_needs_a_second_sign(masker: Masker) -> None:
    """Finding 6, beyond the red team's cases: a message-id key or header keeps an address only
    with '<…>' around it or a machine-made local part; a person's address, with a year in it
    or not, is an email there too."""
    for payload in (
        {"message_id": "olaf.brenneke@yahoo.com"},
        {"iCalUId": "olaf.brenneke1984@yahoo.com"},
        {"body": f"In-Reply-To: {PERSON_EMAIL}"},
    ):
        assert "EMAIL" in classes(masker, payload), payload
    for payload in (
        {"message_id": "<ticket-4821@helpdesk.example.com>"},
        {"body": "UID:q7m2kx9wrt4vz8pl3nd6hcy0fb@google.com"},
        {"body": "Message-ID: <a1b2c3@relay.example.net>"},
    ):
        assert classes(masker, payload) == [], payload


# --- cards under id keys -------------------------------------------------------------------------


def test_card_under_an_id_word_is_kept(masker: Masker) -> None:
    """Finding 2 (high): the id-key veto on cards takes any key or keyed cell with an id word
    (ref, ticket, order, serial, txn…), also inside free text, also a card printed in groups of
    four (no order id is written '4111 1111 1111 1111'), also an integer. Impact: a hostile model
    writes ``ref: <card>`` in a message body (or ``{"ref": <card>}``) and the card is kept;
    ``{"name": "order_id", "value": card}`` is masked, so the veto is not even consistent."""
    for payload in (
        {"body": f"ref: {CARD_SPACED}"},
        {"body": f"Hi,\nTicket: {CARD_SPACED}\nthanks"},
        {"body": f"Please charge order_id={CARD} today"},
        {"transaction_id": CARD_SPACED},
        {"ref": int(CARD)},
    ):
        assert "CREDIT_CARD" in classes(masker, payload), payload


def test_card_under_a_record_word_or_in_a_sentence_is_a_card(masker: Masker) -> None:
    """Finding 2, beyond the red team's cases: a bare record word ('order', 'ticket', 'payment
    ref') is no id key, and an id-keyed cell inside a sentence is prose, not a record."""
    for payload in (
        {"order": CARD},
        {"ticket": int(CARD)},
        {"payment_ref": CARD},
        {"note": f"Charge it to order_id={CARD}"},
        {"note": f"please use order_id={CARD} for the refund, thanks"},
    ):
        assert "CREDIT_CARD" in classes(masker, payload), payload


# --- already-masked values -----------------------------------------------------------------------


def test_mask_characters_before_a_secret_keep_it(masker: Masker) -> None:
    """Finding 3 (high): `already_masked` takes any value with three mask characters and at most
    six digits for masked, and key context then says nothing. A password, token or client secret
    has no shape of its own, so ``{"password": "***Tr0ub4dor&3horse"}`` is kept whole. Impact: a
    model prefixes three asterisks (or appends ``###``) to a secret under a secret key and the
    SECRET finding (and a ``block`` strategy on it) disappears."""
    for payload in (
        {"password": f"***{SECRET}"},
        {"password": f"{SECRET} ****"},
        {"db_password": "••• kV9pLm2QzR7tYw"},
        {"api_key": "***kVpLmQzRtYwAbCdEfGhIjKlMnOp"},
        {"client_secret": "XXX qKvpLmQz7RtYwAbCdEfGh"},
        # Also (fix of finding 3): a short password, a date of birth, a masked-looking tail.
        {"password": "hunter2x###"},
        {"secret": "#### correct horse battery staple"},
        {"dob": "***02/03/84"},
        {"phone": "+49 151 2345 6789 ***"},
    ):
        assert classes(masker, payload), payload


@pytest.mark.parametrize(
    "payload",
    [
        {"password": "********"},
        {"password": "•••• ab12"},
        {"dob": "**/**/1984"},
        {"ssn": "***-**-1931"},
        {"phone": "+49 *** *** 4567"},
        {"iban": "DE** **** **** **** **30 00"},
        {"api_key": "****************wxyz"},
    ],
)
def test_values_masked_before_stay_kept(masker: Masker, payload: dict[str, str]) -> None:
    """The other side of finding 3: a value that shows only a few characters is masked already."""
    assert classes(masker, payload) == [], payload


# --- label/value pairs ---------------------------------------------------------------------------


def test_label_text_holding_data_is_kept_as_a_key_name(masker: Masker) -> None:
    """Finding 4 (high): in a label/value pair the label leaf is kept (SAFE, 0.92) whenever
    `classify_key` finds a key word anywhere in it, and the label may be 64 characters of
    anything. So ``{"name": "phone +1 415 555 0123", "value": "n/a"}`` keeps the phone (0.85),
    and names, addresses, dates of birth and passwords in the label are kept the same way.
    Impact: any tool schema with a name/value list (HAR headers, env lists, tags, form fields)
    carries data past the masker in the 'label'."""
    cases = {
        "phone +1 415 555 0123": "PHONE",
        "Patient Henrietta Vossberg": "PERSON",
        "Address 12 Baker Street London": "ADDRESS",
        "dob 1984-03-02": "DATE_OF_BIRTH",
        f"password {SECRET}": "SECRET",
    }
    for label, data_class in cases.items():
        value = masked_text(masker, {"name": label, "value": "n/a"})
        assert label not in value, (label, data_class, value)
    # Also (fix of finding 4) under a label key that is itself kept ('type'), and in env lists.
    for pair in (
        {"type": "phone +1 415 555 0123", "value": "n/a"},
        {"key": "password Tr0ub4dor&3horse", "value": "x"},
        {"label": "Card 4111 1111 1111 1111", "value": "x"},
    ):
        assert classes(masker, pair), pair


@pytest.mark.parametrize(
    "label",
    ["Date Of Birth", "Doğum Tarihi", "First Name", "Nachname", "Card number", "REDIS_PASSWORD"],
)
def test_labels_that_are_key_names_stay(ner_masker: Masker, label: str) -> None:
    """The other side of finding 4: a label that is a key name is kept, also with NER on."""
    pair = {"name": label, "value": "n/a"}
    assert ner_masker.mask(pair).value == pair


# --- sibling keys --------------------------------------------------------------------------------


def test_thing_sibling_hides_a_person_key(ner_masker: Masker) -> None:
    """Finding 7 (medium): a 'thing' sibling key (region, currency, sku, kind…) turns any PERSON
    key in the same mapping SAFE, checked before the key's own strength and before a person
    parent. ``{"patient_name": …, "region": "eu"}``, ``{"cardholder_name": …, "currency": …}``
    (every payment payload) and ``users[].name`` beside ``region`` keep the name even with NER
    on. Impact: a model adds ``"region": "eu"`` to hide a name; real payment and patient records
    leak names with no help."""
    name = "Henrietta Vossberg"
    for payload in (
        {"patient_name": name, "region": "eu"},
        {"cardholder_name": name, "currency": "EUR"},
        {"users": [{"name": name, "region": "eu-west-1"}]},
        {"contact": name, "kind": "lead"},
        # Also a thing parent, or a person nearer than the thing (fix of finding 7).
        {"items": [{"seller": {"name": name}, "sku": "A-1"}]},
        {"tags": [{"key": "Owner", "value": name}]},
        {"products": [{"assignee_name": name}]},
        {"project": {"owner": {"name": name, "kind": "user"}}},
    ):
        assert name not in masked_text(ner_masker, payload), payload


def test_thing_context_still_keeps_a_product_name(masker: Masker) -> None:
    """The other side of finding 7: names that could be anything's stay lowered."""
    for payload in (
        {"name": "Lumen Desk Lamp", "sku": "LDL-2", "region": "eu"},
        {"product_name": "Lumen Desk Lamp", "currency": "EUR"},
        {"user": {"repos": [{"name": "dotfiles", "license": "MIT"}]}},
        {"Tags": [{"Key": "Owner", "Value": "team-ledger"}]},
    ):
        assert masker.mask(payload).value == payload, payload


# --- NER windows ---------------------------------------------------------------------------------


def test_initial_and_surname_no_longer_reach_ner(ner_masker: Masker) -> None:
    """Finding 8 (medium): NER now runs only around runs of capitalised words, and a word ending
    in '.' ends a run, so an initial and a surname ('O. Lindqvist', 'J.R. Okonkwo-Bassey', a cc
    list of 'T. Okonkwo; K. Wrzesniewska') is no run and never reaches the model. Before commit
    5ae4486 all three were masked as PERSON. Impact: names written the way signatures, cc lines
    and tickets write them leak; a model can also abbreviate a first name to hide one."""
    for text in (
        "Please ask O. Lindqvist about the invoice today",
        "approved by J.R. Okonkwo-Bassey on friday",
        "cc: T. Okonkwo; K. Wrzesniewska; B. Haraldsdottir",
    ):
        assert "PERSON" in classes(ner_masker, {"note": text}), text


# --- cost ----------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("key", "other"),
    [("name_{}", "sku"), ("contact_{}", "email"), ("Patient name {}", "region")],
)
def test_many_person_keys_in_one_mapping_are_linear(key: str, other: str) -> None:
    """Finding 9 (high, DoS): for every PERSON-keyed value, key context lowercases the whole
    sibling set and `_person_siblings` calls `classify_key` on every sibling: O(keys²) per
    mapping. 6,000 keys ``name_i`` (about 110 KB of JSON) cost minutes. Worse, the deadline
    does not bound it: with ``deadline_seconds=3``, 6,000 keys returned `MaskingTimeout` only
    after 27 s (the work sits between deadline checks). Impact: an untrusted tool output (or a
    big legitimate export) stalls the guard far past its deadline. Linear code needs ~1 s."""
    payload: dict[str, Any] = {key.format(i): "widget" for i in range(6_000)}
    payload[other] = "a"
    masker = Masker(hash_key=b"k" * 32, ner=False, deadline_seconds=5)
    started = time.perf_counter()
    with contextlib.suppress(MaskingTimeout):
        masker.mask(payload)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"6,000 name keys in one mapping took {elapsed:.1f} s (deadline 5 s)"
    masker.mask(payload)  # and it finishes within the deadline


@pytest.mark.timeout(60)
def test_phone_cues_before_invalid_numbers_are_cheap() -> None:
    """Finding 10 (low, DoS): after each phone cue the national-phone detector parses the next
    number with phonenumbers once per region of the cue (37 for 'tel'); a number valid nowhere
    ('0 0 0 0 0 0 0') pays them all. 250 KB of ``tel 0 0 0 0 0 0 0`` costs about 18 s, 1 MB over
    a minute, so the call times out and is denied. Impact: a cheap stall of the guard by any
    text source. Fixed: verdicts cached, parses per call capped; generous bound: under 5 s."""
    unit = "tel 0 0 0 0 0 0 0 "
    text = unit * (250_000 // len(unit))
    masker = Masker(hash_key=b"k" * 32, ner=False, deadline_seconds=10)
    started = time.perf_counter()
    masker.mask({"note": text})
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"250 KB of phone cues took {elapsed:.1f} s"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("one_string", [True, False])
def test_phone_cues_before_distinct_numbers_are_cheap(one_string: bool) -> None:
    """Finding 10, the cache defeated: every number differs, in one string or one per string.
    The parse budget still bounds the work, and past it a number after a cue is still a phone
    (fails closed): the real one at the end is masked."""
    notes = [f"tel 0 0 0 0 {i % 1000:03d} {i // 1000}" for i in range(14_000)]
    notes.append("tel 0612 34 56 78")
    payload: Any = {"note": "\n".join(notes)} if one_string else {"notes": notes}
    masker = Masker(hash_key=b"k" * 32, ner=False, deadline_seconds=10)
    started = time.perf_counter()
    out = masked_text(masker, payload)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"14,000 distinct phone cues took {elapsed:.1f} s"
    assert "0612 34 56 78" not in out
