from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.testing import FrozenClock

from .helpers import KEY, POLICY

REPO = Path(__file__).resolve().parent.parent

# HYPOTHESIS_PROFILE=long runs the property tests and the state machine for much longer. CI
# (CI=true) draws the same examples every run, so a red build always means a changed result;
# random exploration happens on developers' machines, where new counterexamples get fixed.
hypothesis_settings.register_profile("long", max_examples=5000, deadline=None)
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
default = "ci" if os.environ.get("CI") else "default"
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


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


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def policy() -> Policy:
    return Policy.from_string(POLICY)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "guardrails.db"


@pytest.fixture
def store(db_path: Path, clock: FrozenClock):
    s = SQLiteStore(db_path, key=KEY, clock=clock)
    yield s
    s.close()


@pytest.fixture
def broker(store, policy, clock) -> ApprovalBroker:
    return ApprovalBroker(store, policy, clock=clock)
