"""Every example policy loads, validates against the published JSON Schema, and decides as its
comments promise."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from guardrails_plugin.cli import cli
from guardrails_plugin.policy import Policy
from guardrails_plugin.types import Effect, Principal, ToolCall

REPO = Path(__file__).resolve().parent.parent

POLICIES = sorted((REPO / "policies").glob("*.yaml"))
AGENT = Principal("agent:support-bot", "slack:U024BE7LH")


def test_there_are_example_policies():
    names = {p.name for p in POLICIES}
    assert {
        "default.yaml",
        "data-export.yaml",
        "privilege-escalation.yaml",
        "infrastructure.yaml",
    } <= names


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_every_policy_loads(path: Path):
    policy = Policy.load(path)
    assert policy.rules
    # Nothing unmatched is silently allowed by an example.
    assert policy.default.effect in (Effect.DENY, Effect.REQUIRE_APPROVAL)


@pytest.fixture(scope="module")
def schema():
    result = CliRunner().invoke(cli, ["policy", "schema"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_every_policy_validates_against_the_published_schema(path: Path, schema):
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_schema_rejects_a_typo(schema):
    bad = {
        "version": 1,
        "defaults": {"effect": "deny"},
        "rules": [{"id": "r", "match": {}, "effect": "deny", "reasn": "x"}],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def decide(name: str, tool: str, args: dict, data=(), env=None):
    call = ToolCall(tool, args, principal=AGENT, environment=env or {})
    return Policy.load(REPO / "policies" / name).evaluate(call, data)


@pytest.mark.parametrize(
    ("name", "tool", "args", "data", "env", "effect", "rule"),
    [
        ("default.yaml", "search_docs", {"q": "x"}, [], {}, "allow", "read-only"),
        ("default.yaml", "run_sql", {"query": "select 1"}, [], {}, "allow", "read-only"),
        (
            "default.yaml",
            "run_sql",
            {"query": "drop table t"},
            [],
            {},
            "deny",
            "no-destructive-sql",
        ),
        (
            "default.yaml",
            "run_sql",
            {"query": "DELETE FROM t"},
            [],
            {},
            "require_approval",
            "sql-writes",
        ),
        ("default.yaml", "http_get", {"url": "u"}, ["TOKEN"], {}, "deny", "no-secrets-outbound"),
        ("default.yaml", "unknown_tool", {}, [], {}, "require_approval", None),
        (
            "data-export.yaml",
            "export_table",
            {"database": "prod"},
            [],
            {},
            "require_approval",
            "prod-export",
        ),
        (
            "data-export.yaml",
            "export_csv",
            {"database": "x"},
            [],
            {"env": "prod"},
            "require_approval",
            "prod-export",
        ),
        (
            "data-export.yaml",
            "export_table",
            {"database": "dev", "limit": 10},
            [],
            {},
            "allow",
            "small-nonprod-export",
        ),
        (
            "data-export.yaml",
            "export_table",
            {"database": "dev", "limit": 10**6},
            [],
            {},
            "require_approval",
            "nonprod-export",
        ),
        (
            "data-export.yaml",
            "export_table",
            {"database": "prod"},
            ["IBAN"],
            {},
            "deny",
            "no-payment-data-export",
        ),
        ("data-export.yaml", "delete_table", {}, [], {}, "deny", None),
        (
            "privilege-escalation.yaml",
            "grant_role",
            {"role": "Owner"},
            [],
            {},
            "deny",
            "no-admin-grants",
        ),
        (
            "privilege-escalation.yaml",
            "grant_role",
            {"principal": "agent:support-bot", "role": "viewer"},
            [],
            {},
            "deny",
            "no-self-modification",
        ),
        (
            "privilege-escalation.yaml",
            "grant_role",
            {"principal": "bob", "role": "viewer"},
            [],
            {},
            "require_approval",
            "access-grants",
        ),
        (
            "privilege-escalation.yaml",
            "exec_command",
            {"command": "  sudo reboot"},
            [],
            {},
            "deny",
            "no-sudo",
        ),
        (
            "infrastructure.yaml",
            "s3_put_bucket_policy",
            {"policy": '{"Principal": "*"}'},
            [],
            {},
            "deny",
            "no-public-s3",
        ),
        (
            "infrastructure.yaml",
            "kubectl_delete",
            {"kind": "namespace"},
            [],
            {},
            "deny",
            "no-kubectl-delete-critical",
        ),
        (
            "infrastructure.yaml",
            "kubectl_delete",
            {"kind": "pod"},
            [],
            {"env": "prod"},
            "require_approval",
            "kubectl-delete-prod",
        ),
        (
            "infrastructure.yaml",
            "terraform_apply",
            {"flags": ["-destroy"]},
            [],
            {},
            "deny",
            "no-terraform-destroy",
        ),
        (
            "infrastructure.yaml",
            "terraform_apply",
            {"flags": []},
            [],
            {},
            "require_approval",
            "terraform-apply",
        ),
    ],
)
def test_example_decisions(name, tool, args, data, env, effect, rule):
    decision = decide(name, tool, args, data, env)
    assert (decision.effect.value, decision.rule_id) == (effect, rule)


def test_prod_export_needs_two_distinct_dbas():
    d = decide("data-export.yaml", "export_table", {"database": "prod-eu"})
    assert d.approval is not None
    assert d.approval.quorum == 2 and d.approval.approvers == {"dana", "eve", "frank"}
    assert d.approval.require_reason and d.approval.timeout_seconds == 3600


def test_every_yaml_snippet_in_the_readme_loads():
    import re

    readme = (REPO / "README.md").read_text()
    snippets = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert snippets
    for snippet in snippets:
        Policy.from_string(snippet, name="README.md")
