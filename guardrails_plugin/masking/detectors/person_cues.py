"""Person names announced by the words around them, in many languages: self-introductions
("my name is", "ich heiße", "je m'appelle", "nazywam się", "adım"), the answer to "what is your
name?" in a chat transcript, honorifics before or after a name (Frau, Mme, Sra., Dhr., pani,
chị, Hanım, -san, 씨) and a known first name addressed at the start of a sentence
("Ingrid, can I…").

A cue is a convention of how people talk, not a list of names, so it finds names no lexicon or
model knows, in any script. Cues are written as people type them and folded like the text the
detectors read (accents undone, look-alike letters mapped), so 'λένε' matches its folded form.

Linear time: every pattern starts at a cue word and reads a bounded number of bounded words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from guardrails_plugin.masking.deadline import checkpoint_long
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.detectors.lexicon import first_names, product_follows
from guardrails_plugin.masking.normalize import fold
from guardrails_plugin.masking.spans import Span

__all__ = ["PersonCueDetector", "folded_forms", "names_a_thing"]

_W = r"[^\W\d_][^\W\d_'’]{0,30}(?:-[^\W\d_][^\W\d_'’]{0,30})?"  # one name word, any script


def folded_forms(phrase: str) -> set[str]:
    """A cue as the detectors read it: folded, as written, capitalised and in capitals. Folding
    maps a capital to a Latin look-alike where the small letter has none ('Με' reads 'Mε', 'με'
    stays), so a case-insensitive match of the folded phrase alone misses the other forms."""
    forms = (phrase, phrase[:1].upper() + phrase[1:], phrase.upper())
    return {fold(form).text for form in forms}


def _cues(words: str) -> str:
    """An alternation of cue phrases (one per line), folded as the text is, blanks flexible."""
    phrases = {f for p in words.strip().splitlines() if p.strip() for f in folded_forms(p.strip())}
    parts = sorted((re.escape(p).replace(r"\ ", r"[ \t]+") for p in phrases), key=len)
    return "(?:" + "|".join(reversed(parts)) + ")"


# "I am called / my name is X": the words after are a name, capitalised or not.
_INTRO = _cues("""
    my name is
    my name's
    my full name is
    my first name is
    my last name is
    my surname is
    the name is
    name's
    ich heiße
    ich heisse
    mein name ist
    mein name lautet
    mein nachname ist
    mein vorname ist
    je m'appelle
    je m’appelle
    mon nom est
    mon nom c'est
    mon prénom est
    me llamo
    mi nombre es
    mi apellido es
    mi chiamo
    il mio nome è
    il mio cognome è
    meu nome é
    me chamo
    mijn naam is
    ik heet
    nazywam się
    mam na imię
    moje nazwisko to
    jmenuji se
    jmenuju se
    moje jméno je
    benim adım
    adım
    ismim
    jag heter
    mitt namn är
    jeg heter
    jeg hedder
    mitt navn er
    mit navn er
    nimeni on
    tôi tên là
    tên tôi là
    tên của tôi là
    με λένε
    ονομάζομαι
    το όνομά μου είναι
    mă numesc
    numele meu este
    a nevem
    nama saya
    меня зовут
    моя фамилия
""")
# "I'm X / this is X": a name only when it is capitalised and reads as one (see _weak_ok).
_SELF = _cues("""
    I'm
    I’m
    I am
    this is
    it's
    ich bin
    hier ist
    hier spricht
    je suis
    c'est
    soy
    sono
    ik ben
    jestem
    jsem
    sou
    tôi là
