"""The command line: exit codes, located errors, clear messages for bad arguments."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from guardrails_plugin.cli import cli

REPO = Path(__file__).resolve().parent.parent
DEFAULT = str(REPO / "policies" / "default.yaml")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_check_ok_and_exit_zero():
    result = run("policy", "check", DEFAULT)
    assert result.exit_code == 0
    assert "ok" in result.output and "default require_approval" in result.output


def test_check_reports_every_file_and_exits_one(write):
    bad = write(
        "version: 1\ndefaults: {effect: deny}\nrules:\n  - {id: r, match: {}, effect: nope}\n"
    )
    result = run("policy", "check", DEFAULT, str(bad))
    assert result.exit_code == 1
    assert f"{bad}:4:" in result.output
    assert "rule 'r': rules[0].effect: 'nope' is not one of" in result.output


def test_check_json(write):
    bad = write("version: 1\n")
    result = run("policy", "check", "--json", DEFAULT, str(bad))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data[0]["ok"] is True and data[0]["rules"] == 5
    assert data[1]["ok"] is False and data[1]["problems"][0]["field"] == "defaults"


def test_check_missing_file():
    result = run("policy", "check", "/no/such.yaml")
    assert result.exit_code == 1 and "file not found" in result.output


def test_explain_json():
    result = run(
        "policy",
        "explain",
        DEFAULT,
        "--tool",
        "run_sql",
        "--args",
        '{"query": "drop table x"}',
        "--json",
    )
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["decision"]["effect"] == "deny"
    assert data["decision"]["rule_id"] == "no-destructive-sql"
    assert [c["rule_id"] for c in data["checked"]] == ["no-secrets-outbound", "no-destructive-sql"]
    # default.yaml's catch-all for SQL that is not read-only would match next.
    assert [s["rule_id"] for s in data["shadowed"]] == ["sql-writes"]


def test_explain_with_data_principal_and_env():
    result = run(
        "policy",
        "explain",
        str(REPO / "policies" / "infrastructure.yaml"),
        "--tool",
        "kubectl_delete",
        "--args",
        '{"kind": "pod"}',
        "--env",
        "env=prod",
        "--principal",
        "agent:ops",
        "--on-behalf-of",
        "slack:U1",
        "--data",
        "EMAIL",
    )
    assert result.exit_code == 0
    assert "require_approval by rule kubectl-delete-prod" in result.output
    assert "2 of judy, ken, leo" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--args", "{bad"], "expected a JSON object such as"),
        (["--args", "[1]"], "expected a JSON object, got list"),
        (["--data", "SECRETS"], "unknown data class SECRETS; known:"),
        (["--env", "prod"], "expected KEY=VALUE such as env=prod"),
    ],
)
def test_explain_bad_arguments_say_what_was_expected(args, message):
    result = CliRunner().invoke(cli, ["policy", "explain", DEFAULT, "--tool", "x", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_explain_bad_policy_exits_one(write):
    bad = write("version: 1\n")
    result = run("policy", "explain", str(bad), "--tool", "x")
    assert result.exit_code == 1 and "missing required key 'defaults'" in result.output


def test_schema_to_file(tmp_path):
    out = tmp_path / "schema.json"
    result = run("policy", "schema", "-o", str(out))
    assert result.exit_code == 0
    schema = json.loads(out.read_text())
    assert schema["title"] == "guardrails-plugin policy"
    assert "regex" in json.dumps(schema)


def test_policy_demo_runs_from_the_repository(monkeypatch):
    monkeypatch.chdir(REPO)
    result = run("demo", "--policies-only")
    assert result.exit_code == 0, result.output
    assert "no-destructive-sql" in result.output and "bad-example.yaml:6:13" in result.output


def test_demo_without_policies_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--policies-only"])
    assert result.exit_code == 2 and "pass --policies DIR" in result.output


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        out.append((full, command))
        if isinstance(command, click.Group):
            out.extend(_commands(command, full + " "))
    return out


@pytest.mark.parametrize("name", [n for n, _ in _commands(cli)])
def test_every_command_has_help_and_is_in_the_readme(name):
    command = dict(_commands(cli))[name]
    assert command.help and command.help.strip()
    readme = (REPO / "README.md").read_text()
    assert re.search(rf"guardrails-plugin {re.escape(name)}\b", readme), name


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "guardrails-plugin, version" in result.stdout


def test_mask_text_from_stdin():
    result = CliRunner().invoke(cli, ["mask", "--no-ner"], input="mail ana@example.org\n")
    assert result.exit_code == 0 and result.output == "mail <EMAIL_1>\n"


def test_mask_json_file_with_findings(tmp_path):
    source = tmp_path / "payload.json"
    source.write_text(json.dumps({"user": {"email": "ana@example.org", "id": 7}}))
    result = run("mask", str(source), "--findings", "--strategy", "partial", "--no-ner")
    data = json.loads(result.output)
    assert data["masked"] == {"user": {"email": "a***@example.org", "id": 7}}
    assert data["findings"][0]["label"] == "EMAIL"
    assert data["findings"][0]["path"] == ["user", "email"]
    assert "ana@example.org" not in result.output


def test_mask_bad_input(tmp_path):
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    result = CliRunner().invoke(cli, ["mask", str(binary)])
    assert result.exit_code == 2 and "is not UTF-8 text" in result.output
    result = CliRunner().invoke(cli, ["mask", str(tmp_path / "missing.txt")])
    assert result.exit_code == 2 and "cannot read" in result.output


@pytest.mark.parametrize("answer", ["--approve", "--deny"])
def test_agent_demo_in_a_subprocess(tmp_path, answer):
    db = tmp_path / "demo.db"
    done = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "demo", answer, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr + out
    assert "<EMAIL_1>" in out and "<PERSON_1>" in out
    assert "ana.lopez@example.org" in out  # only in the send_email tool's own line...
    model_lines = [ln for ln in out.splitlines() if "seen by the model" in ln]
    assert model_lines and all("ana.lopez@example.org" not in ln for ln in model_lines)
    assert "Denied by policy rule 'no-public-buckets'" in out
    verdict = "Exported prod-eu.customers" if answer == "--approve" else "was denied by operator"
    assert verdict in out
    assert "audit chain verified" in out
    check = subprocess.run(
        [sys.executable, "-m", "guardrails_plugin", "audit", "verify", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0 and "rows verified" in check.stdout


def test_slack_serve_names_missing_settings(monkeypatch):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "GUARDRAILS_SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["slack", "serve", "--policy", DEFAULT])
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN" in result.output and "SLACK_SIGNING_SECRET" in result.output
    result = CliRunner().invoke(cli, ["slack", "serve"])
    assert result.exit_code == 2 and "--policy" in result.output
    result = CliRunner().invoke(
        cli, ["slack", "serve", "--policy", DEFAULT, "--rule-channel", "oops"]
    )
    assert result.exit_code == 2 and "RULE=CHANNEL" in result.output


def test_check_warns_about_shadowed_rules(write):
    path = write(
        "version: 1\ndefaults: {effect: deny}\nrules:\n"
        "  - {id: all-db, match: {tool: 'db_*'}, effect: allow}\n"
        "  - {id: no-drop, match: {tool: db_drop}, effect: deny}\n"
    )
    result = run("policy", "check", str(path))
    assert result.exit_code == 0
    assert "warning" in result.output and "'no-drop' can never match" in result.output


def test_demo_with_a_model_whose_package_is_missing_says_what_to_install(tmp_path):
    result = CliRunner().invoke(
        cli, ["demo", "--model", "nosuchprovider:model-x", "--db", str(tmp_path / "d.db"), "--deny"]
    )
    assert result.exit_code == 1 and "cannot use model 'nosuchprovider:model-x'" in result.output
