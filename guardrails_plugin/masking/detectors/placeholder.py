"""Placeholders the masker minted (``<API_KEY_1>``) carry their data class wherever they go.

The model only ever sees placeholders, so when it passes one on, the call carries that class of
data as surely as if the literal value were there: `data:` rules, per-class strategies (``block``)
and the reviewer's view must see it. The label names the class, so this needs no vault and works
in any process (a Slack app re-checking an edit). A placeholder whose label is no registered data
class is plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

from guardrails_plugin import data_classes
from guardrails_plugin.masking.detectors.base import Leaf
from guardrails_plugin.masking.spans import Span
from guardrails_plugin.masking.vault import PLACEHOLDER

__all__ = ["PLACEHOLDER_SCORE", "PlaceholderDetector"]

# Above every other detector: a placeholder is certain, and nothing may split it.
PLACEHOLDER_SCORE = 2.0


class PlaceholderDetector:
    name = "placeholder"
    batched = False

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for leaf in leaves:
            spans = []
            if "<" in leaf.text:
                for m in PLACEHOLDER.finditer(leaf.text):
                    if data_classes.get(m.group("label")) is not None:
                        spans.append(
                            Span(m.start(), m.end(), m.group("label"), self.name, PLACEHOLDER_SCORE)
                        )
            out.append(spans)
        return out
