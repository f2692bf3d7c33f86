"""The PostgreSQL schema: versioned migrations, kept in the ``guardrails_schema`` table.

The tables mirror SQLite's (migrations 1-5 there are one first migration here); JSON stays
text so both backends share `rows.py`. Append new migrations, never edit a released one; a
database whose version is newer than the last one known is refused. Migrations run under an
advisory lock, so processes opening a new database at once create it once.

The triggers are SQLite's, in PL/pgSQL: decided requests keep their outcome, requests are never
deleted, votes and audit rows are append-only (TRUNCATE too). Changes to requests and votes
``NOTIFY`` the channel every waiter listens on (`postgres_listen.py`).
"""

from __future__ import annotations

__all__ = ["CHANNEL", "MIGRATE_LOCK", "MIGRATIONS", "TAKE_WRITE_LOCK", "WRITE_LOCK"]

CHANNEL = "guardrails_changes"

# Every decision-path write transaction first locks the one row of ``guardrails_lock``: that
# serialises the audit head. A row lock, unlike an advisory lock, lives only as long as a
# transaction, so no session can hold it across transactions (issue 15 red team, F5); taking it
# needs UPDATE on that table, which only the two guardrails roles get.
TAKE_WRITE_LOCK = "SELECT one FROM guardrails_lock FOR UPDATE"
# The advisory key the write lock used up to schema version 2. Nothing takes it any more; kept
# so tests can show that holding it no longer blocks writers.
WRITE_LOCK = 0x6775617264_01
MIGRATE_LOCK = 0x6775617264_02  # advisory: only the owner migrates

_V1 = r"""
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    run_id TEXT,
    tool TEXT NOT NULL,
    masked_args TEXT NOT NULL,
    args_hash TEXT NOT NULL,
    current_hash TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    edited_args TEXT,
    rule_id TEXT,
    reason TEXT NOT NULL DEFAULT '',
    principal TEXT NOT NULL,
    on_behalf_of TEXT,
    requester_identities TEXT NOT NULL DEFAULT '[]',
    approvers TEXT NOT NULL,
    approver_sources TEXT NOT NULL DEFAULT '[]',
    quorum INTEGER NOT NULL CHECK (quorum >= 1),
    require_reason INTEGER NOT NULL DEFAULT 0,
    allow_edit INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
    data_classes TEXT NOT NULL DEFAULT '[]',
    environment TEXT NOT NULL DEFAULT '{}',
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    decided_at DOUBLE PRECISION,
    decided_by TEXT,
    decision_reason TEXT,
    execute_by DOUBLE PRECISION,
    executed_at DOUBLE PRECISION,
    notify TEXT NOT NULL DEFAULT '{}',
    vault_id TEXT,
    reviewer_view TEXT,
    review_args TEXT
);
CREATE INDEX requests_status ON requests (status, created_at);
CREATE INDEX requests_run ON requests (run_id);
CREATE INDEX requests_principal ON requests (principal, status);

CREATE TABLE votes (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    revision INTEGER NOT NULL,
    person TEXT NOT NULL,
    identity TEXT NOT NULL,
    channel TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('approve', 'deny')),
    reason TEXT,
    edited_args TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX votes_request ON votes (request_id);

CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    event TEXT NOT NULL,
    request_id TEXT,
    actor TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_request ON audit (request_id);

CREATE TABLE notify_threads (
    channel_kind TEXT NOT NULL,
    run_id TEXT NOT NULL,
    channel TEXT,
    ts TEXT,
    state TEXT NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (channel_kind, run_id)
);
CREATE TABLE notify_seen (
    key TEXT PRIMARY KEY,
    seen_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX notify_seen_at ON notify_seen (seen_at);

CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE FUNCTION guardrails_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END $$;

-- A decided request never changes its outcome (executed_at and notify may still be set).
CREATE TRIGGER requests_terminal BEFORE UPDATE OF status ON requests FOR EACH ROW
WHEN (OLD.status <> 'pending' AND NEW.status <> OLD.status)
EXECUTE FUNCTION guardrails_refuse('a decided request cannot change status');
CREATE TRIGGER requests_no_delete BEFORE DELETE ON requests FOR EACH ROW
EXECUTE FUNCTION guardrails_refuse('requests are kept for the audit trail');
CREATE TRIGGER requests_no_truncate BEFORE TRUNCATE ON requests FOR EACH STATEMENT
EXECUTE FUNCTION guardrails_refuse('requests are kept for the audit trail');

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW
EXECUTE FUNCTION guardrails_refuse('audit is append-only');
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT
EXECUTE FUNCTION guardrails_refuse('audit is append-only');
CREATE TRIGGER votes_no_update BEFORE UPDATE OR DELETE ON votes FOR EACH ROW
EXECUTE FUNCTION guardrails_refuse('votes is append-only');
CREATE TRIGGER votes_no_truncate BEFORE TRUNCATE ON votes FOR EACH STATEMENT
EXECUTE FUNCTION guardrails_refuse('votes is append-only');

-- Waiters in every process wake on these (one LISTEN connection per process).
CREATE FUNCTION guardrails_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('guardrails_changes', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER requests_changed AFTER INSERT OR UPDATE ON requests FOR EACH STATEMENT
EXECUTE FUNCTION guardrails_changed();
CREATE TRIGGER votes_changed AFTER INSERT ON votes FOR EACH STATEMENT
EXECUTE FUNCTION guardrails_changed();
"""

# v2: step-up (issue 16), as SQLite's v6.
_V2 = """
ALTER TABLE requests ADD COLUMN authentication TEXT;
"""

# v3: the issue 15 red team's fixes.
# - Trigger functions run with a pinned search path, so no object someone creates in a schema
#   on the session's path can stand in for a catalog function (F2).
# - The database assigns the chain's order: an audit row must extend the current head (seq =
#   head + 1, prev_hash = head's hash), so no role can insert a row at a sequence number of its
#   choosing, such as 2^63-1, after which every append would overflow (F4). Hashes still need
#   the key to check: a wrongly keyed row at head + 1 is detected by `audit verify`, not
#   prevented.
# - The write lock becomes a row lock (F5, see TAKE_WRITE_LOCK).
_V3 = r"""
ALTER FUNCTION guardrails_refuse() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION guardrails_changed() SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION guardrails_audit_extends_head() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head_seq BIGINT;
    head_hash TEXT;
BEGIN
    EXECUTE format('SELECT seq, hash FROM %I.%I ORDER BY seq DESC LIMIT 1',
                   TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO head_seq, head_hash;
    IF NEW.seq IS DISTINCT FROM coalesce(head_seq, 0) + 1
       OR NEW.prev_hash IS DISTINCT FROM coalesce(head_hash, repeat('0', 64)) THEN
        RAISE EXCEPTION 'audit row % does not extend the chain''s head (row %)',
            NEW.seq, coalesce(head_seq, 0)
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_extends_head BEFORE INSERT ON audit FOR EACH ROW
EXECUTE FUNCTION guardrails_audit_extends_head();

CREATE TABLE guardrails_lock (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one));
INSERT INTO guardrails_lock (one) VALUES (TRUE);
CREATE TRIGGER guardrails_lock_kept BEFORE DELETE ON guardrails_lock FOR EACH ROW
EXECUTE FUNCTION guardrails_refuse('the write lock row is kept');
CREATE TRIGGER guardrails_lock_no_truncate BEFORE TRUNCATE ON guardrails_lock FOR EACH STATEMENT
EXECUTE FUNCTION guardrails_refuse('the write lock row is kept');
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS guardrails_schema (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version INTEGER NOT NULL
)
"""
