"""Key names in languages other than English: the words for name, surname, address and street
that CSV headers, form fields and API objects use across Europe and beyond, and the keys written
in other scripts (이름, 氏名, фамилия).

Kept apart from `keys.py`, whose vocabulary is English, so each list reads as one language
family; `keys.classify_key` consults both. Keys are matched after `fold_word` has folded them
('Straße' → 'strasse', 'příjmení' → 'prijmeni', 'soyadı' → 'soyadi').
"""

from __future__ import annotations

import unicodedata

__all__ = ["INTL_LABEL_WORDS", "SCRIPT_KEYS", "address_compound", "fold_word", "strip_accents"]

# Letters NFKD does not take apart.
_SPECIAL = str.maketrans(
    {"ß": "ss", "ẞ": "SS", "ł": "l", "Ł": "L", "ı": "i", "ø": "o", "Ø": "O", "æ": "ae",
     "Æ": "Ae", "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "œ": "oe", "Œ": "Oe"}
)  # fmt: skip


def strip_accents(text: str) -> str:
    """``text`` with accents and special Latin letters folded to ASCII, case kept; other scripts
    kept too ('生年月日', 'фамилия'). Unlike the masker's text fold (`masking.normalize`), which
    maps look-alike letters of other scripts to Latin against evasion, key words keep their
    script so the vocabularies in other scripts still match."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_word(text: str) -> str:
    """Lower case without accents: 'Fødselsnummer' → 'fodselsnummer', 'Þórunn' → 'thorunn'."""
    return strip_accents(text).lower()


_P, _A = "PERSON", "ADDRESS"
# word -> (label, strong). A word that also names things (nom, nome, naam) is weak: the value
# must still read as a name.
INTL_LABEL_WORDS: dict[str, tuple[str, bool]] = {
    # given / family names
    "vorname": (_P, True),
    "nachname": (_P, True),
    "familienname": (_P, True),
    "rufname": (_P, True),
    "geburtsname": (_P, True),
    "prenom": (_P, True),
    "prenoms": (_P, True),
    "nomdefamille": (_P, True),
    "apellido": (_P, True),
    "apellidos": (_P, True),
    "nombres": (_P, True),
    "cognome": (_P, True),
    "sobrenome": (_P, True),
    "apelido": (_P, True),
    "voornaam": (_P, True),
    "achternaam": (_P, True),
    "voorletters": (_P, True),
    "tussenvoegsel": (_P, True),
    "imie": (_P, True),
    "nazwisko": (_P, True),
    "imiona": (_P, True),
    "prijmeni": (_P, True),
    "krestni": (_P, True),
    "priezvisko": (_P, True),
    "soyad": (_P, True),
    "soyadi": (_P, True),
    "soyisim": (_P, True),
    "isim": (_P, False),
    "adi": (_P, False),  # Turkish "Adı" (given name); "Ad" alone is judged beside "Soyad"
    "fornamn": (_P, True),
    "efternamn": (_P, True),
    "fornavn": (_P, True),
    "etternavn": (_P, True),
    "efternavn": (_P, True),
    "mellemnavn": (_P, True),
    "etunimi": (_P, True),
    "sukunimi": (_P, True),
    "vezeteknev": (_P, True),
    "keresztnev": (_P, True),
    "prenume": (_P, True),
    "nume": (_P, False),
    "nombre": (_P, False),
    "nom": (_P, False),
    "nome": (_P, False),
    "naam": (_P, False),
    "navn": (_P, False),
    "namn": (_P, False),
    "nimi": (_P, False),
    "jmeno": (_P, False),
    "meno": (_P, False),
    "ime": (_P, False),
    "prezime": (_P, True),
    "nombrecompleto": (_P, True),
    "nomcomplet": (_P, True),
    "nomecompleto": (_P, True),
    "volledigenaam": (_P, True),
    "patient": (_P, False),
    "patiente": (_P, False),
    "paciente": (_P, False),
    "paziente": (_P, False),
    "kunde": (_P, False),
    "cliente": (_P, False),
    "klant": (_P, False),
    "titular": (_P, True),
    "inhaber": (_P, True),
    "kontoinhaber": (_P, True),
    "empfanger": (_P, False),
    "destinataire": (_P, False),
    "destinatario": (_P, False),
    # addresses
    "adresse": (_A, False),
    "adres": (_A, False),
    "adresa": (_A, False),
    "direccion": (_A, False),
    "domicilio": (_A, False),
    "indirizzo": (_A, False),
    "endereco": (_A, False),
    "morada": (_A, False),
    "anschrift": (_A, False),
    "strasse": (_A, True),
    "calle": (_A, True),
    "ulica": (_A, True),
    "ulice": (_A, True),
    "osoite": (_A, False),
    "katuosoite": (_A, True),
    "gatuadress": (_A, True),
    "gateadresse": (_A, True),
    "sokak": (_A, True),
    "cadde": (_A, True),
    "rua": (_A, True),
    "via": (_A, False),
    "straat": (_A, True),
    "postadresse": (_A, False),
}

# Keys in other scripts, matched whole after lower-casing.
SCRIPT_KEYS: dict[str, tuple[str, bool]] = {
    "이름": (_P, True), "성명": (_P, True), "성": (_P, True), "성함": (_P, True),
    "氏名": (_P, True), "名前": (_P, True), "姓": (_P, True), "名": (_P, True),
    "姓名": (_P, True), "名字": (_P, True), "フリガナ": (_P, True), "氏": (_P, True),
    "имя": (_P, True), "фамилия": (_P, True), "отчество": (_P, True), "фио": (_P, True),
    "ім'я": (_P, True), "прізвище": (_P, True),
    "όνομα": (_P, True), "επώνυμο": (_P, True), "ονοματεπώνυμο": (_P, True),
    "اسم": (_P, True), "الاسم": (_P, True), "اللقب": (_P, True), "שם": (_P, True),
    "주소": (_A, True), "住所": (_A, True), "地址": (_A, True), "адрес": (_A, True),
    "διεύθυνση": (_A, True), "العنوان": (_A, True), "כתובת": (_A, True),
}  # fmt: skip

# Compound words ending in a word for address: Lieferadresse, woonadres, dodaciadresa.
_ADDRESS_ENDINGS = ("adresse", "adres", "adresa", "anschrift", "address", "direccion")


def address_compound(word: str) -> bool:
    return len(word) > 7 and word.endswith(_ADDRESS_ENDINGS)
