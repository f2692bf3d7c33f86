"""The masker: find PII and secrets anywhere in a payload and replace them, schema-less.

    masker = Masker()
    result = masker.mask({"to": "ana@example.com", "body": "call +49 30 70053440"}, vault=vault)
    result.value     # {"to": "<EMAIL_1>", "body": "call <PHONE_1>"}
    result.findings  # Finding(data_class="EMAIL", path=("to",), start=0, end=15, ...), ...

Pipeline per payload: walk to string leaves (JSON inside strings included), fold evasions,
find keyed cells, run every registered detector over all leaves (NER batched once), spread
person names found once to their other mentions, settle overlaps, apply each label's strategy.
A detector that raises is not swallowed: `mask` and `scan` raise `MaskingError`, and the guard
denies the call.

Every step is linear in the payload's size (docs/masking.md, "Cost"), and one call has a time
budget (``deadline_seconds``, 10 s by default): past it, `MaskingTimeout` is raised at the next
checkpoint and the guard denies the call.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from guardrails_plugin import confusables
from guardrails_plugin.errors import ConfigError, InputTooLarge, MaskingError
from guardrails_plugin.masking.cells import find_cells
from guardrails_plugin.masking.deadline import (
    DEFAULT_DEADLINE_SECONDS,
    Budget,
    Monotonic,
    checkpoint,
)
from guardrails_plugin.masking.detectors import builtin_detectors
from guardrails_plugin.masking.detectors.base import Detector, Leaf, detectors
from guardrails_plugin.masking.detectors.names import NOT_NAMES
from guardrails_plugin.masking.detectors.ner import NerDetector
from guardrails_plugin.masking.normalize import Folded, fold
from guardrails_plugin.masking.spans import Span, resolve
from guardrails_plugin.masking.strategies import replacement
from guardrails_plugin.masking.vault import Vault
from guardrails_plugin.masking.walk import JSON_MARK, Limits, collect, rebuild
from guardrails_plugin.secret_keys import decode_key, require_key_length
from guardrails_plugin.types import Finding, MaskingSettings

__all__ = ["Analysis", "MaskResult", "Masker"]

log = logging.getLogger(__name__)

KEY_ENV = "GUARDRAILS_MASK_KEY"
_CACHE_SIZE = 4096
_SAFE = "SAFE"
# What a leaf's findings depend on besides its text: its key, two parents, its sibling keys.
_CacheKey = tuple[str, str | None, tuple[str, ...], frozenset[str]]
# Leaves of bigger mappings are not cached: a hit compares the sibling sets key by key, so a
# mapping of n keys seen twice would cost n² (the sets of one call are one object, not copies).
_CACHE_MAX_SIBLINGS = 64
# Non-batched detectors get leaves in slices this big, with a deadline check between slices.
_SLICE_CHARS = 65_536
_SLICE_LEAVES = 512


@dataclass(frozen=True)
class MaskResult:
    """The masked payload, what was found, and the labels whose strategy is ``block``."""

    value: Any
    findings: tuple[Finding, ...]
    blocked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Analysis:
    """What `Masker.analyze` found in a payload, ready to be masked with any settings."""

    value: Any
    shadow: Any
    leaves: list[str]
    findings: tuple[Finding, ...]
    per_leaf: dict[int, list[tuple[int, int, str]]]
    key: bytes

    def apply(
        self, *, vault: Vault | None = None, settings: MaskingSettings | None = None
    ) -> MaskResult:
        vault = vault if vault is not None else Vault()
        settings = settings or MaskingSettings()
        blocked: set[str] = set()

        def replace(label: str, text: str) -> str:
            strategy = settings.strategy_for(label)
            if strategy == "block":
                blocked.add(label)
            return replacement(label, text, strategy, vault, self.key)

        result = self.rewrite(replace)
        return MaskResult(result, self.findings, tuple(sorted(blocked)))

    def rewrite(self, replace: Callable[[str, str], str], *, only_changed: bool = False) -> Any:
        """The payload with each finding's text replaced by ``replace(label, text)``.

        ``only_changed``: a value whose text comes back unchanged keeps its original form (a
        sensitive integer stays that integer instead of becoming `MASKED_NUMBER`), for views
        that show some values as they are (the reviewer's, `approvals.review`)."""
        masked: dict[int, str] = {}
        for index, spans in self.per_leaf.items():
            text = self.leaves[index]
            out, last = [], 0
            for start, end, label in spans:
                out.append(text[last:start])
                out.append(replace(label, text[start:end]))
                last = end
            out.append(text[last:])
            new = "".join(out)
            if not only_changed or new != text:
                masked[index] = new
        return rebuild(self.shadow, self.value, masked.get)


class Masker:
    """Thread-safe; build one and share it. ``detectors`` defaults to the registry's.

    ``hash_key`` keys the `hash` strategy (else ``GUARDRAILS_MASK_KEY``, hex or base64; 32 bytes
    or more). With neither, a `Guard` keys it from its store's key; a masker used alone draws a
    random key, so its hashes hold within its process only (docs/operations.md, "The keys").

    ``deadline_seconds`` bounds the time one `analyze`/`mask`/`scan` call may take (None: no
    bound); past it the call raises `MaskingTimeout`. ``clock`` is the monotonic clock the
    deadline is measured on (injectable for tests).
    """

    def __init__(
        self,
        *,
        detectors: Sequence[Detector] | None = None,
        model: str | None = None,
        ner: bool = True,
        settings: MaskingSettings | None = None,
        allow: Iterable[str] = (),
        hash_key: bytes | None = None,
        limits: Limits | None = None,
        deadline_seconds: float | None = DEFAULT_DEADLINE_SECONDS,
        clock: Monotonic = time.monotonic,
    ) -> None:
        if deadline_seconds is not None and not deadline_seconds > 0:
            raise ValueError(f"deadline_seconds must be positive or None, not {deadline_seconds!r}")
        chosen = list(detectors) if detectors is not None else _registered()
        if not ner:
            chosen = [d for d in chosen if d.name != "ner"]
        elif model is not None:
            chosen = [NerDetector(model) if d.name == "ner" else d for d in chosen]
        self.detectors = chosen
        self.settings = settings or MaskingSettings()
        self.allow = {a.casefold() for a in allow}
        self._configured_key = _hash_key(hash_key)
        self._key = self._configured_key or secrets.token_bytes(32)
        self.limits = limits or Limits()
        self.deadline_seconds = deadline_seconds
        self._clock = clock
        confusables.preload()  # once per process, so no call pays for it
        # Detection results of short, recently seen leaves: tool payloads repeat themselves.
        # Held in memory only, like the vault; bounded.
        self._cache: OrderedDict[_CacheKey, tuple[Span, ...]] = OrderedDict()
        self._cache_lock = threading.Lock()

    # --- public API ----------------------------------------------------------------------------

    @property
    def has_hash_key(self) -> bool:
        """Whether the `hash` key was configured (``hash_key=`` or ``GUARDRAILS_MASK_KEY``)
        rather than drawn at random for this masker, so valid in this process only."""
        return self._configured_key is not None

    def keyed(self, hash_key: bytes) -> Masker:
        """This masker hashing with ``hash_key``: same detectors, settings and cache (what is
        found does not depend on the key). A `Guard` keys a masker that has no configured key
        from its store's key, so `hash` values stay the same across runs of one store."""
        twin = copy.copy(self)
        twin._configured_key = twin._key = require_key_length(hash_key, "Masker.keyed(hash_key)")
        return twin

    def scan(self, value: Any) -> list[Finding]:
        """What is sensitive in ``value``, without changing it."""
        return list(self._analyze(value)[2])

    def locate(self, text: str) -> list[tuple[int, int, str]]:
        """Findings in ``text`` as ``(start, end, label)`` offsets into ``text`` itself, also when
        the text is JSON (whose findings live in its parsed string leaves)."""
        _, leaves, _, per_leaf = self._analyze(text)
        refs = collect(text, self.limits)[1]
        out: set[tuple[int, int, str]] = set()
        for index, spans in per_leaf.items():
            depth = refs[index].path.count(JSON_MARK)
            for start, end, label in spans:
                if depth == 0:
                    out.add((start, end, label))
                    continue
                value = leaves[index][start:end]
                for form in _escaped_forms(value, depth):
                    at = text.find(form)
                    while at >= 0:
                        out.add((at, at + len(form), label))
                        at = text.find(form, at + 1)
        return sorted(out)

    def mask(
        self, value: Any, *, vault: Vault | None = None, settings: MaskingSettings | None = None
    ) -> MaskResult:
        """``value`` with every finding replaced by its label's strategy (see `MaskingSettings`).

        Pass the run's `Vault` so one value keeps one placeholder across calls of a run.
        """
        return self.analyze(value).apply(vault=vault, settings=settings or self.settings)

    def analyze(self, value: Any) -> Analysis:
        """Find once, mask later: `Analysis.findings` now, `Analysis.apply` when the settings
        are known (the guard needs the findings to pick the policy rule that picks them)."""
        shadow, leaves, findings, per_leaf = self._analyze(value)
        return Analysis(value, shadow, leaves, tuple(findings), per_leaf, self._key)

    # --- the pipeline --------------------------------------------------------------------------

    def _analyze(
        self, value: Any
    ) -> tuple[Any, list[str], list[Finding], dict[int, list[tuple[int, int, str]]]]:
        with Budget(self.deadline_seconds, self._clock).running():
            return self._analyze_within_budget(value)

    def _analyze_within_budget(
        self, value: Any
    ) -> tuple[Any, list[str], list[Finding], dict[int, list[tuple[int, int, str]]]]:
        try:
            shadow, refs = collect(value, self.limits)
        except InputTooLarge:
            raise
        except RecursionError:
            raise InputTooLarge("payload nested too deeply to walk") from None
        folded: list[Folded] = []
        leaves: list[Leaf] = []
        for index, ref in enumerate(refs):
            checkpoint("reading string %d of %d", index + 1, len(refs))
            folded_text = fold(ref.text)
            folded.append(folded_text)
            cells = find_cells(folded_text.text)
            leaves.append(Leaf(folded_text.text, ref.key, ref.parents, cells, [], ref.siblings))
        spans = self._detect(leaves)
        resolved = []
        for index, found in enumerate(spans):
            checkpoint("settling overlaps in string %d of %d", index + 1, len(spans))
            resolved.append(resolve(found))
        _spread_names(leaves, resolved)
        findings: list[Finding] = []
        per_leaf: dict[int, list[tuple[int, int, str]]] = {}
        for index, (ref, fold_map, chosen) in enumerate(zip(refs, folded, resolved, strict=True)):
            kept = self._finalize(ref.text, fold_map, chosen)
            if kept:
                per_leaf[index] = [(s, e, label) for s, e, label, _ in kept]
                findings.extend(
                    Finding(label, ref.path, s, e, span.detector, span.score)
                    for s, e, label, span in kept
                )
        return shadow, [r.text for r in refs], findings, per_leaf

    def _detect(self, leaves: list[Leaf]) -> list[list[Span]]:
        """Every detector's spans per leaf; short leaves seen recently come from the cache."""
        spans: list[list[Span] | None] = [None] * len(leaves)
        keys: list[_CacheKey | None] = []
        with self._cache_lock:
            for index, leaf in enumerate(leaves):
                key: _CacheKey | None = (
                    (leaf.text, leaf.key, leaf.parents[-2:], leaf.siblings)
                    if len(leaf.text) <= 512 and len(leaf.siblings) <= _CACHE_MAX_SIBLINGS
                    else None
                )
                keys.append(key)
                cached = self._cache.get(key) if key is not None else None
                if cached is not None:
                    self._cache.move_to_end(key)  # type: ignore[arg-type]
                    spans[index] = list(cached)
        todo = [i for i, found in enumerate(spans) if found is None]
        if todo:
            fresh = self._run_detectors([leaves[i] for i in todo])
            with self._cache_lock:
                for i, found in zip(todo, fresh, strict=True):
                    spans[i] = found
                    cache_key = keys[i]
                    if cache_key is not None:
                        self._cache[cache_key] = tuple(found)
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return [s if s is not None else [] for s in spans]

    def _run_detectors(self, leaves: list[Leaf]) -> list[list[Span]]:
        spans: list[list[Span]] = [[] for _ in leaves]
        # Cheap detectors first; batched ones (NER) then see what is already found and skip it.
        for detector in sorted(self.detectors, key=lambda d: d.batched):
            if detector.batched:
                for leaf, so_far in zip(leaves, spans, strict=True):
                    leaf.found = so_far
                checkpoint("detector %r", detector.name)
                _run_one(detector, leaves, spans, 0)
                continue
            # Others see the leaves a slice at a time, so the deadline is checked in between.
            for lo, hi in _slices(leaves):
                checkpoint(
                    "detector %r, strings %d-%d of %d", detector.name, lo + 1, hi, len(leaves)
                )
                _run_one(detector, leaves[lo:hi], spans, lo)
        return spans

    def _finalize(
        self, text: str, folded: Folded, chosen: list[Span]
    ) -> list[tuple[int, int, str, Span]]:
        out = []
        for span in chosen:
            if span.label == _SAFE:
                continue
            start, end = folded.span(span.start, span.end)
            if self.allow and text[start:end].casefold() in self.allow:
                continue
            out.append((start, end, span.label, span))
        return out


def _run_one(detector: Detector, leaves: list[Leaf], spans: list[list[Span]], offset: int) -> None:
    try:
        found = detector.detect(leaves)
    except MaskingError:
        raise  # MaskingTimeout from a checkpoint inside the detector, or a detector's own
    except Exception as exc:
        message = f"masking detector {detector.name!r} failed: {exc}"
        if not isinstance(exc, ConfigError) or _first_time(message):
            log.error("%s", message)
        raise MaskingError(message) from exc
    if len(found) != len(leaves):
        raise MaskingError(f"masking detector {detector.name!r} returned a wrong shape")
    for index, leaf_spans in enumerate(found, offset):
        spans[index].extend(leaf_spans)


_reported: set[str] = set()
_reported_lock = threading.Lock()


def _first_time(message: str) -> bool:
    """A setup problem (a missing spaCy model) fails every call the same way until the process
    restarts: each call is still denied, but the log says why once, not once per call."""
    with _reported_lock:
        if message in _reported:
            return False
        _reported.add(message)
        return True


def _slices(leaves: list[Leaf]) -> list[tuple[int, int]]:
    """``(lo, hi)`` ranges of leaves, each up to `_SLICE_CHARS` characters or `_SLICE_LEAVES`
    strings (a longer string is a slice of its own)."""
    out: list[tuple[int, int]] = []
    lo, chars = 0, 0
    for index, leaf in enumerate(leaves):
        if index > lo and (chars + len(leaf.text) > _SLICE_CHARS or index - lo >= _SLICE_LEAVES):
            out.append((lo, index))
            lo, chars = index, 0
        chars += len(leaf.text)
    if lo < len(leaves):
        out.append((lo, len(leaves)))
    return out


def _escaped_forms(value: str, depth: int) -> set[str]:
    forms = set()
    for ascii_only in (False, True):
        escaped = value
        for _ in range(depth):
            escaped = json.dumps(escaped, ensure_ascii=ascii_only)[1:-1]
        forms.add(escaped)
    return {f for f in forms if f}


def _registered() -> list[Detector]:
    builtin_detectors()
    return detectors()


_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]{2,}")


