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
from collections.abc import Sequence

from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.spans import Span

__all__ = ["LexiconNameDetector", "first_names"]

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
_BIGRAM = re.compile(
    rf"(?<![\w@.-])(?P<first>[{_UPPER}][{_LOWER}'’]+(?:-[{_UPPER}][{_LOWER}]+)?)"
    rf"(?P<rest>(?:[ \t]+(?:(?:de|del|da|van|von|der|le|la|di|du|dos|y)[ \t]+)?"
    rf"[{_UPPER}][{_LOWER}'’]+(?:-[{_UPPER}][{_LOWER}]+)?){{1,2}})(?![\w@-])"
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
    return frozenset(n for n in names if len(n) >= 3 and n not in _COMMON and n.isalpha())


class LexiconNameDetector:
    name = "names.lexicon"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        names = first_names()
        out = []
        for leaf in leaves:
            spans = []
            for m in _BIGRAM.finditer(leaf.text):
                first = m.group("first").lower()
                if first.split("-")[0] in names:
                    rest = m.group("rest").split()
                    if rest[-1].lower() in _COMMON or _product_follows(leaf.text, m.end()):
                        continue
                    # A closing quote is not part of the name: 'Ana Lopez' in a repr.
                    end = m.start() + len(m.group().rstrip("'’"))
                    spans.append(Span(m.start(), end, "PERSON", "names.lexicon", 0.78))
            out.append(spans)
        return out


_NEXT = re.compile(r"[ \t]+(?P<w>[^\s,.;:!?)]+)")


def _product_follows(text: str, end: int) -> bool:
    """'Brita Marella 2.4L', 'Herman Miller Aeron Size B': a model number, size or a longer run
    of capitalised words after the 'name' means a product, not a person."""
    m = _NEXT.match(text, end)
    if not m:
        return False
    word = m.group("w")
    return any(c.isdigit() for c in word) or word[:1].isupper()
