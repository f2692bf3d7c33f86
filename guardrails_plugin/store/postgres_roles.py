"""Least privilege inside PostgreSQL: agents request, reviewers decide.

Two group roles (``NOLOGIN``); each host logs in as a role that is a member of one of them:

- ``guardrails_agent`` (agent processes): reads everything; inserts audit rows, and requests
  that are pending and undecided; may update only a request's outcome columns, and only to
  expire or cancel it while it is pending, or to record that the approved call ran
  (``executed_at``). It cannot vote, cannot approve, cannot change a decided request otherwise,
  and cannot update or delete votes or audit rows. So a compromised agent host cannot approve
  its own request: the status column only a reviewer can set is what `claim_execution` checks
  first, and the claim also needs the approve votes in the ``votes`` table, which only a
  reviewer can write (the audit key, which every host holds, proves nothing against a host).
- ``guardrails_reviewer`` (Slack app, CLI, later the HTTP service): inserts votes and audit
  rows; while a request is pending, decides it and applies edits; afterwards changes only its
  delivery state (``notify``). It creates no requests.

GRANTs give the table and column rights; a trigger (``requests_role_guard``) adds the rules a
GRANT cannot say (what an inserted request may hold, which status an agent may write, what a
reviewer may change once a request is decided). Every function runs with a pinned search path,
and `apply_roles` takes CREATE on the tables' schema (and ``public``) away from PUBLIC and both
roles, and refuses when a member can still create there. The append-only triggers hold for
every role. Run `apply_roles` as the owner of the tables (the role that ran the migrations)
once per database, again after an upgrade, and again after adding a host's login role (it sets
that login's ``idle_in_transaction_session_timeout``): ``guardrails-plugin db roles --db URL``.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from guardrails_plugin.errors import StoreError
from guardrails_plugin.store.postgres_schema import MIGRATIONS

__all__ = ["AGENT_ROLE", "IDLE_TIMEOUT", "REVIEWER_ROLE", "ROLES_SQL", "apply_roles"]

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

REVOKE ALL ON requests, votes, audit, meta, guardrails_schema, notify_threads, notify_seen,
    guardrails_lock FROM PUBLIC, guardrails_agent, guardrails_reviewer;

-- Nobody else may create objects beside the tables or in public (PostgreSQL <= 14 lets PUBLIC
-- create in public, and pg_upgrade keeps that): a function or table created there could stand
-- in for one an honest session names without a schema.
DO $$
DECLARE
    target TEXT;
BEGIN
    FOR target IN
        SELECT DISTINCT n.nspname FROM pg_catalog.pg_namespace n
        WHERE n.nspname = 'public'
           OR n.oid = (SELECT relnamespace FROM pg_catalog.pg_class
                       WHERE oid = 'requests'::pg_catalog.regclass)
    LOOP
        EXECUTE pg_catalog.format(
            'REVOKE CREATE ON SCHEMA %I FROM PUBLIC, guardrails_agent, guardrails_reviewer',
            target);
    END LOOP;
END $$;

GRANT SELECT ON requests, votes, audit, meta, guardrails_schema
    TO guardrails_agent, guardrails_reviewer;
-- The write lock (postgres_schema.TAKE_WRITE_LOCK): SELECT ... FOR UPDATE needs UPDATE.
GRANT SELECT, UPDATE ON guardrails_lock TO guardrails_agent, guardrails_reviewer;
GRANT INSERT ON audit TO guardrails_agent, guardrails_reviewer;
GRANT INSERT ON requests TO guardrails_agent;
GRANT UPDATE (status, decided_at, decided_by, decision_reason, executed_at)
    ON requests TO guardrails_agent;

GRANT INSERT ON votes TO guardrails_reviewer;
GRANT USAGE ON SEQUENCE votes_id_seq TO guardrails_reviewer;
-- An edit rewrites the terms it changes (approvals/edits.py): the arguments and their data
-- classes, and the rule's settings when the edited call lands on another rule.
GRANT UPDATE (status, decided_at, decided_by, decision_reason, execute_by,
              current_hash, revision, edited_args, notify, data_classes, rule_id, reason,
              approvers, approver_sources, quorum, require_reason, allow_edit, expires_at,
              authentication)
    ON requests TO guardrails_reviewer;
GRANT SELECT, INSERT, UPDATE, DELETE ON notify_threads, notify_seen TO guardrails_reviewer;

-- What a GRANT cannot say. A new request is pending and undecided, whoever inserts it (an
-- approved row inserted by an agent would otherwise run with no human). A reviewer changes a
-- pending request (votes, decisions, edits) and afterwards only its delivery state. An agent
-- moves a pending request only to expired or cancelled, and touches a decided one only to
-- record (or give back) the execution of an approved call.
CREATE OR REPLACE FUNCTION guardrails_role_guard() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reviewer BOOLEAN := pg_catalog.pg_has_role(current_user, 'guardrails_reviewer', 'USAGE');
    agent BOOLEAN := pg_catalog.pg_has_role(current_user, 'guardrails_agent', 'USAGE');
BEGIN
    IF NOT (reviewer OR agent) THEN
        RETURN NEW;  -- the owner and superusers
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'pending' AND NEW.revision = 0 AND NEW.edited_args IS NULL
           AND NEW.current_hash = NEW.args_hash AND NEW.decided_at IS NULL
           AND NEW.decided_by IS NULL AND NEW.decision_reason IS NULL
           AND NEW.execute_by IS NULL AND NEW.executed_at IS NULL AND NEW.notify = '{}' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'role % may only create a pending, undecided request (not %)',
            current_user, NEW.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF reviewer THEN
        IF OLD.status = 'pending' AND NEW.executed_at IS NULL THEN
            RETURN NEW;
        END IF;
        IF pg_catalog.to_jsonb(NEW) - 'notify' = pg_catalog.to_jsonb(OLD) - 'notify' THEN
            RETURN NEW;  -- the Slack outbox's delivery state
        END IF;
        RAISE EXCEPTION 'role % may not change request %, decided %: only its delivery state',
            current_user, OLD.id, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status = 'pending' AND NEW.status IN ('expired', 'cancelled')
       AND NEW.executed_at IS NULL THEN
        RETURN NEW;
    END IF;
    IF OLD.status = 'approved' AND NEW.status = 'approved'
       AND pg_catalog.to_jsonb(NEW) - 'executed_at' = pg_catalog.to_jsonb(OLD) - 'executed_at' THEN
        RETURN NEW;  -- executed_at only
    END IF;
    RAISE EXCEPTION 'role % may not set request % from % to %: only reviewers decide',
        current_user, OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS requests_role_guard ON requests;
CREATE TRIGGER requests_role_guard BEFORE INSERT OR UPDATE ON requests FOR EACH ROW
EXECUTE FUNCTION guardrails_role_guard();
"""

