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
        "see section B. for details",  # an initial alone is no run either
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
        # An initial's full stop ends no clause: initial and surname are one run.
        ("forwarded to E. Castellanos-Ruiz for sign-off", "E. Castellanos-Ruiz"),
        ("owner: W.T. Abernathy-Quist", "W.T. Abernathy-Quist"),
        ("Kind regards, A.-M. Szczepańska", "A.-M. Szczepańska"),
    ],
)
def test_runs_of_capitalised_words_do(line: str, name: str) -> None:
    windows = _windows(line, None, 0)
    assert any(line[s:e].find(name) >= 0 for s, e in windows)


def test_an_initial_and_a_surname_are_masked() -> None:
    text = "forwarded to E. Castellanos-Ruiz for sign-off"
    assert "Castellanos" not in Masker().mask(text).value


def test_a_name_found_by_ner_alone_is_still_masked() -> None:
    # Neither lexicon nor cue: only the model can find this one.
    text = "The ticket was closed after Ottoline Brackenridge replied."
    assert Masker(ner=False).mask(text).value == text
    assert "Brackenridge" not in Masker().mask(text).value
