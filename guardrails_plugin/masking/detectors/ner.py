"""Person names by spaCy NER, run only where a name can be, and only the NER component.

Machine data (hex, ids, timestamps, base64) is skipped before the model sees it: only lines with
a capitalised word that is not all upper case are sent, batched through ``nlp.pipe`` once per
payload, and results are cached by line, because tool outputs repeat themselves. spaCy itself is
imported only by `guardrails_plugin.masking.spacy_model`.

Cost: lines longer than `_MAX_LINE` are read in overlapping segments of at most that length, and
every check on a segment is linear in it, so the model sees at most ~1.1x the text and the work
around it is linear too. The deadline is checked between model batches.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from guardrails_plugin.masking.deadline import checkpoint, paused
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.spans import Span

__all__ = ["NerDetector"]

_CANDIDATE = re.compile(
    r"(?<![\w@./-])[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+(?:[ \t-]+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+)*"
)
_QUOTED_NAME = re.compile(
    r"(?P<q>['\"])(?P<n>[A-ZÀ-ÖØ-Þ][^\W\d_]+(?:[ -][A-ZÀ-ÖØ-Þ][^\W\d_]+){1,3})(?P=q)"
)
# Whole lower-case words followed by a word break. Anchored at the start of a run of letters and
# possessive, so a long run costs one pass (the old lookahead '(?:.*?[a-z]{2,}[ ,;.]){6}'
# backtracked over every start in a run: quadratic, ~100 s for 100 KB).
_LOWER_WORD = re.compile(r"(?<![a-z])[a-z]{2,}+[ ,;.]")
_UPPER = re.compile(r"[A-Z]")
_CAPITALISED = re.compile(r"(?<![\w@./-])[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+")
# An initial, one or two capital letters with full stops ('O.', 'J.R.', 'J.-P.'): part of a name
# as signatures and cc lines write it, so its full stop ends no clause.
_INITIAL = re.compile(r"[A-ZÀ-ÖØ-Þ]\.(?:-?[A-ZÀ-ÖØ-Þ]\.)?")
_MAX_LINE = 2000
_OVERLAP = 200  # characters a long line's segments share, so a name at a cut is seen whole
# A model batch holds up to this many texts or characters: the deadline is checked between
# batches, so a batch is the most the model runs past it (~0.5 s on the slowest text measured).
_BATCH = 64
_BATCH_CHARS = 32_768
_CACHE_SIZE = 20_000
# Capitalised words that start sentences or name things in machine text; not worth a model call.
_COMMON = {
    "The",
    "This",
    "That",
    "These",
    "Those",
    "There",
    "Then",
    "Thanks",
    "Thank",
    "Hi",
    "Hello",
    "Hey",
    "Dear",
    "Please",
    "Yes",
    "No",
    "Ok",
    "Okay",
    "Sure",
    "We",
    "You",
    "Your",
    "Our",
    "It",
    "If",
    "In",
    "On",
    "At",
    "For",
    "From",
    "To",
    "Subject",
    "Date",
    "Re",
    "Fwd",
    "Host",
    "Accept",
    "Content",
    "Type",
    "Length",
    "Authorization",
    "Bearer",
    "Basic",
    "Cookie",
    "Path",
    "Secure",
    "Mozilla",
    "Linux",
    "Macintosh",
    "Windows",
    "True",
    "False",
    "None",
    "Null",
    "Error",
    "Info",
    "Debug",
    "Warning",
    "Query",
    "Decimal",
    "Query result",
    "Here",
    "My",
    "She",
    "He",
    "They",
    "Ticket",
    "Run",
    "Deploy",
    "Rollback",
    "Shipping",
    "Contact",
    "Order",
    "Invoice",
    "Total",
    "Server",
    "Database",
    "User",
    "Id",
    "Password",
    "Set",
    "Get",
    "Post",
    "Put",
    "Delete",
    "Let",
}


class NerDetector:
    name = "ner"
    batched = True

    def __init__(self, model: str | None = None) -> None:
        self.model_name = model
        self._nlp: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[tuple[int, int], ...]] = OrderedDict()

    def _model(self) -> Any:
        if self._nlp is None:
            with self._lock:
                if self._nlp is None:
                    from guardrails_plugin.masking.spacy_model import load_model

                    self._nlp = load_model(self.model_name)
        return self._nlp

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        jobs: list[tuple[int, int, str, float]] = []  # (leaf, offset, text, score)
        for index, leaf in enumerate(leaves):
            checkpoint("detector 'ner', string %d of %d", index + 1, len(leaves))
            covered = _coverage(leaf)
            for offset, line in _segments(leaf.text):
                if _worth_a_look(line):
                    for start, end in _windows(line, covered, offset):
                        jobs.append((index, offset + start, line[start:end], 0.75))
                    # A quoted name inside code or a row reads better to NER on its own.
                    for m in _QUOTED_NAME.finditer(line):
                        jobs.append((index, offset + m.start("n"), m.group("n"), 0.75))
                elif _lowercase_prose(line):
                    # All lower case: NER needs capitals to see names, so give it a titled copy.
                    jobs.append((index, offset, line.title(), 0.65))
        out: list[list[Span]] = [[] for _ in leaves]
        if not jobs:
            return out
        found = self._persons(list(dict.fromkeys(line for _, _, line, _ in jobs)))
        for index, offset, line, score in jobs:
            for start, end in found[line]:
                value = line[start:end].rstrip("'\"")
                if _plausible(value):
                    end = start + len(value)
                    out[index].append(Span(offset + start, offset + end, "PERSON", "ner", score))
        return out

    def _persons(self, texts: list[str]) -> dict[str, tuple[tuple[int, int], ...]]:
        """PERSON entities of each text, from the cache or the model. Kept per call too: a
        payload with more texts than the cache holds must not lose the first ones."""
        found: dict[str, tuple[tuple[int, int], ...]] = {}
        todo = []
        with self._lock:
            for text in texts:
                cached = self._cache.get(text)
                if cached is None:
                    todo.append(text)
                else:
                    found[text] = cached
        if not todo:
            return found
        with paused():  # loading the model once is not this call's cost
            nlp = self._model()
        for number, batch in enumerate(_batches(todo), 1):
            checkpoint("detector 'ner', model batch %d", number)
            with self._lock:
                docs = list(nlp.pipe(batch, batch_size=_BATCH))
                for text, doc in zip(batch, docs, strict=True):
                    persons = tuple(
                        (e.start_char, e.end_char) for e in doc.ents if e.label_ == "PERSON"
                    )
                    found[text] = self._cache[text] = persons
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return found


def _batches(texts: list[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    chars = 0
    for text in texts:
        if batch and (len(batch) >= _BATCH or chars + len(text) > _BATCH_CHARS):
            yield batch
            batch, chars = [], 0
        batch.append(text)
        chars += len(text)
    if batch:
        yield batch


def _segments(text: str) -> list[tuple[int, str]]:
    """``(offset, segment)``: each line, and a line longer than `_MAX_LINE` as segments of at most
    that length, cut at a space where there is one, each repeating the last `_OVERLAP`
    characters of the one before."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        if len(line) <= _MAX_LINE:
            out.append((offset, line))
        else:
            start = 0
            while True:
                end = start + _MAX_LINE
                if end >= len(line):
                    out.append((offset + start, line[start:]))
                    break
                cut = line.rfind(" ", end - _OVERLAP, end)
                end = cut if cut > start else end
                out.append((offset + start, line[start:end]))
                space = line.find(" ", end - _OVERLAP, end)
                start = space + 1 if space > start else end - _OVERLAP
        offset += len(line) + 1
    return out


