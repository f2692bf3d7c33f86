"""Names in chat transcripts and letters: speaker labels that are names, the answer to a name
question in many languages, a turn that is only a name, greetings and thanks before a name.
Role labels ('klient', 'Kunde'), HTTP headers, log levels and product names stay."""

from __future__ import annotations

import pytest

from tests.masking._helpers import destroyed, leaks


def test_named_speaker_beside_a_role(fast):
    text = (
        "Henrike: Guten Tag, wie kann ich helfen?\n"
        "Kunde: Meine Bestellung ist nicht angekommen.\n"
        "Henrike: Das tut mir leid.\n"
    )
    assert leaks(fast, text, ["Henrike"]) == []
    assert destroyed(fast, text, ["Kunde:"]) == []


def test_two_named_speakers_repeating(fast):
    text = "[10:01] Oskarsson: hej\n[10:02] Liisa: moi\n[10:03] Oskarsson: ok\n[10:04] Liisa: ok\n"
    assert leaks(fast, text, ["Oskarsson", "Liisa"]) == []


@pytest.mark.parametrize(
    ("question", "answer", "name"),
    [
        ("Met wie spreek ik?", "Roosmarijn", "Roosmarijn"),
        ("Com quem eu falo?", "gustavo albuquerque", "gustavo albuquerque"),
        ("Z kim rozmawiam?", "bronisława", "bronisława"),
        ("Jakie jest pani nazwisko?", "wiśniewska", "wiśniewska"),
        ("Kan du bokstavera efternamnet?", "Lindqvist", "Lindqvist"),
        ("Mi scandisce il cognome?", "Bellucci", "Bellucci"),
        ("Soyadınız?", "karataş", "karataş"),
        ("¿Me dice su nombre completo?", "soy 欧阳娜, llamé ayer", "欧阳娜"),
        ("Vem talar jag med?", "det är Torbjörn Ek, jag ringde igår", "Torbjörn Ek"),
        ("Ваша фамилия?", "кузнецова", "кузнецова"),  # 'фамил' read folded, as the text is
        # 'nom de …' asks about a thing, except when a person word follows.
        ("Quel est votre nom de famille ?", "c'est dupont-moreau", "dupont-moreau"),
    ],
)
def test_answer_to_a_name_question(fast, question, answer, name):
    text = f"agent: {question}\nklient: {answer}\nagent: Dziękuję.\n"
    assert leaks(fast, text, [name]) == []


def test_a_question_about_a_thing_is_not_a_name_question(fast):
    text = "user: What is the name of the report?\nassistant: quarterly summary\nuser: thanks\n"
    assert destroyed(fast, text, ["quarterly summary", "thanks"]) == []


def test_a_turn_that_is_only_a_name(fast):
    text = "agent: Bestelling 5521 is verzonden.\nklant: Wilhelmina\nklant: ok\nagent: Done.\n"
    assert leaks(fast, text, ["Wilhelmina"]) == []
    assert destroyed(fast, text, ["Done.", "klant: ok"]) == []


@pytest.mark.parametrize(
    ("letter", "name"),
    [
        ("Beste heer Dijkgraaf,\n\nIk bel over mijn factuur.", "Dijkgraaf"),
        ("Geachte mevrouw Oosterhuis,\n\nBedankt.", "Oosterhuis"),
        ("Liebe/r Annegret,\n\nanbei die Unterlagen.", "Annegret"),
        ("Buenas tardes Yolotl,\n\nle escribo por el pedido.", "Yolotl"),
        ("Vážená paní Kratochvílová,\n\nděkujeme.", "Kratochvílová"),
        ("Dear Mr 欧阳,\n\nthanks for the call.", "欧阳"),
        ("Hello Seo-yeon-ssi,\n\nyour parcel left today.", "Seo-yeon"),
        ("Ticket closed. grazie Ngozi, a presto.", "Ngozi"),
    ],
)
def test_greeting_and_thanks(fast, letter, name):
    assert leaks(fast, letter, [name]) == []


@pytest.mark.parametrize(
    "text",
    [
        "HTTP/1.1 200 OK\nContent-Type: text/html\nSet-Cookie: a=1\nSet-Cookie: b=2\n"
        "Accept: */*\nAccept: text/plain\nHost: api.example.org\n",
        "INFO: started\nWARN: slow disk\nINFO: done\nERROR: failed\n",
        "Q: How do I rotate keys?\nA: Use the console.\nQ: And then?\nA: Wait.\n",
        "Dear Colleagues,\n\nthe rollout is done.\n",
    ],
)
def test_not_transcripts_stay(fast, text):
    out_lines = [ln.split(":")[0] for ln in text.splitlines() if ":" in ln]
    assert destroyed(fast, text, out_lines + ["Colleagues"] * ("Colleagues" in text)) == []


def test_lower_case_name_is_spread_capitalised(fast):
    text = (
        "agent: Goedemiddag.\n"
        "klant: ik ben femmie brouwer, klant sinds 2019.\n"
        "agent: Dag Femmie, waarmee kan ik helpen?\n"
    )
    assert leaks(fast, text, ["femmie brouwer", "Femmie"]) == []
