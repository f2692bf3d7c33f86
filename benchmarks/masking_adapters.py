"""Maskers under benchmark, behind one interface: ``mask(text) -> str`` and
``analyze(text) -> [(start, end, label)]``, as ``/work/shared/bench/eval_masker.py`` expects.

Engines are built on first use and kept for the process, so loading models stays out of the
timed loop (the caller does one warm-up call to pay for it).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

Span = tuple[int, int, str]


@functools.cache
def _presidio() -> tuple[Any, Any]:
    """Presidio's analyzer and anonymizer as shipped (default recognizers, NER settings and score
    threshold), except the spaCy model: ours, loaded by path, so Presidio never downloads one."""
    # tldextract (used by the email recognizer) would fetch the public suffix list over HTTP on
    # first use; the empty URL list makes it use the snapshot it ships. Read at its import.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import presidio_analyzer
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    from guardrails_plugin.masking.spacy_model import find_model_path

    # Presidio's own default NLP configuration (it ignores ORGANIZATION, CARDINAL, ... entities);
    # only the model changes: en_core_web_lg by name there, our model folder here.
    default_conf = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    conf = yaml.safe_load(default_conf.read_text(encoding="utf-8"))
    conf["models"] = [{"lang_code": "en", "model_name": str(find_model_path())}]
    nlp_engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    return analyzer, AnonymizerEngine()


class Presidio:
    """Microsoft Presidio with default recognizers; every entity becomes ``<ENTITY_TYPE>``."""

    name = "presidio"

    @staticmethod
    def mask(text: str) -> str:
        analyzer, anonymizer = _presidio()
        results = analyzer.analyze(text=text, language="en")
        # Presidio's default operator is "replace", whose default value is "<ENTITY_TYPE>".
        return str(anonymizer.anonymize(text=text, analyzer_results=results).text)

    @staticmethod
    def analyze(text: str) -> list[Span]:
        analyzer, _ = _presidio()
        return [(r.start, r.end, r.entity_type) for r in analyzer.analyze(text=text, language="en")]


@functools.cache
def _masker() -> Any:
    """One ``Masker`` for the process, imported late so ``--only presidio`` runs without it."""
    from guardrails_plugin.masking import Masker

    return Masker()


class Ours:
    """``guardrails_plugin.masking.Masker`` with its defaults."""

    name = "ours"

    @staticmethod
    def mask(text: str) -> str:
        return str(_masker().mask(text).value)

    @staticmethod
    def analyze(text: str) -> list[Span]:
        # Offsets into the record's own text, also when it is JSON (see Masker.locate).
        return _masker().locate(text)


ADAPTERS: dict[str, type[Presidio] | type[Ours]] = {"presidio": Presidio, "ours": Ours}