def _coverage(leaf: Leaf) -> bytearray | None:
    """A byte per character, 1 where a confident finding of a cheaper detector already lies
    (NER need not look there), or None when there is none."""
    spans = [sp for sp in leaf.found if sp.score >= 0.75 and sp.end > sp.start >= 0]
    if not spans:
        return None
    covered = bytearray(len(leaf.text))
    for sp in spans:
        end = min(sp.end, len(covered))
        covered[sp.start : end] = b"\x01" * max(0, end - sp.start)
    return covered


def _lowercase_prose(line: str) -> bool:
    """No capital letters and at least six whole lower-case words: prose someone typed."""
    if _UPPER.search(line):
        return False
    return sum(1 for _ in itertools.islice(_LOWER_WORD.finditer(line), 6)) == 6


_TOKEN = re.compile(r"\S+")
_CONTEXT_WORDS = 4


def _windows(line: str, covered: bytearray | None, offset: int) -> list[tuple[int, int]]:
    """Stretches of the line around capitalised words, a few words either side: NER needs the
    context, not the hashes and ids elsewhere on the line (it costs per token). Words that
    ``covered`` (from ``offset`` on) marks as found already are no reason to look."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(line)]
    capital = [
        (bool(_CAPITALISED.match(line, s)) and line[s:e].strip(",.;:!?()'\"") not in _COMMON)
        or _is_initial(line, s, e)
        for s, e in tokens
    ]
    marks = [
        i
        for i, (s, e) in enumerate(tokens)
        if capital[i]
        and _in_a_run(tokens, capital, line, i)
        and (covered is None or covered.find(0, offset + s, offset + e) >= 0)
    ]
    windows: list[tuple[int, int]] = []
    for i in marks:
        lo, hi = max(0, i - _CONTEXT_WORDS), min(len(tokens) - 1, i + _CONTEXT_WORDS)
        start, end = tokens[lo][0], tokens[hi][1]
        if windows and start <= windows[-1][1] + 1:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


def _in_a_run(tokens: list[tuple[int, int]], capital: list[bool], line: str, i: int) -> bool:
    """Token ``i`` has a capitalised neighbour, directly or across one short particle ('Jan de
    Vries'): a name NER may report is two to four such words (`_plausible`), so a capitalised
    word alone (a sentence start, a German noun) is no reason to run the model."""
    n = len(tokens)
    for step in (-1, 1):
        j = i + step
        if 0 <= j < n and capital[j] and not _ends_clause(line, tokens, min(i, j)):
            return True
        k = i + 2 * step
        particle = 0 <= k < n and capital[k] and tokens[j][1] - tokens[j][0] <= 3
        if particle and not any(_ends_clause(line, tokens, t) for t in (min(i, k), j)):
            return True
    return False


def _ends_clause(line: str, tokens: list[tuple[int, int]], i: int) -> bool:
    """Token ``i`` ends with a full stop, colon, semicolon or comma: the next word starts anew.
    An initial's full stop does not: 'O. Lindqvist' is one name."""
    start, end = tokens[i]
    return line[end - 1] in ".:;,!?" and not _is_initial(line, start, end)


def _is_initial(line: str, start: int, end: int) -> bool:
    return end - start <= 5 and _INITIAL.fullmatch(line, start, end) is not None


def _worth_a_look(line: str) -> bool:
    if len(line) < 4:
        return False
    for m in _CANDIDATE.finditer(line):
        word = m.group()
        if word.split()[0] not in _COMMON or " " in word:
            return True
    return False


# Last words that make a capitalised phrase a thing, a place or an organisation, not a person.
# Words that are also common family names (Park, Hall, King, Wood) are left out.
_THING_WORDS_TEXT = """
    datacenter datacentre center centre cluster replica replicas service services server servers
    database db region zone node nodes instance bucket queue pipeline gateway api app apps
    application platform project portal dashboard console engine cloud network subnet vpc
    firewall proxy cache storage backup mirror repository repo registry branch release build
    deployment environment sandbox staging tenant workspace account plan edition suite pro plus
    max mini ultra lite premium enterprise team teams group department office headquarters hq
    campus airport station hospital clinic university college school institute foundation
    ministry council committee agency authority bank inc ltd llc gmbh corp corporation company
    co ag sa srl bv ab oy as systems solutions technologies labs studio studios store shop
    market mall plaza hotel tower building warehouse factory plant
"""
_THING_WORDS = frozenset(_THING_WORDS_TEXT.split())


def _plausible(value: str) -> bool:
    """NER also fires on numbers, product names and log fields; keep what reads as a name."""
    if any(c.isdigit() for c in value) or len(value) < 3 or "@" in value or "_" in value:
        return False
    words = value.split()
    # One capitalised word alone is too often a sentence start or a product ("Email", "Run");
    # single names come from greetings, sign-offs and name spreading instead.
    if len(words) < 2 or len(words) > 4:
        return False
    if words[-1].lower() in _THING_WORDS:  # 'Warsaw Datacenter', 'Orion Cluster'
        return False
    return all(w[:1].isupper() for w in words if w.isalpha() and len(w) > 3)
