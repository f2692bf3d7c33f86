"""Detectors. Built-ins register through `register_detector`, the same door a user's own use."""

from __future__ import annotations

import threading

from guardrails_plugin.masking.detectors.address import AddressDetector
from guardrails_plugin.masking.detectors.base import (
    Cell,
    Detector,
    Leaf,
    detectors,
    register_detector,
    unregister_detector,
)
from guardrails_plugin.masking.detectors.encoded import EncodedDetector
from guardrails_plugin.masking.detectors.identifiers import IdentifierDetector
from guardrails_plugin.masking.detectors.keyctx import KeyContextDetector
from guardrails_plugin.masking.detectors.lexicon import LexiconNameDetector
from guardrails_plugin.masking.detectors.names import NameShapeDetector
from guardrails_plugin.masking.detectors.national_ids import NationalIdDetector
from guardrails_plugin.masking.detectors.ner import NerDetector
from guardrails_plugin.masking.detectors.patterns import PatternDetector
from guardrails_plugin.masking.detectors.person_chat import PersonChatDetector
from guardrails_plugin.masking.detectors.person_cues import PersonCueDetector
from guardrails_plugin.masking.detectors.phones_national import NationalPhoneDetector
from guardrails_plugin.masking.detectors.placeholder import PlaceholderDetector
from guardrails_plugin.masking.detectors.secrets import SecretsDetector
from guardrails_plugin.masking.spans import Span

__all__ = [
    "Cell",
    "Detector",
    "Leaf",
    "builtin_detectors",
    "detectors",
    "register_detector",
    "unregister_detector",
]

_lock = threading.Lock()
_done = False


def _decoded_scan(text: str) -> list[Span]:
    leaf = [Leaf(text)]
    return (
        SecretsDetector().detect(leaf)[0]
        + PatternDetector().detect(leaf)[0]
        + NationalIdDetector().detect(leaf)[0]
        + NationalPhoneDetector().detect(leaf)[0]
    )


def builtin_detectors() -> None:
    """Register the built-in detectors once (first `Masker` does it)."""
    global _done
    with _lock:
        if _done:
            return
        for detector in (
            PlaceholderDetector(),
            SecretsDetector(),
            PatternDetector(),
            NationalIdDetector(),
            NationalPhoneDetector(),
            IdentifierDetector(),
            KeyContextDetector(),
            NameShapeDetector(),
            LexiconNameDetector(),
            PersonCueDetector(),
            PersonChatDetector(),
            AddressDetector(),
            EncodedDetector(_decoded_scan),
            NerDetector(),
        ):
            register_detector(detector, replace=True)
        _done = True