""")
_INTRO_RE = re.compile(rf"(?i)(?<![\w'’]){_INTRO}[ \t]*+:?[ \t]*+")
_SELF_RE = re.compile(rf"(?<![\w'’])(?i:{_SELF})[ \t]++")
# Questions asking for a name; the answer follows on the same line or the next one.
_QUESTION = re.compile(
    r"(?i)(?:what(?:'s|’s|[ \t]+is)[ \t]+(?:your|the)[ \t]+(?:full[ \t]+|first[ \t]+|last[ \t]+|"
    r"given[ \t]+|family[ \t]+|sur)?name|(?:may|can|could)[ \t]+i[ \t]+(?:have|get|take|ask)"
    r"[ \t]+(?:your|the)[ \t]+(?:full[ \t]+|first[ \t]+|last[ \t]+)?(?:sur)?name"
    r"|(?:your|the)[ \t]+(?:full[ \t]+|first[ \t]+|last[ \t]+)?(?:sur)?name"
    r"[ \t]*(?:please)?[ \t]*\?"
    r"|who[ \t]+am[ \t]+i[ \t]+(?:speaking|talking)[ \t]+(?:to|with)"
    r"|wie[ \t]+(?:ist|lautet)[ \t]+ihr[ \t]+(?:vor|nach)?name|wie[ \t]+hei(?:ss|ß)en[ \t]+sie"
    r"|(?:quel[ \t]+est|c'est[ \t]+quoi)[ \t]+votre[ \t]+(?:nom|prenom)"
    r"|comment[ \t]+vous[ \t]+appelez|vous[ \t]+vous[ \t]+appelez"
    r"|cual[ \t]+es[ \t]+su[ \t]+(?:nombre|apellido)|como[ \t]+se[ \t]+llama"
    r"|come[ \t]+si[ \t]+chiama|qual[ \t]+e[ \t]+il[ \t]+suo[ \t]+(?:nome|cognome)"
    r"|wat[ \t]+is[ \t]+uw[ \t]+(?:achter|voor)?naam|hoe[ \t]+heet[ \t]+u"
    r"|jak[ \t]+sie[ \t]+pan[i]?[ \t]+nazywa|jak[ \t]+se[ \t]+jmenujete"
    r"|adiniz[ \t]+nedir|isminiz[ \t]+nedir"
    r"|vad[ \t]+heter[ \t]+du|hva[ \t]+heter[ \t]+du|hvad[ \t]+hedder[ \t]+du)"
    r"[^\n?]{0,40}\??[ \t]*"
)
_SPEAKER = re.compile(r"[ \t]*(?:\[[^\]\n]{1,40}\][ \t]*)?(?:[\w .-]{1,30}:[ \t]*)?")
_FILLER = re.compile(
    r"(?i)(?:sure|yes|yeah|ok|okay|of course|it'?s|it is|that'?s|that is|c'est|es|ist|"
    r"my name is|i'?m)[ \t]*[,:]?[ \t]+"
)
# Honorifics before a name. 'M.' and 'Fr.' need a capitalised letter word after them;
# Vietnamese kinship terms are lower case and come before a given name.
_BEFORE = _cues("""
    Herr
    Frau
    Hr.
    Fr.
    Hrn.
    Mr
    Mr.
    Mrs
    Mrs.
    Ms
    Ms.
    Mx.
    Miss
    Dr.
    Prof.
    M.
    Mme
    Mme.
    Mlle
    Mlle.
    Sr.
    Sra.
    Srta.
    Sig.
    Sig.ra
    Sig.na
    Dott.
    Dott.ssa
    Dhr.
    Mevr.
    mevr.
    dhr.
    Mw.
    pan
    pani
    Pani
    panie
    pana
    pán
    paní
    Sayın
    chị
    anh
    ông
    bà
    cô
    Κύριε
    Κυρία
