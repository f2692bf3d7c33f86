"""Least privilege inside PostgreSQL: agents request, reviewers decide.

Two group roles (``NOLOGIN``); each host logs in as a role that is a member of one of them:

- ``guardrails_agent`` (agent processes): reads everything; inserts requests and audit rows;
  may update only a request's outcome columns, and only to expire or cancel it while it is
  pending, or to record that the approved call ran (``executed_at``). It cannot vote, cannot
  approve, cannot change a decided request otherwise, and cannot update or delete votes or
  audit rows. So a compromised agent host cannot approve its own request: the status column
  only a reviewer can set is what `claim_execution` checks first.
- ``guardrails_reviewer`` (Slack app, CLI, later the HTTP service): also inserts votes, decides,
  applies edits, and keeps the Slack outbox's delivery state.

GRANTs give the table and column rights; a trigger (``requests_role_guard``) adds the rules a
GRANT cannot say (which status an agent may write). The append-only triggers hold for every
role. Run `apply_roles` as the owner of the tables (the role that ran the migrations) once per
database, and again after an upgrade: ``guardrails-plugin db roles --db URL``.
"""

from __future__ import annotations

import psycopg

__all__ = ["AGENT_ROLE", "REVIEWER_ROLE", "ROLES_SQL", "apply_roles"]

AGENT_ROLE = "guardrails_agent"
REVIEWER_ROLE = "guardrails_reviewer"

ROLES_SQL = r"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'guardrails_agent') THEN
        CREATE ROLE guardrails_agent NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'guardrails_reviewer') THEN
        CREATE ROLE guardrails_reviewer NOLOGIN;
    END IF;
END $$;

REVOKE ALL ON requests, votes, audit, meta, guardrails_schema, notify_threads, notify_seen
    FROM PUBLIC, guardrails_agent, guardrails_reviewer;

GRANT SELECT ON requests, votes, audit, meta, guardrails_schema
    TO guardrails_agent, guardrails_reviewer;
GRANT INSERT ON requests, audit TO guardrails_agent, guardrails_reviewer;
GRANT UPDATE (status, decided_at, decided_by, decision_reason, executed_at)
    ON requests TO guardrails_agent;

GRANT INSERT ON votes TO guardrails_reviewer;
GRANT USAGE ON SEQUENCE votes_id_seq TO guardrails_reviewer;
-- An edit rewrites the terms it changes (approvals/edits.py): the arguments and their data
-- classes, and the rule's settings when the edited call lands on another rule.
GRANT UPDATE (status, decided_at, decided_by, decision_reason, execute_by, executed_at,
              current_hash, revision, edited_args, notify, data_classes, rule_id, reason,
              approvers, approver_sources, quorum, require_reason, allow_edit, expires_at,
              authentication)
    ON requests TO guardrails_reviewer;
GRANT SELECT, INSERT, UPDATE, DELETE ON notify_threads, notify_seen TO guardrails_reviewer;

-- What a GRANT cannot say: an agent moves a pending request only to expired or cancelled, and
-- touches a decided one only to record (or give back) the execution of an approved call.
CREATE OR REPLACE FUNCTION guardrails_role_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(current_user, 'guardrails_reviewer', 'USAGE')
       OR NOT pg_has_role(current_user, 'guardrails_agent', 'USAGE') THEN
        RETURN NEW;  -- reviewers, the owner and superusers
    END IF;
    IF OLD.status = 'pending' AND NEW.status IN ('expired', 'cancelled') THEN
        RETURN NEW;
    END IF;
    IF OLD.status = 'approved' AND NEW.status = 'approved'
       AND NEW.decided_at IS NOT DISTINCT FROM OLD.decided_at
       AND NEW.decided_by IS NOT DISTINCT FROM OLD.decided_by
       AND NEW.decision_reason IS NOT DISTINCT FROM OLD.decision_reason THEN
        RETURN NEW;  -- executed_at only
    END IF;
    RAISE EXCEPTION 'role % may not set request % from % to %: only reviewers decide',
        current_user, OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS requests_role_guard ON requests;
CREATE TRIGGER requests_role_guard BEFORE UPDATE ON requests FOR EACH ROW
EXECUTE FUNCTION guardrails_role_guard();
"""


def apply_roles(url: str) -> None:
    """Create the two group roles if missing and (re)apply their rights to this database's
    guardrails tables. Needs the tables' owner (and CREATEROLE the first time)."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(ROLES_SQL.encode())
