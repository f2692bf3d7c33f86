"""Names announced by the words around them: self-introductions, answers to 'what is your
name?', honorifics and forms of address in many languages, name-ish keys in any language."""

from __future__ import annotations

import pytest

from tests.masking._helpers import destroyed, leaks


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hello, my name is Torvald Engebretsen and I need help", "Torvald Engebretsen"),
        ("hi my name is siobhan o'rourke, order is late", "siobhan o'rourke"),
        ("Guten Tag, ich heiße Wiebke Hansmeier und habe eine Frage.", "Wiebke Hansmeier"),
        ("Bonjour, je m'appelle Gaëlle Trouvé, j'ai un souci.", "Gaëlle Trouvé"),
        ("Hola, me llamo Itziar Goikoetxea y quiero cambiar mi pedido", "Itziar Goikoetxea"),
        ("Buongiorno, mi chiamo Ornella Scarpazza.", "Ornella Scarpazza"),
        ("Goedemiddag, mijn naam is Femke Oudshoorn.", "Femke Oudshoorn"),
        ("Dzień dobry, nazywam się Grzegorz Brzęczyszczykiewicz.", "Grzegorz Brzęczyszczykiewicz"),
        ("Dobrý den, jmenuji se Vojtěch Křivánek a mám dotaz.", "Vojtěch Křivánek"),
        ("Merhaba, adım Gülşen Karaosmanoğlu, siparişim gelmedi.", "Gülşen Karaosmanoğlu"),
        ("Hej, jag heter Sigvard Lindqvist och har en fråga.", "Sigvard Lindqvist"),
        ("Hei, mitt navn er Ragnhild Fjeldstad.", "Ragnhild Fjeldstad"),
        ("Xin chào, tôi tên là Nguyễn Thị Hồng Nhung.", "Nguyễn Thị Hồng Nhung"),
        ("Hi, I'm Eirik Solbakken from the Oslo office.", "Eirik Solbakken"),
        ("This is Radomír Švec calling about invoice 4471.", "Radomír Švec"),
        ("Γεια σας, με λένε Σταυρούλα Κωνσταντοπούλου.", "Σταυρούλα Κωνσταντοπούλου"),
        # Capitalised, the cue folds otherwise ('Με' reads 'Mε'): cues are folded in every case.
        ("Με λένε Παρασκευή Χατζηγεωργίου.", "Παρασκευή Χατζηγεωργίου"),
        ("Name: Þorbjörg Hallgrímsdóttir", "Þorbjörg Hallgrímsdóttir"),
    ],
)
def test_self_introductions(fast, text, name):
    assert leaks(fast, text, [name]) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Agent: what's your last name?\nCustomer: Vanderhoeven", "Vanderhoeven"),
        ("Agent: Could I have your full name please?\nUser: marisol quintanilla", "marisol"),
        ("bot: May I have your name?\nme: Kasimir Wróbel", "Kasimir Wróbel"),
        ("Wie ist Ihr Name?\nOttilie Brandstätter", "Ottilie Brandstätter"),
        ("what's your surname? Okonkwo-Baptiste", "Okonkwo-Baptiste"),
        ("What is the name of the account holder? ottoline brackenridge", "brackenridge"),
    ],
)
def test_answers_to_a_name_question(fast, text, name):
    assert leaks(fast, text, [name]) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Sehr geehrte Frau Kleinschmidt, vielen Dank.", "Kleinschmidt"),
        ("Herr Dr. Ostermeier kommt morgen.", "Ostermeier"),
        ("Bitte an Hr. Pfisterer weiterleiten", "Pfisterer"),
        ("Merci, Mme Beauchemin, pour votre patience.", "Beauchemin"),
        ("Le dossier de M. Quesnel est prêt.", "Quesnel"),
        ("Estimada Sra. Echeverría, su pedido llegó.", "Echeverría"),
        ("Gentile Sig.ra Bellandi, la contattiamo", "Bellandi"),
        ("Geachte mevr. Van Wijngaarden, dank u.", "Van Wijngaarden"),
        ("Geachte Dhr. Koopmans,", "Koopmans"),
        ("Szanowna pani Wiśniewska, dziękujemy.", "Wiśniewska"),
        ("Ayşegül Hanım siparişinizi aldık", "Ayşegül"),
        ("Cảm ơn chị Thảo đã liên hệ.", "Thảo"),
        ("Tanaka-san will join the call", "Tanaka"),
        ("김서연 씨, 주문이 접수되었습니다.", "김서연"),
        ("Prof. Lindenstrauss approved the request", "Lindenstrauss"),
    ],
)
def test_honorifics_in_many_languages(fast, text, name):
    assert leaks(fast, text, [name]) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Ingrid, can I speak to your manager about the refund?", "Ingrid"),
        ("Thanks for waiting. Małgorzata, could you confirm the date?", "Małgorzata"),
    ],
)
def test_a_name_addressed_at_the_start_of_a_sentence(fast, text, name):
    assert leaks(fast, text, [name]) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("GET /api/lookup?name=Henrike+Quast&limit=5", "Henrike+Quast"),
        ("https://crm.example/search?first_name=Leopoldine&last_name=Achterberg", "Achterberg"),
        ("/v1/customers?customer=ingvild%20rasmussen&page=2", "ingvild%20rasmussen"),
    ],
)
def test_names_in_query_strings(fast, text, name):
    assert leaks(fast, text, [name]) == []


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        ({"nombre": "Eustaquio", "apellidos": "Zubizarreta Olano"}, "Zubizarreta Olano"),
        ({"nombre": "Eustaquio", "apellidos": "Zubizarreta Olano"}, "Eustaquio"),
        ({"prénom": "Maëlys", "nom": "Lefebvre-Dufour"}, "Lefebvre-Dufour"),
        ({"vorname": "Gottlieb", "nachname": "Wertheimer"}, "Wertheimer"),
        ({"voornaam": "Joost", "achternaam": "Kruijswijk"}, "Kruijswijk"),
        ({"imię": "Bożena", "nazwisko": "Szczepańska"}, "Szczepańska"),
        ({"jméno": "Bohumil", "příjmení": "Hrabal"}, "Hrabal"),
        ({"ad": "Serkan", "soyad": "Yıldırımoğlu"}, "Yıldırımoğlu"),
        ({"이름": "박지훈"}, "박지훈"),
        ({"氏名": "佐々木 優斗"}, "佐々木 優斗"),
        ({"nome": "Ludovica", "cognome": "Trapattoni"}, "Trapattoni"),
        ({"efternamn": "Bergkvist", "förnamn": "Solveig"}, "Bergkvist"),
    ],
)
def test_name_keys_in_other_languages(fast, payload, name):
    assert leaks(fast, payload, [name]) == []


@pytest.mark.parametrize(
    "text",
    [
        "However, the deploy failed at 10:42 and was rolled back.",
        "Yes, I'm sure the job ran twice.",
        "I'm Sorry but the export is not ready.",
        "I am Looking into it now.",
        "Paris, France is the venue; Berlin, Germany the backup.",
        "Fr. 12.03. geschlossen",
        "Sr. Software Engineer, Platform team",
        "M. 12 is the flat number",
        "Please call the helpdesk. Note, the line is busy.",
        "Agent: what's your order number?\nCustomer: 88123-A",
    ],
)
def test_cue_look_alikes_survive(masker, text):
    words = [w.strip(",.;:?") for w in text.split() if w[:1].isupper()]
    kept = [w for w in words if w not in ("I'm", "I")]
    assert destroyed(masker, text, kept) == []


def test_product_under_name_key_survives(fast):
    payload = {
        "items": [
            {"sku": "CH-2231", "name": "Aeron Chair", "price": 1299.0},
            {"sku": "DK-0042", "name": "Jarvis Desk", "price": 649.0},
        ],
        "service": {"name": "payments-api", "kind": "Deployment"},
    }
    assert destroyed(fast, payload, ["Aeron Chair", "Jarvis Desk", "payments-api"]) == []
