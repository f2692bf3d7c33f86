"""Person names by spaCy NER, run only where a name can be, and only the NER component.

Machine data (hex, ids, timestamps, base64) is skipped before the model sees it: only lines with
a capitalised word that is not all upper case are sent, batched through ``nlp.pipe`` once per
payload, and results are cached by line, because tool outputs repeat themselves. spaCy itself is
imported only by `guardrails_plugin.masking.spacy_model`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.spans import Span

__all__ = ["NerDetector"]

_CANDIDATE = re.compile(
    r"(?<![\w@./-])[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+(?:[ \t-]+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+)*"
)
_QUOTED_NAME = re.compile(
    r"(?P<q>['\"])(?P<n>[A-ZÀ-ÖØ-Þ][^\W\d_]+(?:[ -][A-ZÀ-ÖØ-Þ][^\W\d_]+){1,3})(?P=q)"
)
_LOWERCASE_PROSE = re.compile(r"^(?=[^A-Z]*$)(?=(?:.*?[a-z]{2,}[ ,;.]){6})")
_MAX_LINE = 2000
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
            offset = 0
            for line in leaf.text.split("\n"):
                if _worth_a_look(line):
                    covered = [
                        (sp.start - offset, sp.end - offset)
                        for sp in leaf.found
                        if sp.score >= 0.75
                    ]
                    for start, end in _windows(line, covered):
                        jobs.append((index, offset + start, line[start:end], 0.75))
                    # A quoted name inside code or a row reads better to NER on its own.
                    for m in _QUOTED_NAME.finditer(line):
                        jobs.append((index, offset + m.start("n"), m.group("n"), 0.75))
                elif _LOWERCASE_PROSE.match(line):
                    # All lower case: NER needs capitals to see names, so give it a titled copy.
                    jobs.append((index, offset, line[:_MAX_LINE].title(), 0.65))
                offset += len(line) + 1
        out: list[list[Span]] = [[] for _ in leaves]
        if not jobs:
            return out
        todo = [line for _, _, line, _ in jobs if line not in self._cache]
        if todo:
            unique = list(dict.fromkeys(todo))
            nlp = self._model()
            with self._lock:
                docs = list(nlp.pipe(unique, batch_size=256))
                for line, doc in zip(unique, docs, strict=True):
                    self._cache[line] = tuple(
                        (e.start_char, e.end_char) for e in doc.ents if e.label_ == "PERSON"
                    )
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        for index, offset, line, score in jobs:
            for start, end in self._cache.get(line, ()):
                value = line[start:end].rstrip("'\"")
                if _plausible(value):
                    end = start + len(value)
                    out[index].append(Span(offset + start, offset + end, "PERSON", "ner", score))
        return out


_TOKEN = re.compile(r"\S+")
_CONTEXT_WORDS = 4


def _windows(line: str, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Stretches of the line around capitalised words, a few words either side: NER needs the
    context, not the hashes and ids elsewhere on the line (it costs per token)."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(line[:_MAX_LINE])]
    marks = [
        i
        for i, (s, e) in enumerate(tokens)
        if _CANDIDATE.match(line, s)
        and line[s:e].strip(",.;:!?()'\"") not in _COMMON
        and not any(cs <= s and e <= ce for cs, ce in covered)
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


def _worth_a_look(line: str) -> bool:
    if len(line) < 4:
        return False
    for m in _CANDIDATE.finditer(line):
        word = m.group()
        if word.split()[0] not in _COMMON or " " in word:
            return True
    return False


def _plausible(value: str) -> bool:
    """NER also fires on numbers, product names and log fields; keep what reads as a name."""
    if any(c.isdigit() for c in value) or len(value) < 3 or "@" in value or "_" in value:
        return False
    words = value.split()
    # One capitalised word alone is too often a sentence start or a product ("Email", "Run");
    # single names come from greetings, sign-offs and name spreading instead.
    if len(words) < 2 or len(words) > 4:
        return False
    return all(w[:1].isupper() for w in words if w.isalpha() and len(w) > 3)