# Set on every login in the two groups (ALTER ROLE ... IN DATABASE): a session of ours that
# stops inside a transaction, holding the write lock, is cut off by the server after this long.
# A hostile login can SET it back for its own session (the setting is user-settable); that case
# needs the watchdog in docs/operations.md.
IDLE_TIMEOUT = "30s"

# Members of either group (or the groups) that can still create objects beside the tables or in
# public after the REVOKEs: a grant to the login itself, or through another role.
_CREATORS = """
SELECT r.rolname AS role, n.nspname AS schema
FROM pg_catalog.pg_roles r, pg_catalog.pg_namespace n
WHERE (pg_catalog.pg_has_role(r.oid, 'guardrails_agent', 'MEMBER')
       OR pg_catalog.pg_has_role(r.oid, 'guardrails_reviewer', 'MEMBER'))
  AND NOT r.rolsuper
  AND (n.nspname = 'public'
       OR n.oid = (SELECT relnamespace FROM pg_catalog.pg_class
                   WHERE oid = 'requests'::pg_catalog.regclass))
  AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE')
ORDER BY 1, 2
"""

_LOGINS = """
SELECT r.rolname AS role FROM pg_catalog.pg_roles r
WHERE r.rolcanlogin AND NOT r.rolsuper
  AND (pg_catalog.pg_has_role(r.oid, 'guardrails_agent', 'MEMBER')
       OR pg_catalog.pg_has_role(r.oid, 'guardrails_reviewer', 'MEMBER'))
  AND r.rolname <> current_user
ORDER BY 1
"""


def apply_roles(url: str, *, idle_timeout: str = IDLE_TIMEOUT) -> list[str]:
    """Create the two group roles if missing and (re)apply their rights to this database's
    guardrails tables. Needs the tables' owner (and CREATEROLE the first time). Returns
    warnings (a login whose timeout could not be set); raises `StoreError` when a member of
    either group can still create objects beside the tables or in ``public``."""
    warnings: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('guardrails_schema') IS NOT NULL").fetchone()
        row = (
            conn.execute("SELECT version FROM guardrails_schema").fetchone()
            if found and found[0]
            else None
        )
        version = int(row[0]) if row else 0
        if version != len(MIGRATIONS):
            raise StoreError(
                f"the store's schema is at version {version}, not {len(MIGRATIONS)}: open it "
                "once as the tables' owner (any guardrails-plugin command with --db) to migrate "
                "it, then run this again"
            )
        with conn.transaction():
            conn.execute(ROLES_SQL.encode())
        creators = conn.execute(_CREATORS).fetchall()
        if creators:
            named = ", ".join(f"{role} in schema {schema}" for role, schema in creators)
            raise StoreError(
                f"these roles can still create objects beside the guardrails tables: {named}; "
                "revoke CREATE on those schemas from them (and from any role they belong to)"
            )
        database = conn.info.dbname
        for (login,) in conn.execute(_LOGINS).fetchall():
            try:
                conn.execute(
                    sql.SQL(
                        "ALTER ROLE {} IN DATABASE {} SET idle_in_transaction_session_timeout = {}"
                    ).format(
                        sql.Identifier(login), sql.Identifier(database), sql.Literal(idle_timeout)
                    )
                )
            except psycopg.Error as exc:
                warnings.append(
                    f"could not set idle_in_transaction_session_timeout for {login}: "
                    f"{str(exc).strip().splitlines()[0]}"
                )
    return warnings
