from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from guardrails_plugin.approvals import ApprovalBroker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.factory import open_store
from guardrails_plugin.testing import FrozenClock

from .helpers import KEY, POLICY
from .pg_cluster import Cluster, missing_reason

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


# --- backends ----------------------------------------------------------------------------------
# `store` is SQLite unless a folder's conftest parametrises `backend` (tests/store and
# tests/approvals run the store contract on both). PostgreSQL tests use one throw-away cluster
# per session and a fresh database per test; in CI (CI=true) a missing PostgreSQL fails them.


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="session")
def pg_cluster():
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    cluster = Cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> Iterator[str]:
    """A fresh, empty database on the session's cluster (superuser URL)."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def store_url(backend: str, db_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's store lives: the SQLite file's path, or a PostgreSQL URL."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(db_path)


@pytest.fixture
def store(store_url: str, clock: FrozenClock):
    s = open_store(store_url, key=KEY, clock=clock)
    yield s
    s.close()


@pytest.fixture
def broker(store, policy, clock) -> ApprovalBroker:
    return ApprovalBroker(store, policy, clock=clock)


# What tools, not tests, leave in a checkout: caches a test run may create or refresh.
_CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".venv"}


def _tree_state() -> dict[str, str] | None:
    """Every path `git status` shows (untracked, modified, and ignored ones such as `*.db`, which
    .gitignore would otherwise hide) with a digest of its content; None outside a git checkout."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return None
    listed = subprocess.run(
        ["git", "status", "--porcelain=v1", "-z", "--ignored=matching", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        return None
    state = {}
    for entry in listed.stdout.decode("utf-8", "replace").split("\0"):
        name = entry[3:]
        if not name or any(p in _CACHES or p.endswith(".egg-info") for p in Path(name).parts):
            continue
        path = REPO / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[name] = f"{entry[:2]} {digest}"
    return state


@pytest.fixture(scope="session", autouse=True)
def _tests_leave_the_checkout_as_they_found_it() -> Iterator[None]:
    """Issue 14 #4: tests and the examples they run write into temporary folders only. Anything
    new or changed in `git status` (ignored files included) after the session is a test writing
    into the working tree, and fails the run. (Editing files while the suite runs trips it too.)"""
    before = _tree_state()
    yield
    after = _tree_state()
    if before is None or after is None:
        return
    # `make screenshot` (GUARDRAILS_UPDATE_SCREENSHOT=1) refreshes the inbox picture in docs/.
    allowed = (
        {"docs/images/inbox-request.png"}
        if os.environ.get("GUARDRAILS_UPDATE_SCREENSHOT") == "1"
        else set()
    )
    changed = sorted(
        name for name, state in after.items() if before.get(name) != state and name not in allowed
    )
    if changed:
        pytest.fail(
            "the test run wrote into the working tree (use tmp_path or a temporary cwd): "
            + ", ".join(changed),
            pytrace=False,
        )
