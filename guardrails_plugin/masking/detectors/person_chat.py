"""Person names in chat transcripts and letters, by the shape of the conversation: who speaks
('Anouk: Mag ik uw naam?'), the answer to a name question asked in any of many languages
('Com quem eu falo?' / 'cliente: luana'), a turn that is nothing but a name ('kund: Frederik'),
and the name after a greeting or a thank-you ('Beste Søren,', 'Liebe/r Jérôme,', 'grazie Themba').

A transcript is recognised before anything is taken from it: three or more lines start with a
speaker label, and one of the labels is a role (agent, cliente, klant, müşteri...) or two labels
each speak twice. Only then is a label that reads as a name (capitalised, or in a script without
case; not a role, not a key name such as 'Subject') taken as a person. Mail headers, YAML and log
levels do not repeat a capitalised label beside a role, so they are left alone.

Linear time: lines are read once, each pattern is anchored at a line start or a cue word and
reads a bounded number of bounded words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence

from guardrails_plugin.masking.deadline import checkpoint_long
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.detectors.lexicon import first_names
from guardrails_plugin.masking.detectors.person_cues import folded_forms, names_a_thing
from guardrails_plugin.masking.keys import classify_key
from guardrails_plugin.masking.spans import Span

__all__ = ["SPEAKER_ROLES", "PersonChatDetector"]

_W = r"[^\W\d_][^\W\d_'’]{0,30}(?:-[^\W\d_][^\W\d_'’]{0,30})?"  # one name word, any script


def _folded_words(words: str) -> frozenset[str]:
    return frozenset(f.lower() for w in words.split() for f in folded_forms(w))


# Who speaks in a support chat, in the languages the tool payloads come in (folded).
_ROLES = _folded_words("""
    agent agente agents client cliente clienta customer kunde kundin klant klantenservice kund
    kunden kundtjänst kundeservice kundeservice asiakas asiakaspalvelu user usuario utilisateur
    utente benutzer nutzer assistant assistente asistente bot chatbot system sistema support
    soporte suporte supporto operator operatore operador operadora atendente conseiller
    conseillère medewerker handläggare konsultant konsultantka klient klientka zákazník
    zákaznice müşteri temsilci representative rep advisor adviser berater beraterin mitarbeiter
    mitarbeiterin me you guest moderator staff admin sales helpdesk service consulente
    gestore vendedor vendeur caller visitor visitante besucher ai human ügyfél ügyintéző
    πελάτης εκπρόσωπος khách nhân viên 客户 客服 顾客 お客様 担当者 고객 상담원
""")
# Capitalised line labels that are not people (besides the key vocabulary).
_NOT_SPEAKERS = _folded_words("""
    note notes nb ps re fwd fw aw sv vs tr answer question q a step tip hint example output
    input result response request reply summary total subtotal status error warning info debug
    trace fatal notice caution important update edit edited action todo fixme done pending
    today yesterday tomorrow morning afternoon evening time date day week month year source
    reason cause solution fix workaround resolution issue problem ticket order case reference
    ref item product topic agenda attendees location where when who what why how details
    description comment comments remark remarks feedback rating score notice accept host
    authorization cookie origin referer connection server via vary expires pragma range upgrade
    allow link age etag
