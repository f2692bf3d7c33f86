from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker


@pytest.fixture(scope="session")
def masker() -> Masker:
    """The default masker, NER included (the model loads once per session)."""
    return Masker(hash_key=b"k" * 32)


@pytest.fixture(scope="session")
def fast() -> Masker:
    """Everything but NER: for tests about patterns, structure and strategies."""
    return Masker(ner=False, hash_key=b"k" * 32)
