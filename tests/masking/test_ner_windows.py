"""Issue 13 (speed): NER runs only where a name it could report can be.

NER's persons are kept only when they are two to four capitalised words (`_plausible`), so a
capitalised word with no capitalised neighbour (a sentence start, a German noun) is no reason to
run the model: on prose-heavy payloads that cut the text sent to the model by three quarters.
"""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker
from guardrails_plugin.masking.detectors.ner import _windows


@pytest.mark.parametrize(
    "line",
    [
        "Bestellung wurde gestern versandt und kommt morgen an",
        "Rechnung liegt bei. Versand erfolgt morgen.",
        "Deployment finished, Rollback not needed. Cluster healthy.",
    ],
)
def test_lone_capitalised_words_do_not_reach_the_model(line: str) -> None:
    assert _windows(line, None, 0) == []


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("the refund was approved by Ottoline Brackenridge yesterday", "Ottoline Brackenridge"),
        ("escalated to Jan de Vries for review", "Jan de Vries"),
        ("Signed: Teodora Vukašinović", "Teodora Vukašinović"),
    ],
)
def test_runs_of_capitalised_words_do(line: str, name: str) -> None:
    windows = _windows(line, None, 0)
    assert any(line[s:e].find(name) >= 0 for s, e in windows)


def test_a_name_found_by_ner_alone_is_still_masked() -> None:
    # Neither lexicon nor cue: only the model can find this one.
    text = "The ticket was closed after Ottoline Brackenridge replied."
    assert Masker(ner=False).mask(text).value == text
    assert "Brackenridge" not in Masker().mask(text).value
