"""Person names by a first-name lexicon: a known first name followed by one or two capitalised
words ("Gerold Stahr", "Pascuala Luque").

The small English NER model misses or mislabels many European names. The lexicon is Jörg
Michael's first-name dictionary (about 48,000 names from many countries, GNU FDL), as shipped in
the `gender-guesser` package; it is not derived from any fake-data generator. First names that
are also everyday English words are left to NER.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.normalize import fold
from guardrails_plugin.masking.spans import Span

__all__ = ["LexiconNameDetector", "first_names", "product_follows"]

# Letters of any script: whether a word is capitalised is checked in code (`_capitalised`),
# because Python's re has no Unicode case classes and names use letters well beyond Latin-1
# (Łukasz, Jiří, Şükrü, Þórdís). Each word is bounded so a try from any start costs O(1).
_WORD = r"[^\W\d_][^\W\d_'’]{0,30}(?:-[^\W\d_][^\W\d_'’]{0,30})?"
# Lower-case particles inside a family name: van der Kooij, ter Horst, bin Rashid, Ní Bhriain.
_PARTICLE = (
    r"(?i:de|del|della|da|das|do|dos|van|von|der|den|ter|ten|te|le|la|di|du|y|zu|af|al|el|"
    r"bin|ibn|bint|ben|abu|ní|ni|nic|ó|o|ua|mac|ap)"
)
_TOKEN = re.compile(rf"(?<![\w@.-]){_WORD}(?![\w@-])")
# Family-name endings that few other words share: Nordic patronymics, Slavic, Baltic, Greek,
# Turkish, Georgian, Romanian, Balkan, Gaelic. A capitalised word before one is a given name
# even when the lexicon does not know it.
_SURNAME_SHAPE = re.compile(
    r"(?:sson|s?dóttir|dottir|[^aeiouyäöüåæø\W]sen|ski|ska|cki|cka|dzki|dzka|wicz|czyk|czak|"
    r"ová|ský|ská|cký|cká|oğlu|oglu|opoulos|poulou|akis|idis|iadis|shvili|dze|enko|chuk|"
    r"ović|ević|ić|escu|eanu|aitė|ienė|ytė|auskas|evičius|avičius|iņš)$"
    r"|^(?:Mc|O['’]|Ó[ \t]|Ní[ \t]|Mac[ \t])\w",
)
# First names that are also common English words or sentence starters.
_COMMON_WORDS = """
    the a an and or but if in on at to of for by with from as is it be are was were will may can
    mark grant bill rose joy hope faith summer april june august autumn dawn eve ivy lily page
    long young king guy art bob chase cliff dale dean drew earl frank gene gay glen hunter jack
    jean jay lane lee major miles neil pat ray rich rob ross sky sonny star sterling tanner
    victor wade ward warren wayne will win wren young dell anker hall house park street field
    china india jordan georgia virginia carolina paris sydney austin dallas houston phoenix
    denver orlando miami tampa chester florence lincoln washington clay stone river forest brook
    rain storm sunny happy harmony honey ruby pearl amber crystal diamond jade jewel gold silver
    black brown green white grey gray red blue violet olive hazel ginger pepper sage basil don
    van von de la le del der das des da di du max sam pat tim tom ben dan ken ron kim ann new
    north south east west great little big old new good best last first main general christian
    justice liberty unity trinity angel baby bunny candy cookie duke prince princess queen lord
    lady sir madam miss mister doctor nurse chef judge pastor bishop major captain sergeant bay
    beach cape hill lake mount port sea shore vale wood york lancaster cambridge oxford devon
    kent essex surrey sherwood windsor
"""
_COMMON = frozenset(_COMMON_WORDS.split())


@functools.lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Lower-cased first names from the lexicon, minus everyday English words."""
    try:
        from gender_guesser.detector import Detector
    except ImportError:  # pragma: no cover - a core dependency
        return frozenset()
    names = Detector(case_sensitive=False).names
    kept = {n for n in names if len(n) >= 3 and n not in _COMMON and n.isalpha()}
    # Detectors read folded text (accents undone: 'Jiří' arrives as 'Jiri'), so the folded
    # spelling of each name is a name too.
    kept.update(f for f in (fold(n).text.lower() for n in list(kept)) if f not in _COMMON)
    return frozenset(kept)


class LexiconNameDetector:
    name = "names.lexicon"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        names = first_names()
        return [list(_find(leaf.text, names)) for leaf in leaves]


def _find(text: str, names: frozenset[str]) -> Iterator[Span]:
    """Runs of two or three capitalised words (particles between them allowed), longest first;
    each word is read a bounded number of times, so the scan is linear."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    i = 0
    while i < len(tokens):
        run = _run(text, tokens, i)
        for last in range(len(run) - 1, 0, -1):
            words = [text[s:e] for s, e in tokens[i : run[last] + 1]]
            span = _judge(text, words, tokens, i, run[last], names)
            if span is not None:
                yield span
                i = run[last]
                break
        i += 1


def _run(text: str, tokens: list[tuple[int, int]], i: int) -> list[int]:
    """Token indices of up to three name words from ``i`` on, separated by blanks and at most
    two particles each; ``[i]`` when ``i`` does not start one."""
    if not _capitalised(text[tokens[i][0] : tokens[i][1]]):
        return [i]
    run, j, particles = [i], i + 1, 0
    while j < len(tokens) and len(run) < 3 and text[tokens[j - 1][1] : tokens[j][0]] in _BLANKS:
        word = text[tokens[j][0] : tokens[j][1]]
        if _is_particle(word) and particles < 2:
            particles += 1
        elif _capitalised(word):
            run.append(j)
            particles = 0
        else:
            break
        j += 1
    return run


_BLANKS = frozenset({" ", "\t", "  "})


def _judge(
    text: str,
    words: list[str],
    tokens: list[tuple[int, int]],
    i: int,
    j: int,
    names: frozenset[str],
) -> Span | None:
    """A person when the first word is a known first name, or the last has a family-name
    shape; no product code after it."""
    first, last = words[0], words[-1].rstrip("'’")
    if _is_particle(last):
        return None
    known = first.split("-")[0].lower() in names
    if not known and (first.lower() in _COMMON or not _SURNAME_SHAPE.search(last)):
        return None
    end = tokens[j][1]
    if last.lower() in _COMMON or product_follows(text, end):
        return None
    # A closing quote is not part of the name: 'Ana Lopez' in a repr.
    start = tokens[i][0]
    end = start + len(text[start:end].rstrip("'’"))
    return Span(start, end, "PERSON", "names.lexicon", 0.78)


_PARTICLES = re.compile(_PARTICLE)


def _is_particle(word: str) -> bool:
    return _PARTICLES.fullmatch(word) is not None


def _capitalised(word: str) -> bool:
    """'Łukasz', 'Al-Mazrouei', "O'Brien": an upper-case letter, then some lower case."""
    return word[:1].isupper() and any(c.islower() for c in word[1:])


_NEXT = re.compile(r"[ \t]+(?P<w>[^\s,.;:!?)]+)")


def product_follows(text: str, end: int) -> bool:
    """'Brita Marella 2.4L', 'Herman Miller Aeron Size B': a model number, size or a longer run
    of capitalised words after the 'name' means a product, not a person."""
    m = _NEXT.match(text, end)
    if not m:
        return False
    word = m.group("w")
    return any(c.isdigit() for c in word) or word[:1].isupper()
