"""``guardrails-plugin mask``: mask a file or stdin, text or JSON, as the guard would."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from guardrails_plugin.cli import render
from guardrails_plugin.errors import ConfigError, MaskingError
from guardrails_plugin.types import MaskingSettings

__all__ = ["mask"]

_STRATEGIES = ["placeholder", "partial", "hash", "redact"]


@click.command()
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option(
    "--strategy",
    type=click.Choice(_STRATEGIES),
    default="placeholder",
    show_default=True,
    help="How found values are replaced.",
)
@click.option(
    "--findings",
    "show_findings",
    is_flag=True,
    help='Print JSON {"masked": ..., "findings": [...]} instead of the masked text.',
)
@click.option("--no-ner", is_flag=True, help="Skip spaCy NER (faster; fewer names found).")
@click.option("--allow", multiple=True, help="A value never to mask; repeatable.")
def mask(
    source: str, strategy: str, show_findings: bool, no_ner: bool, allow: tuple[str, ...]
) -> None:
    """Mask PII and secrets in FILE (or stdin): text, logs, CSV, or JSON nested any depth.

    JSON input stays valid JSON; other text keeps its shape with values replaced.
    """
    from guardrails_plugin.masking import Masker

    text = _read(source)
    payload: Any = text
    try:
        payload = json.loads(text)
        is_json = isinstance(payload, dict | list)
    except ValueError:
        is_json = False
    if not is_json:
        payload = text
    if not no_ner:
        _require_spacy_model()
    try:
        masker = Masker(ner=not no_ner, settings=MaskingSettings(strategy=strategy), allow=allow)
        result = masker.mask(payload)
    except (ConfigError, MaskingError) as exc:  # a bad key or spaCy model, an oversized input
        raise click.ClickException(str(exc)) from None
    if strategy == "hash" and not masker.has_hash_key:
        click.echo(
            "note: these hashes hold for this run only (a random key); set GUARDRAILS_MASK_KEY "
            "to get the same hashes every time (docs/operations.md, 'The keys').",
            err=True,
        )
    if show_findings:
        click.echo(
            render.dumps(
                {
                    "masked": result.value,
                    "findings": [
                        {
                            "label": f.data_class,
                            "detector": f.detector,
                            "score": f.score,
                            "path": list(f.path),
                            "start": f.start,
                            "end": f.end,
                        }
                        for f in result.findings
                    ],
                }
            )
        )
    elif is_json:
        click.echo(json.dumps(result.value, ensure_ascii=False, indent=2))
    else:
        click.echo(result.value, nl=not str(result.value).endswith("\n"))


def _require_spacy_model() -> None:
    """Refuse up front, once: found mid-way, a missing model is logged by the masker and then
    reported again as this command's error."""
    from guardrails_plugin.masking.spacy_model import find_model_path

    try:
        find_model_path()
    except ConfigError as exc:
        raise click.ClickException(f"{exc}; or pass --no-ner to mask without names") from None


def _read(source: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()  # noqa: SIM115
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {source!r}: {exc.strerror}", param_hint="FILE"
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise click.BadParameter(f"{source!r} is not UTF-8 text", param_hint="FILE") from None
