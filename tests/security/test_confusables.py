"""Issue 11 #17: look-alike letters beyond Cyrillic and Greek, and combining marks, hid values
from the masker and tool names from deny rules.

The old fold knew a hand map of 56 Cyrillic and Greek letters. Both the masker's detection copy
and the policy's tool-name comparison now go through `guardrails_plugin.confusables`, which folds
with Unicode's confusables data (UTS #39), NFKD, Unicode names and digit values, and drops
combining marks (P12, P15). Legitimate non-Latin text must not become noise: names in Greek,
Cyrillic and Vietnamese are still found, and what is not masked comes back unchanged.
"""

from __future__ import annotations

import pytest

from guardrails_plugin.confusables import HOMOGLYPHS, fold, fold_char
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.types import ToolCall


@pytest.fixture(scope="module")
def fast() -> Masker:
    return Masker(ner=False, hash_key=b"k" * 32)


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker(hash_key=b"k" * 32)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # Mathematical dotless i: NFKC gives Latin 'ı', which only the confusables data reads 'i'.
        ("mail 𝚤van.lopez@example.org now", "mail <EMAIL_1> now"),
        ("mail ana.lopez@example.օrg now", "mail <EMAIL_1> now"),  # Armenian oh
        ("mail ana.ⵏopez@example.org now", "mail <EMAIL_1> now"),  # Tifinagh yan for 'l'
        ("mail ᴊᴏʜɴ@ᴇxᴀᴍᴘʟᴇ.ᴄᴏᴍ now", "mail <EMAIL_1> now"),  # Latin small capitals
        ("key ᎪKIAIOSFODNN7EXᎪMPLE here", "key <API_KEY_1> here"),  # Cherokee A
        ("key ꓮꓗIꓮIOSFODNN7EXꓮMPLE here", "key <API_KEY_1> here"),  # Lisu A and K
        ("ᴘᴀssᴡᴏʀᴅ=Sup3rS3cr3t!x", "ᴘᴀssᴡᴏʀᴅ=<PASSWORD_1>"),  # the key word in small capitals
        ("card ٤٢٤٢ ٤٢٤٢ ٤٢٤٢ ٤٢٤٢ now", "card <CREDIT_CARD_1> now"),  # Arabic-Indic digits
    ],
)
def test_values_hidden_with_look_alikes_are_masked(fast: Masker, text: str, masked: str):
    assert fast.mask(text).value == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # Marks inside a value: the old fold kept them, and masked only the part after them.
        ("mail a\u0301na.lo\u0308pez@example.org now", "mail <EMAIL_1> now"),
        ("card 4\u03052\u03054\u03052 4242 4242 4242 now", "card <CREDIT_CARD_1> now"),  # overline
        ("card 4\u0336242 4242 4\u0336242 4242 now", "card <CREDIT_CARD_1> now"),  # strikethrough
        ("key AKIA\u0337IOSFODNN7\u20ddEXAMPLE\u0489 here", "key <API_KEY_1> here"),
    ],
)
def test_values_hidden_with_combining_marks_are_masked(fast: Masker, text: str, masked: str):
    assert fast.mask(text).value == masked


def test_a_finding_covers_the_original_characters(fast: Masker):
    text = "to ᴊᴏʜɴ@ᴇxᴀᴍᴘʟᴇ.ᴄᴏᴍ, ana\u0301@example.org\u0301!"
    starts_ends = [(f.start, f.end) for f in fast.scan(text)]
    assert [text[s:e] for s, e in starts_ends] == [
        "ᴊᴏʜɴ@ᴇxᴀᴍᴘʟᴇ.ᴄᴏᴍ",
        "ana\u0301@example.org\u0301",
    ]


@pytest.mark.parametrize(
    ("payload", "masked"),
    [
        ({"name": "Γιώργος Παπαδόπουλος"}, {"name": "<PERSON_1>"}),
        ({"customer": {"name": "Иван Петров"}}, {"customer": {"name": "<PERSON_1>"}}),
        ({"name": "Nguyễn Văn An"}, {"name": "<PERSON_1>"}),
        ({"note": "Dear Γιώργος Παπαδόπουλος, καλημέρα."}, {"note": "Dear <PERSON_1>, καλημέρα."}),
        ({"note": "Hello Иван Петров, привет."}, {"note": "Hello <PERSON_1>, привет."}),
        ({"note": "Hi Nguyễn Văn An, xin chào."}, {"note": "Hi <PERSON_1>, xin chào."}),
        ({"note": "Thanks,\nŁukasz Wiśniewski"}, {"note": "Thanks,\n<PERSON_1>"}),
        ({"note": "Hola José García, gracias."}, {"note": "Hola <PERSON_1>, gracias."}),
    ],
)
def test_names_in_other_scripts_are_still_found(masker: Masker, payload, masked):
    assert masker.mask(payload).value == masked


@pytest.mark.parametrize(
    "text",
    [
        "καλημέρα κόσμε, τι κάνεις;",
        "Письмо пришло вчера: всё хорошо, спасибо.",
        "Hôm nay trời đẹp quá, chúng ta đi dạo nhé.",
        "東京都の天気は晴れです。",
        "한국어 문장입니다.",
        "Zoë's naïve café façade, 1½ cups, №5",
    ],
)
def test_ordinary_text_in_other_scripts_is_left_as_it_was(masker: Masker, text: str):
    assert masker.mask({"note": text}).value == {"note": text}


def test_letters_fold_to_letters_and_digits_to_digits():
    # Cyrillic З and б are listed as looking like 3 and 6: a name must stay a word.
    assert fold("Зоя бы") == "Зoя бы"
    assert fold_char("٤") == "4" and fold_char("ﬁ") == "fi" and fold_char("\u0301") == ""
    assert fold("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ αοριν") == "ABEZHIKMNOPTYX aopiv"
    assert "в".translate(HOMOGLYPHS) == "b"  # a small capital B: lower case stays lower case


DENY = """
version: 1
defaults: {effect: allow}
rules:
  - id: no-drop
    match: {tool: delete_db}
    effect: deny
"""


@pytest.mark.parametrize(
    "tool",
    [
        "ᴅᴇʟᴇᴛᴇ_ᴅʙ",  # Latin small capitals
        "deǀete_db",  # Latin letter dental click for 'l'
        "deⵏete_db",  # Tifinagh yan
        "delete_dƄ",  # Latin tone six
        "ꓒELETE_DB",  # Lisu
        "delete_ᏧB",  # Cherokee
        "de\u0301lete_db",  # combining acute (NFKC composes it into 'é')
        "d\u0336e\u0336lete_db",  # combining strikethrough (NFKC keeps it)
    ],
)
def test_a_deny_rule_matches_look_alike_tool_names(tool: str):
    """Issue 11 #17: each of these names slipped past a deny rule on delete_db."""
    decision = Policy.from_string(DENY).evaluate(ToolCall(tool, {}))
    assert decision.rule_id == "no-drop" and decision.effect.value == "deny"


@pytest.mark.parametrize("tool", ["dеlete_db", "ԁelete_db", "deӏete_db", "𝐝𝐞𝐥𝐞𝐭𝐞_𝐝𝐛"])
def test_the_old_hand_map_cases_still_match(tool: str):
    assert Policy.from_string(DENY).evaluate(ToolCall(tool, {})).rule_id == "no-drop"


def test_other_tool_names_still_do_not_match():
    policy = Policy.from_string(DENY)
    for tool in ("delete_dbs", "delete_cb", "undelete_db", "Зelete_db"):
        assert policy.evaluate(ToolCall(tool, {})).rule_id is None, tool
