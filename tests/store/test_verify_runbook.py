"""Issue 14 #13: the "audit verify failed" runbook starts from what the CLI prints."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from guardrails_plugin.cli import cli
from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Masker
from guardrails_plugin.policy import Policy
from guardrails_plugin.store.sqlite import SQLiteStore


def test_audit_verify_names_the_first_bad_row_and_the_runbook(tmp_path):
    """Issue 14 #13: a row edited behind the store's back is named by `audit verify` (text and
    --json), which exits 1 and points at the runbook; `audit export` shows the row."""
    db = tmp_path / "g.db"
    store = SQLiteStore(db)
    guard = Guard(
        Policy.from_string("version: 1\ndefaults: {effect: allow}\n"),
        store,
        principal="agent:a",
        masker=Masker(ner=False),
    )
    for i in range(3):
        guard.call("lookup", {"i": i}, lambda args: "ok")
    store.close()
    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER audit_no_update")  # what someone holding the file can do
    raw.execute("UPDATE audit SET actor = 'agent:evil' WHERE seq = 4")
    raw.commit()
    raw.close()

    runner = CliRunner()
    text = runner.invoke(cli, ["audit", "verify", "--db", str(db)])
    assert text.exit_code == 1
    assert "BROKEN at row 4" in text.output and "modified" in text.output
    assert "rows before 4 verify" in text.output and "When audit verify fails" in text.output
    as_json = runner.invoke(cli, ["audit", "verify", "--db", str(db), "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["first_bad_seq"] == 4
    exported = runner.invoke(cli, ["audit", "export", "--db", str(db)])
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["actor"] for r in rows if r["seq"] == 4] == ["agent:evil"]