""")
# A speaker label at a line start, after an optional '[09:26]' or '09:26' stamp.
_SPEAKER_LINE = re.compile(
    r"(?m)^[ \t]*+(?:\[[^\]\n]{1,40}\][ \t]*+|\d{1,2}:\d{2}(?::\d{2})?[ \t]++)?"
    rf"(?P<s>{_W}(?:[ \t]{_W}){{0,2}}\.?)[ \t]*+:(?:[ \t]++|$)"
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7a3]")


def _cased_name(label: str) -> bool:
    """Capitalised words (not all capitals: 'INFO'), or letters of a script without case."""
    words = label.rstrip(".").split()
    if all(_CJK.match(w) for w in words):
        return len(label) <= 6
    return all(w[:1].isupper() for w in words) and not (len(label) > 1 and label.isupper())


def _speaker_kind(label: str) -> str:
    """'role', 'name' or 'other' for a speaker label."""
    low = label.lower().rstrip(".")
    if low in _ROLES:
        return "role"
    if (
        len(low) < 2
        or low in _NOT_SPEAKERS
        or _header_shaped(label)
        or not _cased_name(label)
        or classify_key(label) is not None
    ):
        return "other"
    return "name"


SPEAKER_ROLES = _ROLES


def _header_shaped(label: str) -> bool:
    """'Content-Type', 'Set-Cookie', 'X-Request-Id': capitalised parts joined by hyphens, the
    first not a given name ('Jean-Pierre' speaks)."""
    parts = label.split("-")
    return (
        len(parts) > 1
        and all(p[:1].isupper() for p in parts)
        and parts[0].lower() not in first_names()
    )


def _speakers(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """Speaker labels ``(start, end, kind)`` and whether the text reads as a transcript."""
    labels = [(m.start("s"), m.end("s"), m.group("s")) for m in _SPEAKER_LINE.finditer(text)]
    if len(labels) < 3:
        return [], False
    kinds = {label: _speaker_kind(label) for _, _, label in labels}
    counts = Counter(label for _, _, label in labels)
    if any(_header_shaped(label) for label in kinds):
        return [], False  # HTTP or mail headers ('Content-Type:'), not people talking
    has_role = any(kind == "role" for kind in kinds.values())
    repeated = [lab for lab, n in counts.items() if n >= 2 and kinds[lab] != "other"]
    transcript = has_role or len(repeated) >= 2
    return [(s, e, kinds[label]) for s, e, label in labels], transcript


_NAME_TURN = re.compile(
    rf"(?P<n>{_W}(?:[ \t]++{_W}){{0,2}})[ \t]*+[.!]?[ \t]*+$"
)  # the whole turn is one to three words


def _name_turn(text: str, start: int) -> tuple[int, int] | None:
    """A turn that is nothing but a name: a known first name first ('Frederik', 'dietmar',
    'francisca figueiredo'), or two or three capitalised words ('Anouk Hoekstra'); or one
    introduced ('jag är søren mikkelsen, kund sedan 2012')."""
    filler = _FILLER.match(text, start)
    if filler and filler.end() > start:
        found = _answer_at(text, start)
        if found and text[found[0] : found[1]].split()[0].lower() in first_names():
            return found
        return None
    m = _NAME_TURN.match(text, start, _line_end(text, start))
    if not m:
        return None
    words = m.group("n").split()
    lows = [w.lower() for w in words]
    if any(w in _ROLES or w in _STOP for w in lows):
        return None
    first_known = lows[0].split("-")[0] in first_names()
    capitalised = all(w[:1].isupper() for w in words)
    if first_known and (capitalised or len(words) >= 2 or len(words[0]) >= 4):
        return m.start("n"), m.end("n")
    if capitalised and len(words) >= 2:
        return m.start("n"), m.end("n")
    return None


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


# A line asking for a name: a word for name or surname, or 'who am I talking to', in many
# languages (folded: accents undone). The answer is the next turn.
_NAME_NOUNS = (
    r"(?:(?:sur|given|family|first|last|full)?names?|naam|achternaam|voornaam|namn(?:et)?|"
    r"efternamn(?:et)?|fornamn(?:et)?|navn(?:et)?|efternavn(?:et)?|etternavn(?:et)?|"
    r"fornavn(?:et)?|nimi|nimesi|sukunimi|etunimi|nom|prenom|nombre|apellidos?|nome|cognome|"
    r"sobrenome|(?:nach|vor|familien)namen?|nazwisk\w{0,3}|imie|jmeno|prijmeni|isim|ism\w{1,5}|"
    r"adiniz\w{0,2}|adin|soyad\w{0,6}|numele|prenumele)"
)
_WHO = (
    r"(?:met[ \t]+wie[ \t]+spreek|com[ \t]+quem[ \t]+(?:eu[ \t]+)?falo|con[ \t]+qui[e]n[ \t]+"
    r"hablo|z[ \t]+kim[ \t]+rozmawiam|vem[ \t]+talar[ \t]+jag|a[ \t]+qui[ \t]+ai-je|"
    r"mit[ \t]+wem[ \t]+spreche|s[ \t]+kym[ \t]+mluvim|con[ \t]+chi[ \t]+parlo|"
    r"kiminle[ \t]+gorusuyorum|hvem[ \t]+(?:taler|snakker)[ \t]+jeg|who[ \t]+am[ \t]+i[ \t]+"
    r"(?:speaking|talking|chatting)|who[ \t]+is[ \t]+this|kenen[ \t]+kanssa)"
)
_SPELL = r"(?:spell|buchstabier|epeler|deletre|soletr|compitar|scandisc|spellen|bokstaver|" \
    r"stav|przeliteruj|przeliterowac|hlaskuj|kodla)"  # fmt: skip
_ASKS_NAME = re.compile(rf"(?i)(?<![\w-])(?:{_NAME_NOUNS}(?![\w-])|{_WHO}|{_SPELL})")
# Name words in scripts without spaces or case, and Greek and Russian ones, folded as the text is.
_ASK_WORDS = "名前 姓名 名字 お名前 이름 성함 όνομ ονομ επώνυμ имя фамил"
_CJK_ASK = re.compile("|".join(f for w in _ASK_WORDS.split() for f in folded_forms(w)))
# What may come before the name in an answer: a greeting, 'I am', 'it is', 'with'.
_FILLER = re.compile(
    r"(?i)(?:(?:hi|hello|hallo|hola|ola|oi|hej|hei|ciao|bonjour|merhaba|dzien[ \t]+dobry|"
    r"dobry[ \t]+den|goedendag|goedemiddag)[ \t]*[,!.]?[ \t]*+)?"
    r"(?:(?:sure|yes|yeah|ok|okay|of course|it'?s|it is|that'?s|i'?m|i am|this is|c'est|"
    r"je suis|moi c'est|soy|es|sou|e|sono|ik ben|met|ich bin|hier ist|das ist|jag ar|det ar|"
    r"jeg er|det er|jestem|tu|jsem|benim|ben|minä olen|olen|tôi là|eimai|me llamo|"
    r"mi nombre es|meu nome e|mijn naam is|mein name ist|my name is|je m'appelle)"
    r"(?:[ \t]*+[,:])?[ \t]++)?"
)
_STOP = _folded_words("""
    a an the and or but if so to of in on at for by with from as is it be am are was were will
    not no yes ok okay sure sorry here there this that what who how why when where please thanks
    thank hello hi hey und et y e en och og ve i o ja je ich bin have has had do does did can
    could would should may your my our their his her its you we they he she me us them him
    customer agent support team user client guest admin bot assistant operator manager bitte
    dear sir madam all everyone nobody someone anyone name surname number order ticket ok
    gracias obrigado obrigada grazie danke merci tack takk tak dank bedankt hallo hola ola oi
    hej hei ciao bonjour merhaba salut called named done fine great perfect nope yep right
    correct exactly cool nice good bye later agreed understood noted confirmed welcome help
    same sorry
