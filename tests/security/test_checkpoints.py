"""Issue 11 #11: `audit checkpoint -o FILE` appends a line per checkpoint, and `audit verify
--checkpoint FILE` parsed the whole file as one object: the documented workflow exited 2 from
the second checkpoint on. Covers P31 (heads anchored outside the database)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from guardrails_plugin.cli import cli

from ..helpers import KEY, make_request


@pytest.fixture
def env(monkeypatch, store):
    monkeypatch.setenv("GUARDRAILS_AUDIT_KEY", KEY.hex())
    monkeypatch.setenv("GUARDRAILS_DB", str(store.path))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def checkpoint_twice(broker, anchors) -> None:
    make_request(broker, "restart", {"service": "a"}, call_id="a")
    assert run("audit", "checkpoint", "-o", str(anchors))[0] == 0
    make_request(broker, "restart", {"service": "b"}, call_id="b")
    make_request(broker, "restart", {"service": "c"}, call_id="c")
    assert run("audit", "checkpoint", "-o", str(anchors))[0] == 0


def test_verify_accepts_the_file_checkpoint_appends_to(broker, env, tmp_path):
    """Issue 11 #11: the second `checkpoint -o FILE` made `verify --checkpoint FILE` exit 2."""
    anchors = tmp_path / "anchors.jsonl"
    checkpoint_twice(broker, anchors)
    assert len(anchors.read_text().splitlines()) == 2
    code, out = run("audit", "verify", "--checkpoint", str(anchors))
    assert code == 0, out
    assert "2 checkpoints" in out
    code, out = run("audit", "verify", "--checkpoint", str(anchors), "--json")
    assert code == 0 and json.loads(out)["checkpoints"] == 2


def test_the_newest_checkpoint_catches_a_truncated_tail(broker, store, env, tmp_path):
    anchors = tmp_path / "anchors.jsonl"
    checkpoint_twice(broker, anchors)
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE seq > 1")  # back to the first checkpoint
    code, out = run("audit", "verify", "--checkpoint", str(anchors))
    assert code == 1 and "removed from the end" in out


def test_every_checkpoint_in_the_file_must_match_its_row(broker, env, tmp_path):
    anchors = tmp_path / "anchors.jsonl"
    checkpoint_twice(broker, anchors)
    first, second = anchors.read_text().splitlines()
    forged = json.dumps({**json.loads(first), "hash": "f" * 64})
    anchors.write_text(f"{forged}\n{second}\n")
    code, out = run("audit", "verify", "--checkpoint", str(anchors))
    assert code == 1 and "differs from the checkpoint" in out


def test_a_malformed_line_is_named_with_its_number(broker, env, tmp_path):
    anchors = tmp_path / "anchors.jsonl"
    checkpoint_twice(broker, anchors)
    with anchors.open("a") as f:
        f.write("\n{not json\n")
    code, out = run("audit", "verify", "--checkpoint", str(anchors))
    assert code == 2
    assert f"{anchors}:4" in out and "checkpoint" in out


def test_an_inline_checkpoint_still_works(broker, store, env):
    make_request(broker, "restart", {"service": "a"})
    code, out = run("audit", "verify", "--checkpoint", store.audit_head().to_json())
    assert code == 0, out
