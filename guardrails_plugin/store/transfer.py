"""Copy a SQLite store into an empty PostgreSQL store: requests, votes and the audit trail.

Both chains are verified, the source's before anything is written and the copy's before the copy
commits, and the copy must end at the source's head. The source's requests and votes are also
cross-checked against its chain (`audit verify`'s `RequestChecker`): someone who can write the
file but lacks the key can change its tables without breaking the chain, and the copy would
carry such rows past the role layout. A target that already holds requests, votes or audit
rows is refused: merging two histories would fork the chain. The copy is one transaction, so a
failure leaves the target empty. Each request's delivery state (its Slack message) comes with it,
and so do the Slack threads already opened for runs (``notify_threads``), so an open run's next
request joins its thread; a half-opened thread (a claim of a process that stopped) is left out.
Replay-dedupe keys (``notify_seen``) are not copied: they live five minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from guardrails_plugin.approvals.proof import RequestChecker
from guardrails_plugin.errors import StoreError
from guardrails_plugin.store.audit import Checkpoint, canonical_text
from guardrails_plugin.store.keying import keying_meta
from guardrails_plugin.store.records import AuditRecord
from guardrails_plugin.store.rows import dumps

if TYPE_CHECKING:
    from guardrails_plugin.store.postgres import PostgresStore
    from guardrails_plugin.store.sqlite import SQLiteStore

__all__ = ["Copied", "copy_store"]


@dataclass(frozen=True)
class Copied:
    requests: int
    votes: int
    audit_rows: int
    head: Checkpoint | None


_NAMED = 10  # problems a refusal names


def copy_store(source: SQLiteStore, target: PostgresStore) -> Copied:
    # Read once: what is copied is exactly what was checked (the file may change meanwhile).
    checker = RequestChecker()
    audit: list[AuditRecord] = []

    def observe(row: AuditRecord) -> None:
        checker.observe(row)
        audit.append(row)

    checked = source.verify_audit(observe=observe)
    if not checked.ok:
        raise StoreError(
            f"the source's audit chain does not verify (row {checked.first_bad_seq}: "
            f"{checked.problem}); nothing was copied"
        )
    requests = list(source.iter_requests())
    votes = list(source.iter_votes())
    problems = checker.problems(requests, votes)
    if problems:
        named = "; ".join(f"{rid}: {why}" for rid, why in problems[:_NAMED])
        more = f" (and {len(problems) - _NAMED} more)" if len(problems) > _NAMED else ""
        raise StoreError(
            f"the source's requests or votes contradict its audit log: {named}{more}; nothing "
            "was copied (`guardrails-plugin audit verify --db FILE` lists them all)"
        )
    with target.transaction() as tx:
        conn = tx.conn
        for table in ("requests", "votes", "audit"):
            if conn.execute(f"SELECT 1 FROM {table} LIMIT 1".encode()).fetchone() is not None:
                raise StoreError(
                    f"{target.path} already holds {table}: refusing to merge two histories; "
                    "give an empty database"
                )
        for request in requests:
            tx.insert_request(request)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO votes (id, request_id, revision, person, identity, channel, "
                "verdict, reason, edited_args, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        v.id,
                        v.request_id,
                        v.revision,
                        v.person,
                        v.identity,
                        v.channel,
                        str(v.verdict),
                        v.reason,
                        dumps(v.edited_args) if v.edited_args is not None else None,
                        v.created_at,
                    )
                    for v in votes
                ],
            )
            cur.executemany(
                "INSERT INTO audit (seq, ts, event, request_id, actor, data, prev_hash, hash) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (r.seq, r.ts, r.event, r.request_id, r.actor, canonical_text(r.data),
                     r.prev_hash, r.hash)
                    for r in audit
                ],
            )  # fmt: skip
            threads = source.posted_threads()
            cur.executemany(
                "INSERT INTO notify_threads (channel_kind, run_id, channel, ts, state, claimed_at) "
                "VALUES (%s, %s, %s, %s, 'posted', %s) ON CONFLICT DO NOTHING",
                threads,
            )
        conn.execute("SELECT setval('votes_id_seq', GREATEST((SELECT max(id) FROM votes), 1))")
        # An upgraded source keys its chain from a later row; the copy must say the same.
        conn.execute("DELETE FROM meta WHERE name IN ('keyed_from', 'keyed_from_mac')")
        meta = [
            m
            for m in keying_meta(target._key, checked.keyed_from or 1)
            if m[0] != "key_fingerprint"
        ]
        conn.cursor().executemany("INSERT INTO meta (name, value) VALUES (%s, %s)", meta)
        # Checked inside the transaction (reads go through it), so a copy that does not verify
        # is rolled back rather than left in the target.
        target.reload_keying()
        copied = target.verify_audit()
        if not copied.ok or copied.head != checked.head:
            raise StoreError(
                f"the copy's audit chain does not match the source's (copy: "
                f"{copied.problem or 'ok'}, head {copied.head} vs {checked.head}); nothing "
                "was copied"
            )
    return Copied(len(requests), len(votes), copied.checked, copied.head)