""")
_BEFORE_RE = re.compile(
    rf"(?<![\w.]){_BEFORE}(?:[ \t]+(?:Dr\.|Prof\.|Ing\.|Mag\.|Dipl\.-Ing\.))?[ \t]+"
    rf"(?P<n>{_W}(?:[ \t]+(?:(?i:van|von|der|den|de|la|le|di|da|ter|ten)[ \t]+){{0,2}}{_W})?)"
)
# Honorifics after a name: Turkish Hanım/Bey, Japanese -san, Korean 씨/님.
_AFTER_RE = re.compile(
    rf"(?<![\w-])(?P<n>{_W}(?:[ \t]+{_W})?)(?:[ \t]+(?:Hanım|Hanim|Bey|Hanımefendi|Beyefendi)"
    rf"|-(?:san|sama|kun|chan|sensei|shi))(?![\w-])"
    r"|(?P<k>[\uac00-\ud7a3]{2,4})[ \t]?(?:씨|님)(?![\uac00-\ud7a3])"
    r"|(?P<j>[\u3400-\u9fff\u30a0-\u30ff]{1,6})(?:さん|様|さま|くん|ちゃん)"
)
# A first name addressed at the start of a sentence: "Ingrid, can I speak to…".
_ADDRESSED = re.compile(rf"(?:^|(?<=[.!?:\n])[ \t]*+)[ \t]*+(?P<n>{_W}),[ \t]+(?=[a-z])", re.M)
# Words the patterns above can catch that are not names.
_STOP_WORDS = """
    a an the and or but if so to of in on at for by with from as is it be am are was were will
    not no yes ok okay sure sorry here there this that these those what who how why when where
    calling speaking writing looking trying going happy glad fine good great well afraid just
    also still now again please thanks thank hello hi hey und et y e en och og ve va i o ja je
    ich bin habe have has had do does did can could would should may might must shall your my
    our their his her its you we they he she me us them him customer agent support team user
    client guest admin bot assistant operator manager bitte tak prima cara london march dear sir
    madam all everyone software senior junior engineer developer director analyst consultant
    associate vice president lead head chief staff principal member new old
"""
_STOP = frozenset(_STOP_WORDS.split())


def _words(text: str, start: int, limit: int, *, lower_ok: bool) -> tuple[int, int] | None:
    """The name words from ``start``: up to ``limit`` words, particles allowed between them,
    stopping at punctuation or a word that cannot be part of a name."""
    pos, end, count = start, start, 0
    while count < limit:
        m = _WORD_AT.match(text, pos)
        if not m:
            break
        word = m.group("w")
        low = word.lower()
        # Lower case stops a name unless allowed; letters without case (胡俊) do not.
        if low in _STOP or (not lower_ok and word[:1].islower() and low not in _PARTICLES):
            break
        if low not in _PARTICLES:
            count += 1
            end = m.end("w")
        pos = m.end()
    return (start, end) if end > start else None


_WORD_AT = re.compile(rf"(?P<w>{_W})[ \t]*")
_PARTICLES_WORDS = """
    van von der den de del della da dos das la le di du ter ten zu bin ibn bint al el ni o
"""
_PARTICLES = frozenset(_PARTICLES_WORDS.split())


def _span(start: int, end: int, detector: str, score: float) -> Span:
    return Span(start, end, "PERSON", f"names.{detector}", score)


def _introductions(text: str) -> Iterator[Span]:
    for m in _INTRO_RE.finditer(text):
        found = _words(text, m.end(), 4, lower_ok=True)
        if found:
            yield _span(*found, "intro", 0.86)
    for m in _SELF_RE.finditer(text):
        found = _words(text, m.end(), 4, lower_ok=False)
        if found and _weak_ok(text[found[0] : found[1]]):
            yield _span(*found, "intro", 0.8)


def _weak_ok(value: str) -> bool:
    """After 'I'm' or 'this is': a known first name, or two capitalised words."""
    words = value.split()
    if _HAN_NAME.fullmatch(value):
        return True  # 'Ich bin 胡俊': a name in two to four Chinese characters
    return words[0].split("-")[0].lower() in first_names() or len(words) >= 2


_HAN_NAME = re.compile(r"[\u3400-\u9fff]{2,4}")


# Every name question holds one of these: a cheap test before the costlier pattern.
_QUESTION_WORDS = (
    "name", "nom", "heiß", "heiss", "llama", "chiama", "naam", "heet", "nazywa", "jmenuje",
    "adiniz", "isminiz", "heter", "hedder", "speaking", "talking", "appelez", "apellido",
    "cognome", "prenom",
)  # fmt: skip