""")


def _answer_at(text: str, pos: int) -> tuple[int, int] | None:
    """The name answering a question, at ``pos``: up to four words after a filler, ending the
    turn, followed by punctuation, or all capitalised (a sentence is not a name)."""
    filler = _FILLER.match(text, pos)
    if filler:
        pos = filler.end()
    end_of_line = _line_end(text, pos)
    m = _ANSWER.match(text, pos, end_of_line)
    if not m:
        return None
    kept = []
    for word in m.group("n").split():  # cut at the first word that cannot be in a name
        if word.lower() in _STOP or word.lower() in _ROLES:
            break
        kept.append(word)
    if not kept:
        return None
    end = _end_of_words(text, pos, len(kept))
    after = text[end:end_of_line].lstrip(" \t")
    if after and after[0] not in ",.;!(" and not all(w[:1].isupper() for w in kept):
        return None
    return pos, end


_ANSWER = re.compile(rf"(?P<n>{_W}(?:[ \t]++{_W}){{0,3}})")


def _end_of_words(text: str, start: int, count: int) -> int:
    pos = start
    for index in range(count):
        m = _ONE_WORD.match(text, pos)
        if not m:
            break
        pos = m.end()
        if index < count - 1:
            blanks = _BLANKS.match(text, pos)
            pos = blanks.end() if blanks else pos
    return pos


_ONE_WORD = re.compile(_W)
_BLANKS = re.compile(r"[ \t]+")


def _answers(text: str, speakers: list[tuple[int, int, str]]) -> Iterator[Span]:
    """Each line asking for a name; the name is the rest of that line after '?', or the next
    speaker's turn."""
    turn_starts = {}
    for s, e, _ in speakers:
        colon = text.find(":", e)
        rest = _BLANKS.match(text, colon + 1)
        turn_starts[_line_start(text, s)] = rest.end() if rest else colon + 1
    line_start = 0
    while line_start < len(text):
        line_end = _line_end(text, line_start)
        line = text[line_start:line_end]
        if (
            ("?" in line or _SPELL_CHEAP.search(line))
            and (_ASKS_NAME.search(line) or _CJK_ASK.search(line))
            and not names_a_thing(line)  # 'the name of the product'
        ):
            found = None
            mark = line.rfind("?")
            if mark >= 0 and line[mark + 1 :].strip():
                found = _answer_at(text, line_start + mark + 1 + _lead(line[mark + 1 :]))
            if found is None and line_end < len(text):
                nxt = line_end + 1
                found = _answer_at(text, turn_starts.get(nxt, nxt))
            if found:
                yield Span(found[0], found[1], "PERSON", "names.answer", 0.85)
        line_start = line_end + 1


