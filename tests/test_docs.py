"""The documentation matches the code: every policy key and operator, every detector and
strategy, every YAML snippet loads and every Python snippet runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from guardrails_plugin.masking.detectors import builtin_detectors, detectors
from guardrails_plugin.masking.strategies import STRATEGIES
from guardrails_plugin.policy import Policy
from guardrails_plugin.policy import schema as policy_schema
from guardrails_plugin.policy.operators import BUILTIN_OPERATORS

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


def models() -> list[type[BaseModel]]:
    return [
        m
        for m in vars(policy_schema).values()
        if isinstance(m, type)
        and issubclass(m, BaseModel)
        and m.__module__ == policy_schema.__name__
        and not m.__name__.startswith("_")
    ]


def test_policy_reference_covers_every_key_and_operator():
    text = (DOCS / "policy.md").read_text()
    missing = [
        f"{m.__name__}.{f.alias or n}"
        for m in models()
        for n, f in m.model_fields.items()
        if f"`{f.alias or n}`" not in text
    ]
    assert missing == []
    assert [op for op in BUILTIN_OPERATORS if f"`{op}`" not in text] == []
    for literal in (
        "allow",
        "deny",
        "require_approval",
        "placeholder",
        "partial",
        "hash",
        "redact",
        "block",
    ):
        assert f"`{literal}`" in text


def test_masking_reference_covers_every_detector_and_strategy():
    builtin_detectors()
    text = (DOCS / "masking.md").read_text()
    assert [d.name for d in detectors() if f"`{d.name}`" not in text] == []
    assert [s for s in STRATEGIES if f"`{s}`" not in text] == []


def snippets(language: str) -> list[tuple[str, str]]:
    found = []
    for path in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        for block in re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.DOTALL):
            found.append((path.name, block))
    return found


@pytest.mark.parametrize(("where", "block"), snippets("yaml"), ids=lambda v: str(v)[:30])
def test_every_yaml_snippet_loads(where, block):
    data = yaml.safe_load(block)
    if isinstance(data, dict) and "version" in data:
        Policy.from_string(block, name=where)


def _fresh_user_env() -> dict[str, str]:
    """The environment of a user who has installed the package and set nothing of ours: no
    audit key, no database or policy variable, so a snippet creates what it needs itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDRAILS_")}
    # This checkout's code, whatever the interpreter has installed (a worktree, an sdist).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _run_alone(block: str, folder: Path) -> subprocess.CompletedProcess[str]:
    script = folder / "example.py"
    script.write_text(block, encoding="utf-8")
    return subprocess.run(
        [sys.executable, script.name],
        cwd=folder,
        env=_fresh_user_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("where", "block"),
    snippets("python"),
    ids=[f"{where}-{n}" for n, (where, _) in enumerate(snippets("python"))],
)
def test_every_python_snippet_runs_alone_twice_in_a_fresh_folder(where, block, tmp_path):
    """Issue 14 #1 and #4: a ```python block is a program a reader pastes into a file and runs
    on its own: in an empty folder holding only a copy of `policies/` (what the README tells a
    reader to have), in a process of its own, with no variable of ours set, and twice in a row
    in the same folder (so a fixed id or a file left by the first run cannot break the second).
    Whatever it writes stays in that folder. A fragment that is not meant to run alone is fenced
    as ```text, not ```python."""
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    for attempt in ("first", "second"):
        done = _run_alone(block, tmp_path)
        assert done.returncode == 0, (
            f"{where}: the snippet failed on its {attempt} run in a fresh folder:\n"
            f"{done.stderr[-3000:]}\n--- snippet ---\n{block}"
        )
        assert "Traceback" not in done.stdout + done.stderr


def test_docs_mention_the_operations_commands():
    text = (DOCS / "operations.md").read_text()
    for command in (
        "audit verify",
        "audit checkpoint",
        "audit export",
        "slack serve",
        "policy check",
        "pending",
    ):
        assert f"guardrails-plugin {command}" in text


def test_every_test_the_security_model_cites_exists():
    """docs/security.md names the test behind each promise; a renamed test must not leave a
    promise pointing at nothing."""
    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)(?:::(\w+))?", text))
    bare = set(re.findall(r"`(test_\w+\.py)`", text))
    assert len(cited) > 60
    missing = []
    for path, name, _method in sorted(cited):  # a class's test method may be generated
        source = (REPO / path).read_text(encoding="utf-8")
        if not re.search(rf"^(?:def|class) {name}\b|^{name} = ", source, re.M):
            missing.append(f"{path}::{name}")
    for name in sorted(bare):
        if not list((REPO / "tests").rglob(name)):
            missing.append(name)
    assert missing == []