def _spread_names(leaves: list[Leaf], resolved: list[list[Span]]) -> None:
    """A name found once is masked wherever else it appears in the payload ('Janett Albers' in
    From:, 'Janett' in the sign-off), whole words only, case as written.

    The names become one trie-shaped pattern: at each position at most one branch can match
    the next character, so a scan costs O(text x longest name), however many names there are
    (an alternation of 4,000 names was tried name by name at every position).
    """
    names: set[str] = set()
    for leaf, spans in zip(leaves, resolved, strict=True):
        for span in spans:
            if span.label == "PERSON" and span.end - span.start <= _MAX_NAME:
                value = leaf.text[span.start : span.end]
                names.add(value)
                words = [
                    w for w in _WORD.findall(value) if w.lower() not in NOT_NAMES and len(w) >= 3
                ]
                names.update(words)
                # Typed in lower case in a chat ('søren mikkelsen'), written capitalised in
                # the reply ('Bästa Søren,').
                names.update(w[0].upper() + w[1:] for w in words if w.islower())
                if _CJK_FULL.fullmatch(value):
                    names.add(value[1:])  # '胡浩然' is addressed by the given name, '浩然'

    if not names:
        return
    pattern = re.compile(r"(?<![\w@.])(?:" + _trie_pattern(names) + r")(?![\w@])")
    for index, leaf in enumerate(leaves):
        checkpoint("spreading names in string %d of %d", index + 1, len(leaves))
        extra = [
            Span(m.start(), m.end(), "PERSON", "names.spread", 0.7)
            for m in pattern.finditer(leaf.text)
        ]
        if extra:
            resolved[index] = resolve(resolved[index] + extra)


_MAX_NAME = 100
# A Chinese full name of three characters: a one-character family name and a given name.
_CJK_FULL = re.compile(r"[\u3400-\u9fff]{3}")


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex matching exactly ``words``, longest first, shaped as a trie."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _render(root)


def _render(node: dict[str, Any]) -> str:
    branches = [re.escape(ch) + _render(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" not in node:
        return body
    # The word may end here: try the longer continuation first, as the old alternation did.
    return f"(?:{body})?" if len(branches) == 1 else f"{body}?"


def _hash_key(explicit: bytes | None) -> bytes | None:
    """The configured `hash` key: explicit bytes beat ``GUARDRAILS_MASK_KEY``; None when neither
    is set. Either must be 32 bytes or more: a short key makes the hashes of low-entropy values
    (a PIN, a phone number) easy to reverse by trying them all."""
    if explicit is not None:
        return require_key_length(explicit, "Masker(hash_key=...)")
    text = os.environ.get(KEY_ENV)
    return decode_key(text, f"${KEY_ENV}") if text else None
