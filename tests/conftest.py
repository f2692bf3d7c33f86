from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from guardrails_plugin.policy import Policy

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a dedented YAML file under tmp_path and return its path."""

    def _write(text: str, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(write: Callable[..., Path]) -> Callable[..., Policy]:
    def _load(text: str, name: str = "policy.yaml") -> Policy:
        return Policy.load(write(text, name))

    return _load
