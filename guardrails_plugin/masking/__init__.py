"""Schema-less masking of PII and secrets in tool arguments and outputs.

`Masker` finds sensitive values in text, JSON nested any depth (JSON inside strings too), CSV,
logs, headers, env files and code, and replaces them by strategy; `Vault` keeps a run's
placeholders reversible. spaCy is imported only by `guardrails_plugin.masking.spacy_model`, and
only when NER first runs.
"""

from guardrails_plugin.masking.detectors import Detector, Leaf, register_detector
from guardrails_plugin.masking.masker import Masker, MaskResult
from guardrails_plugin.masking.spans import Span
from guardrails_plugin.masking.vault import Vault
from guardrails_plugin.masking.walk import Limits

__all__ = [
    "Detector",
    "Leaf",
    "Limits",
    "MaskResult",
    "Masker",
    "Span",
    "Vault",
    "register_detector",
]
