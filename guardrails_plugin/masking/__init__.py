"""Schema-less masking of PII and secrets in tool arguments and outputs.

The spaCy model is located by `guardrails_plugin.masking.spacy_model` (the one module that
imports spaCy), and only when NER is first needed.
"""