_SPELL_CHEAP = re.compile(rf"(?i){_SPELL}")


def _lead(rest: str) -> int:
    return len(rest) - len(rest.lstrip(" \t"))


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


# Greetings and thanks before a name, as people write them (folded, case-insensitive).
_GREETINGS = r"""
    dear|hello|hi|hey|good[ \t]+(?:morning|afternoon|evening|day)|greetings|
    liebe/r|liebe|lieber|hallo|guten[ \t]+(?:tag|morgen|abend)|sehr[ \t]+geehrte/?r?|moin|servus|
    bonjour|bonsoir|cher|chere|cher/chere|salut|
    hola|buenas[ \t]+(?:tardes|noches)|buenos[ \t]+dias|buen[ \t]+dia|estimad[oa](?:/a|\(a\))?|
    querid[oa]|
    ola|oi|bom[ \t]+dia|boa[ \t]+(?:tarde|noite)|prezad[oa](?:/a|\(a\))?|car[oa]|
    gentile|gentilissim[oa]|buongiorno|buonasera|ciao|salve|
    beste|geachte|hoi|goedemorgen|goedemiddag|goedenavond|
    szanown[ya]|dzien[ \t]+dobry|witam|czesc|
    vazen[yaá]|dobry[ \t]+den|ahoj|
    hej|hejsa|basta|kara|hei|kaere|god[ \t]+(?:morgen|dag)|
    merhaba|iyi[ \t]+gunler|
    xin[ \t]+chao|kinh[ \t]+gui|
    draga|stimate|stimata
"""
_THANKS = r"""
    thanks|thank[ \t]+you|cheers|danke(?:[ \t]+schon)?|vielen[ \t]+dank|merci|gracias|
    obrigad[oa]|grazie|dank[ \t]+(?:je|u)(?:[ \t]+wel)?|bedankt|tack|takk|tak|tusind[ \t]+tak|
    dziekuje|dzieki|dekuji|diky|tesekkurler|tesekkur[ \t]+ederim|sagol|cam[ \t]+on|kiitos|
    multumesc
"""
_HONORIFIC = (
    r"(?:(?i:herr|frau|heer|mevrouw|mr|mrs|ms|mx|dr|prof|sr|sra|srta|mme|mlle|m|monsieur|madame|"
    r"senor|senora|senhor|senhora|signor|signora|sig|pan|pani|panie|pane|pana|chi|anh|ong|ba|co|"
    r"bay|bayan|sayin)\.?[ \t]+)?"
)


