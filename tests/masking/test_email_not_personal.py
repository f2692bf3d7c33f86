"""Things shaped like email addresses that are not a person's: message ids, calendar UIDs,
Graph and Gerrit ids, ARNs, team mailboxes. Masking them only costs the model context."""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker
from guardrails_plugin.masking.detectors.identifiers import IdentifierDetector
from guardrails_plugin.masking.detectors.mailbox import ROLE_WORDS, is_role_mailbox
from guardrails_plugin.masking.detectors.patterns import PatternDetector


def _emails(masker: Masker, value: object) -> list[str]:
    return [f.data_class for f in masker.scan(value) if f.data_class == "EMAIL"]


@pytest.mark.parametrize(
    "text",
    [
        "Message-ID: <CAH7x=Qm4vB+0pLk3Ww9ZrT_eY@mail.gmail.com>",
        "In-Reply-To: <PH0PR11MB4965C1D2E3F4A5B6@PH0PR11MB4965.namprd11.prod.outlook.com>",
        "References: <a1b2c3d4.5e6f@relay.example.net> <98f7e6d5@relay.example.net>",
        "UID:5b0d7e2c-41aa-4f0e-9c3d-7a6b5e4d3c2f@cal.example.org",
        "UID:20250611T081500Z-48213@cal.example.org",
        "see <0c9e1f4a-2b3d-4e5f-8a7b-6c5d4e3f2a1b@mx.example.org> in the thread",
        "Change-Id: I5a0f3c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f",
        # numeric ids that validate as nothing (no Luhn, no phone) are kept whole
        "Message-ID: <20250611081500.48213@mx.example.org>",
        "see <4111111111111112@pay.example.com> in the thread",
    ],
)
def test_message_ids_are_not_emails(fast: Masker, text: str):
    assert not _emails(fast, text)
    assert fast.mask(text).value == text


def test_id_keys(fast: Masker):
    payload = {
        "message_id": "<CAH7x=Qm4vB+0pLk3Ww9ZrT_eY@mail.gmail.com>",
        "internetMessageId": "<SN6PR04MB4301A1B2C3@SN6PR04MB4301.namprd04.prod.outlook.com>",
        "iCalUId": "040000008200E00074C5B7101A82E0080000000031@example.com",
        "id": "AAMkADk0ZTRmNzQ1LTc4YjctNDcwMC05NzQ4LTYzOTVmMDBhMWY2NQBGAAA=",
        "conversationId": "AAQkADk0ZTRmNzQ1LTc4YjctNDcwMC05NzQ4LTYzOTVmMDBhMWY2NQAQAA==",
    }
    assert fast.mask(payload).value == payload


def test_a_person_in_an_id_key_is_still_masked(fast: Masker):
    assert _emails(fast, {"id": "signe.halvorsen@example.no"})


@pytest.mark.parametrize(
    "text",
    [
        "arn:aws:iam::210987654321:user/ola.nordmann",
        "arn:aws:iam::210987654321:role/service-role/Lambda-Exec",
        "arn:aws:sts::210987654321:assumed-role/Admin/Ola.Nordmann",
        "arn:aws:s3:::bucket-name/reports/2025/Q1.csv",
    ],
)
def test_arns_are_kept_whole(masker: Masker, text: str):
    assert masker.mask({"resource": text}).value == {"resource": text}
    assert masker.mask(f"Denied for {text} today").value == f"Denied for {text} today"


def test_email_inside_an_arn_is_still_masked(fast: Masker):
    text = "arn:aws:sts::210987654321:assumed-role/Dev/signe.halvorsen@example.no"
    out = fast.mask(text).value
    assert out == "arn:aws:sts::210987654321:assumed-role/Dev/<EMAIL_1>"


@pytest.mark.parametrize(
    "address",
    [
        "customer-care@shop.example",
        "hr-onboarding@corp.example",
        "dmarc-reports@corp.example",
        "team-payments@corp.example",
        "db-alerts@corp.example",
        "noreply@corp.example",
        "no-reply@corp.example",
        "billing@corp.example",
        "postmaster@corp.example",
        "abuse@corp.example",
        "security@corp.example",
        "it.helpdesk@corp.example",
    ],
)
def test_team_mailboxes_are_kept(fast: Masker, address: str):
    text = f"Write to {address} for help."
    assert fast.mask(text).value == text


@pytest.mark.parametrize(
    "address",
    [
        "anna.kowalska@corp.example",
        "jkowalski@corp.example",
        "ingrid.solberg+news@corp.example",
        "mehmet_yilmaz84@corp.example",
    ],
)
def test_personal_mailboxes_are_masked(fast: Masker, address: str):
    assert _emails(fast, f"Write to {address} for help.")


def test_role_words_are_a_setting():
    assert "support" in ROLE_WORDS and is_role_mailbox("customer-care")
    assert not is_role_mailbox("anna.kowalska")
    # An empty vocabulary turns the exemption off: every mailbox is masked.
    strict = IdentifierDetector(role_words=frozenset())
    masker = Masker(detectors=[PatternDetector(), strict], hash_key=b"k" * 32)
    assert masker.mask("ask billing@corp.example").value == "ask <EMAIL_1>"


@pytest.mark.parametrize(
    "address",
    [
        "kundendienst@brauhaus-weide.de",
        "servicio.al.cliente@ferreteria-sol.es",
        "atendimento@padaria-lua.com.br",
        "klantendienst@fietsenmaker.nl",
        "yardim@kahve-evi.com.tr",
        "asiakaspalvelu@saunatalo.fi",
        "obsluga.klienta@piekarnia.pl",
    ],
)
def test_team_mailboxes_in_other_languages_kept(fast: Masker, address: str) -> None:
    text = f"Schreiben Sie an {address} oder an ingrid.falk@posteo.de"
    out = fast.mask(text).value
    assert address in out and "ingrid.falk" not in out
