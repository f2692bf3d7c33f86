"""The spaCy model is found by name or path, loaded by path, and its absence is explained."""

from __future__ import annotations

import subprocess
import sys

import pytest

from guardrails_plugin.errors import ConfigError
from guardrails_plugin.masking import spacy_model


def test_default_model_is_found_by_path_and_runs_ner(monkeypatch):
    monkeypatch.delenv(spacy_model.ENV_VAR, raising=False)
    path = spacy_model.find_model_path()
    assert (path / "config.cfg").is_file()
    nlp = spacy_model.load_model()
    assert nlp.pipe_names == ["ner"]
    doc = nlp("Please email Maria Garcia in Madrid about the invoice.")
    assert ("Maria Garcia", "PERSON") in {(e.text, e.label_) for e in doc.ents}


def test_model_package_is_not_imported():
    code = (
        "import sys; from guardrails_plugin.masking.spacy_model import load_model; load_model(); "
        "print(any(m.startswith('en_core_web_sm') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_env_var_and_explicit_name_and_folder(monkeypatch):
    folder = spacy_model.find_model_path()
    monkeypatch.setenv(spacy_model.ENV_VAR, str(folder))
    assert spacy_model.find_model_path() == folder
    assert spacy_model.find_model_path(str(folder.parent)) == folder  # package folder works too


def test_missing_model_says_what_to_install(monkeypatch):
    monkeypatch.setenv(spacy_model.ENV_VAR, "en_core_web_nonexistent")
    with pytest.raises(ConfigError) as info:
        spacy_model.find_model_path()
    message = str(info.value)
    assert "no spaCy model found" in message and "en_core_web_nonexistent" in message
    assert "requirements/spacy-model.txt" in message and "spacy download en_core_web_sm" in message


def test_folder_without_config(tmp_path):
    with pytest.raises(ConfigError, match=r"holds no config\.cfg"):
        spacy_model.find_model_path(str(tmp_path))
