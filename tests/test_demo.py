"""`guardrails-plugin demo` as a new user meets it: it never touches a file it did not create,
its model says what really happened, and its hints work as printed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails_plugin.cli import cli

REPO = Path(__file__).resolve().parent.parent
MISSING_MODEL = "no spaCy model found (tried 'no_such_spacy_model')"


def demo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The demo in a process of its own, its stdin not a terminal (as under CI or a pipe)."""
    return subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize("existing", ["", "-wal", "-shm", ".key"])
def test_demo_refuses_a_store_it_did_not_create(tmp_path, existing):
    """Issue 14 #3: `demo --db FILE` used to delete FILE, its WAL and its key. It refuses any of
    them that exists, names the file and says what to do, and leaves every byte as it was."""
    db = tmp_path / "guardrails.db"
    theirs = Path(f"{db}{existing}")
    theirs.write_bytes(b"someone's approvals and audit trail")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["demo", "--deny", "--db", str(db)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"{theirs} already exists" in message
    assert "never replaces a file it did not create" in message
    assert "--db with a new file name" in message and "leave --db out" in message
    assert theirs.read_bytes() == b"someone's approvals and audit trail"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_demo_without_db_uses_a_new_temporary_folder_each_run(tmp_path, monkeypatch):
    """Issue 14 #3 and #4: without --db the demo writes nothing into the current folder (a
    checkout's working tree), and a second run works without deleting the first one's store."""
    system_tmp, cwd = tmp_path / "tmp", tmp_path / "checkout"
    system_tmp.mkdir()
    cwd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))  # where mkdtemp puts folders
    monkeypatch.chdir(cwd)
    stores = []
    for _ in range(2):
        result = CliRunner().invoke(cli, ["demo", "--approve"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        stores.append(Path(re.findall(r"audit tail --db (\S+)", result.output)[-1]))
    assert stores[0] != stores[1] and all(p.is_file() for p in stores)
    assert all(system_tmp in p.parents for p in stores)
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize(
    ("answer", "closing"),
    [
        ("--approve", "exported the table once the DBA approved"),
        ("--deny", "did not export the table: it was not approved"),
        (None, "did not export the table: it was not approved"),
    ],
)
def test_the_demo_model_closes_with_what_really_happened(tmp_path, answer, closing):
    """Issue 14 #16: the scripted model said "the export ran only as far as the DBA allowed"
    even after a denial. Its last words follow the tool results; without a terminal and without
    --approve the demo says so and how to decide without a prompt."""
    args = ["demo", "--db", str(tmp_path / "demo.db"), *([answer] if answer else [])]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = [ln for ln in result.output.splitlines() if ln.startswith("model  Done")]
    assert len(last) == 1 and closing in last[0]
    assert "only as far as the DBA allowed" not in result.output
    assert "was refused making the bucket public" in last[0]
    if answer is None:
        flat = " ".join(result.output.split())
        assert "stdin is not a terminal, so nobody can answer" in flat
        assert "demo --approve" in flat


def _missing_model_env() -> dict[str, str]:
    return {**os.environ, "GUARDRAILS_SPACY_MODEL": "no_such_spacy_model", "COLUMNS": "200"}


def test_a_missing_spacy_model_is_reported_once_by_the_demo(tmp_path):
    """Issue 14 #16: without a spaCy model the demo logged the same error for each call whose
    text needed NER. It now says it once, before the agent starts, with the fix."""
    db = tmp_path / "demo.db"
    done = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "demo", "--deny", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        env=_missing_model_env(),
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1
    assert out.count(MISSING_MODEL) == 1 and "requirements/spacy-model.txt" in out
    assert not db.exists()


def test_a_missing_spacy_model_is_reported_once_by_mask():
    """Issue 14 #16: `mask` printed the error twice (the masker's log line, then the CLI's)."""
    done = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "mask"],
        input="Hi Ana Lopez, your plan is now pro.\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_missing_model_env(),
    )
    assert done.returncode == 1
    assert (done.stdout + done.stderr).count(MISSING_MODEL) == 1


def test_the_masker_logs_a_missing_model_once_per_process(caplog):
    """Issue 14 #16: an agent whose every call fails on the same missing model gets each call
    denied, and the log names the cause once rather than once per call."""
    from guardrails_plugin.errors import MaskingError
    from guardrails_plugin.masking import Masker

    masker = Masker(model="no_such_spacy_model_for_the_log")
    for _ in range(3):
        with pytest.raises(MaskingError, match="no spaCy model found"):
            masker.mask("Hi Ana Lopez, your plan is now pro.")
    logged = [r for r in caplog.records if "no_such_spacy_model_for_the_log" in r.getMessage()]
    assert len(logged) == 1


def _hint_env(on_path: bool) -> dict[str, str]:
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    path = os.pathsep.join([*([bin_dir] if on_path else []), "/usr/bin", "/bin"])
    return {**os.environ, "PATH": path, "COLUMNS": "300"}


@pytest.mark.parametrize("on_path", [False, True], ids=["after-make-demo", "activated"])
def test_the_demo_says_how_to_reach_the_command(on_path):
    """Issue 14 #2: `make demo` runs .venv/bin/guardrails-plugin without putting it on the PATH,
    yet the demo ended with "Try: guardrails-plugin ...". The command it suggests runs as
    printed, and where the bare name would not, it says how to activate the environment."""
    env = _hint_env(on_path)
    done = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "demo", "--policies-only"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    suggested = re.search(r"Next: `(.+?) policy explain", done.stdout)
    assert suggested
    again = subprocess.run(
        [*shlex.split(suggested.group(1)), "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert again.returncode == 0 and "guardrails-plugin, version" in again.stdout
    script = Path(sys.executable).parent / "guardrails-plugin"
    if not on_path and script.exists():
        assert "is not on your PATH" in done.stdout and "bin/activate`" in done.stdout
    if on_path and script.exists():
        assert suggested.group(1) == "guardrails-plugin" and "activate" not in done.stdout