_THING_NAME = re.compile(
    r"(?i)(?<![\w-])(?:names?|nombre|nom|nome|naam|namn|navn)[ \t]+(?:of|for|del|de|des|du|do|da"
    r"|di|della|van|von|der|pa|til)(?![\w-])(?P<what>(?:[ \t]+[^\W\d_]{1,30}){0,3})"
)
# Words after 'name of' that make it a person's name after all ('nom de famille', 'nombre de
# pila', 'name of the account holder', 'nome do titular'), folded.
_PERSON_NOUNS_TEXT = """
    famille pila soltera solteira jeune naissance nacimiento nascimento geboorte battesimo
    holder cardholder owner titular titulaire patient paciente paziente member employee
    applicant passenger recipient beneficiary beneficiario beneficiaire tenant student child
    person persona personne contact account card reservation booking appointment mother
    father madre padre mae pai mere pere customer client cliente clienta kunde kundin klant
    kund klient user usuario utilisateur utente benutzer nutzer guest caller
"""
_PERSON_NOUNS = frozenset(f.lower() for w in _PERSON_NOUNS_TEXT.split() for f in folded_forms(w))


def names_a_thing(text: str) -> bool:
    """'the name of the product', 'nom du fichier': a name question about a thing, in several
    languages (one check for the questions here and `person_chat`'s). Not when a person
    follows: 'name of the patient', 'nom de famille', 'nombre del cliente'."""
    for m in _THING_NAME.finditer(text):
        after = m.group("what").lower().split()
        if not any(w in _PERSON_NOUNS for w in after):
            return True
    return False


def _answers(text: str) -> Iterator[Span]:
    lower = text.lower()
    if not any(word in lower for word in _QUESTION_WORDS):
        return
    for m in _QUESTION.finditer(text):
        if names_a_thing(m.group()):
            continue  # 'what is the name of the report?' asks for no person
        pos = m.end()
        if pos >= len(text) or text[pos] == "\n":
            pos = text.find("\n", pos)
            if pos < 0:
                continue
            pos += 1
            pos = _SPEAKER.match(text, pos).end()  # type: ignore[union-attr]
        filler = _FILLER.match(text, pos)
        if filler:
            pos = filler.end()
        found = _words(text, pos, 4, lower_ok=True)
        if found:
            yield _span(*found, "answer", 0.85)


def _honorifics(text: str) -> Iterator[Span]:
    for m in _BEFORE_RE.finditer(text):
        words = m.group("n").split()
        if not words[0][:1].isupper() or words[0].lower() in _STOP:
            continue
        # Drop a second word that is not capitalised or is a common word ('Frau Berger sagt').
        start, end = m.start("n"), m.end("n")
        if len(words) > 1 and (words[-1].lower() in _STOP or not words[-1][:1].isupper()):
            end = start + len(words[0])
        if product_follows(text, end):  # 'Dr. Pepper 330ml'
            continue
        yield _span(start, end, "honorific", 0.85)
    for m in _AFTER_RE.finditer(text):
        group = next(g for g in ("n", "k", "j") if m.group(g))
        value = m.group(group)
        words = value.split()
        if group == "n":
            while words and (words[0].lower() in _STOP or not words[0][:1].isupper()):
                words = words[1:]
            if not words:
                continue
            value = " ".join(words)
        end = m.end(group)
        yield _span(end - len(value), end, "honorific", 0.85)


def _addressed(text: str) -> Iterator[Span]:
    names = first_names()
    for m in _ADDRESSED.finditer(text):
        word = m.group("n")
        if word[:1].isupper() and word.lower() in names and word.lower() not in _STOP:
            yield _span(m.start("n"), m.end("n"), "addressed", 0.78)


class PersonCueDetector:
    name = "names.cues"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for leaf in leaves:
            text = leaf.text
            if len(text) < 4 or not any(c.isalpha() for c in text):
                out.append([])
                continue
            spans: list[Span] = []
            for number, find in enumerate((_introductions, _answers, _honorifics, _addressed)):
                checkpoint_long(text, "names.cues", f"pattern {number + 1}")
                spans.extend(find(text))
            out.append(spans)
        return out
