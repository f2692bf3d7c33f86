"""The package's shape: public API, optional frameworks, and where heavy imports may live."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import guardrails_plugin

PACKAGE = Path(guardrails_plugin.__file__).parent

FRAMEWORKS = (
    "langchain",
    "langchain_core",
    "langgraph",
    "llama_index",
    "slack_bolt",
    "slack_sdk",
    # The web service's stack (issue 16): only guardrails_plugin/web/ imports it.
    "starlette",
    "uvicorn",
    "authlib",
    "joserfc",
    "jinja2",
    "mcp",
    "opentelemetry",
)
HEAVY = ("spacy", "sqlite_utils")

# Modules allowed to import each heavy dependency: exactly one wrapper each, plus the adapters.
ALLOWED = {
    "spacy": {"masking/spacy_model.py"},
    "sqlite_utils": {"store/sqlite.py", "store/notify_state.py"},
}


def test_public_api_is_sorted_and_complete():
    names = guardrails_plugin.__all__
    assert names == sorted(names)
    public = {n for n in vars(guardrails_plugin) if not n.startswith("_")}
    # Submodules appear as attributes once imported; everything else must be listed.
    leaked = {
        n
        for n in public - set(names)
        if not (PACKAGE / n).exists() and n + ".py" not in {p.name for p in PACKAGE.iterdir()}
    }
    assert leaked == set()
    for name in names:
        assert hasattr(guardrails_plugin, name)


def test_import_works_with_frameworks_blocked_and_loads_no_heavy_module():
    blocked = (*FRAMEWORKS, "celpy")
    code = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {blocked!r}:
                    raise ImportError("blocked for this test: " + name)
                return None

        sys.meta_path.insert(0, Block())
        import guardrails_plugin
        from guardrails_plugin import Policy, ToolCall
        from guardrails_plugin.cli import cli
        p = Policy.from_string("version: 1\\ndefaults: {{effect: deny}}\\n")
        assert p.evaluate(ToolCall("x", {{}})).effect.value == "deny"
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {(*blocked, *HEAVY)!r})
        print(loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_modules_import_no_framework_spacy_or_sqlite_utils():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("integrations/", "notify/slack/", "web/")):
            continue
        for module in _imports(path) & {*FRAMEWORKS, *HEAVY}:
            if rel not in ALLOWED.get(module, set()):
                offenders.append(f"{rel} imports {module}")
    assert offenders == []


def test_py_typed_marker_ships():
    assert (PACKAGE / "py.typed").is_file()


def test_every_data_file_of_the_package_is_declared_to_ship():
    """A file the package reads at run time (the inbox's templates and static files) must be in
    ``package-data``, or a non-editable install serves a broken inbox while every test passes
    on the editable checkout."""
    import fnmatch
    import tomllib

    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["guardrails_plugin"]
    data = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    ]
    assert data and [f for f in data if not any(fnmatch.fnmatch(f, g) for g in globs)] == []
