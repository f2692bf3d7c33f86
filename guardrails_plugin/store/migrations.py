"""Versioned schema migrations, tracked in ``PRAGMA user_version``.

Append new migrations; never edit a released one. Code refuses a database whose version is
newer than the last migration it knows. A migration that needs the store's key (which never
enters the database) has its data step in code, run by `SQLiteStore` in the same transaction
right after the script: see ``KEYED``.
"""

from __future__ import annotations

__all__ = ["KEYED", "MIGRATIONS"]

_APPEND_ONLY = """
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
"""

_V1 = (
    """
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
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_at REAL,
    decided_by TEXT,
    decision_reason TEXT,
    execute_by REAL,
    executed_at REAL,
    notify TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX requests_status ON requests (status, created_at);
CREATE INDEX requests_run ON requests (run_id);
CREATE INDEX requests_principal ON requests (principal, status);

-- A decided request never changes its outcome (executed_at and notify may still be set).
CREATE TRIGGER requests_terminal BEFORE UPDATE OF status ON requests
WHEN OLD.status != 'pending' AND NEW.status != OLD.status
BEGIN SELECT RAISE(ABORT, 'a decided request cannot change status'); END;
CREATE TRIGGER requests_no_delete BEFORE DELETE ON requests
BEGIN SELECT RAISE(ABORT, 'requests are kept for the audit trail'); END;

CREATE TABLE votes (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    revision INTEGER NOT NULL,
    person TEXT NOT NULL,
    identity TEXT NOT NULL,
    channel TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('approve', 'deny')),
    reason TEXT,
    edited_args TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX votes_request ON votes (request_id);

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    event TEXT NOT NULL,
    request_id TEXT,
    actor TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_request ON audit (request_id);
"""
    + _APPEND_ONLY.format(table="audit")
    + _APPEND_ONLY.format(table="votes")
)

# v2: notification channels (Slack): one thread per agent run, and deliveries already seen.
_V2 = """
CREATE TABLE notify_threads (
    channel_kind TEXT NOT NULL,
    run_id TEXT NOT NULL,
    channel TEXT,
    ts TEXT,
    state TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (channel_kind, run_id)
);
CREATE TABLE notify_seen (
    key TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX notify_seen_at ON notify_seen (seen_at);
"""

# v3: the audit chain is keyed (HMAC under the store's key) and idempotency keys are scoped to
# (principal, run, call id, tool, arguments). `meta` holds the key's fingerprint and the first
# keyed row; the code step (`SQLiteStore._adopt_key`) fills it and re-keys existing requests.
_V3 = """
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# v4: which run's vault the request's placeholders came from (`Vault.id`): an approval of
# "<EMAIL_1>" restores only in that vault, never in another process's that minted the same name.
_V4 = """
ALTER TABLE requests ADD COLUMN vault_id TEXT;
"""

# v5: what reviewers see (issue 14 #10): the rule's reviewer view and the arguments as that view
# shows them, computed by the agent's guard from the real values; NULL (older requests, or made
# without a guard) shows the masked arguments.
_V5 = """
ALTER TABLE requests ADD COLUMN reviewer_view TEXT;
ALTER TABLE requests ADD COLUMN review_args TEXT;
"""

# v6: step-up (issue 16): "oidc" when only identities signed in through the identity provider
# may vote on the request; NULL for any channel.
_V6 = """
ALTER TABLE requests ADD COLUMN authentication TEXT;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)

# The migration after which the store holds keyed rows; its code step runs once, with the key.
KEYED = 3