def _cue_re(words: str) -> str:
    return "(?:" + "".join(line.strip() for line in words.splitlines()) + ")"


_GREETING_RE = re.compile(
    rf"(?im)(?:^|(?<=[.!?]))[ \t]*+(?i:{_cue_re(_GREETINGS)})(?:[ \t]*+,)?[ \t]++{_HONORIFIC}"
    rf"(?P<n>{_W}(?:[ \t]+{_W}){{0,2}})(?:-(?:ssi|nim|san|sama))?[ \t]*+(?=[,!:\n]|$)"
)
# Words a greeting addresses that are not a person: groups and bare honorifics.
_GROUPS = _folded_words("""
    colleagues colleague friends friend partners partner customers members everybody folks
    guys people world kollegen kollege kolleginnen collegues collegue colegas colega colleghi
    collega collegas koledzy kolegy kollegor kolleger herr frau heer mevrouw monsieur madame
    mesdames messieurs senor senora senhor senhora signor signora senores damas caballeros
    pan pani panie pane panstwo team teams support service
""")
_THANKS_RE = re.compile(
    rf"(?<![\w'’])(?i:{_cue_re(_THANKS)})(?:[ \t]*+,)?[ \t]++(?P<n>{_W})(?P<tail>[ \t]*+[,.!\n]|$)?"
)


def _salutations(text: str) -> Iterator[Span]:
    names = first_names()
    for m in _GREETING_RE.finditer(text):
        words = m.group("n").split()
        lows = [w.lower() for w in words]
        if any(w in _STOP or w in _ROLES or w in _GROUPS for w in lows):
            continue
        if not all(w[:1].isupper() or _CJK.match(w) for w in words):
            continue
        yield Span(m.start("n"), m.end("n"), "PERSON", "names.greeting", 0.82)
    for m in _THANKS_RE.finditer(text):
        word = m.group("n")
        low = word.lower()
        if low in _STOP or low in _ROLES or not (word[:1].isupper() or _CJK.match(word)):
            continue
        if m.group("tail") is not None or low.split("-")[0] in names:
            yield Span(m.start("n"), m.end("n"), "PERSON", "names.thanks", 0.8)


def _transcript(text: str) -> Iterator[Span]:
    speakers, transcript = _speakers(text)
    if not transcript:
        return
    for start, end, kind in speakers:
        if kind == "name":
            yield Span(start, end, "PERSON", "names.speaker", 0.85)
        elif kind == "role":
            colon = text.find(":", end)
            rest = _BLANKS.match(text, colon + 1)
            found = _name_turn(text, rest.end() if rest else colon + 1)
            if found:
                yield Span(found[0], found[1], "PERSON", "names.turn", 0.8)
    yield from _answers(text, speakers)


class PersonChatDetector:
    name = "names.chat"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for leaf in leaves:
            text = leaf.text
            spans: list[Span] = []
            if len(text) >= 8 and any(c.isalpha() for c in text):
                checkpoint_long(text, "names.chat", "transcript")
                if ":" in text and "\n" in text:
                    spans.extend(_transcript(text))
                checkpoint_long(text, "names.chat", "greetings")
                spans.extend(_salutations(text))
            out.append(spans)
        return out
