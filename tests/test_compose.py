"""docs/compose.yaml without a container runtime: its shape, and its setup job's script run
against a real PostgreSQL server (twice, as a restarted job would)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import yaml

from .helpers import KEY
from .pg_cluster import find_bin

COMPOSE = Path(__file__).resolve().parent.parent / "docs" / "compose.yaml"


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_every_host_gets_the_key_and_its_own_role_and_waits_for_setup():
    services = _services()
    for name in ("setup", "agent", "slack"):
        env = services[name]["environment"]
        assert "GUARDRAILS_AUDIT_KEY" in env
    assert services["agent"]["environment"]["GUARDRAILS_DB"].startswith("postgresql://agent_login@")
    assert services["slack"]["environment"]["GUARDRAILS_DB"].startswith("postgresql://slack_login@")
    for name in ("agent", "slack"):
        after = services[name]["depends_on"]["setup"]["condition"]
        assert after == "service_completed_successfully"
    for service in services.values():  # passwords come from the environment only
        for value in (service.get("environment") or {}).values():
            assert "://" not in str(value) or ":" not in str(value).split("://")[1].split("@")[0]


def test_the_setup_script_creates_the_store_roles_and_logins(pg_url, pg_cluster, tmp_path):
    script = _services()["setup"]["command"][2].replace("$$", "$")  # compose's escaping
    script = script.replace("postgresql://guardrails_owner@db/guardrails", pg_url)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "guardrails-plugin"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m guardrails_plugin "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "psql").symlink_to(Path(str(find_bin())) / "psql")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(COMPOSE.parent.parent),
        "GUARDRAILS_AUDIT_KEY": KEY.hex(),
        "AGENT_PASSWORD": "agent-pw",
        "REVIEWER_PASSWORD": "reviewer-pw",
    }
    for _ in range(2):
        ran = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT r.rolname, g.rolname FROM pg_auth_members m "
            "JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid "
            "WHERE r.rolname IN ('agent_login', 'slack_login')"
        ).fetchall()
    assert set(rows) == {
        ("agent_login", "guardrails_agent"),
        ("slack_login", "guardrails_reviewer"),
    }
