"""Tampering with the audit log is detected, and the first broken row is named."""

from __future__ import annotations

import random

import pytest

from guardrails_plugin.store import Checkpoint, verify_chain
from guardrails_plugin.store.audit import GENESIS, HashKey, canonical_json, row_hash
from guardrails_plugin.store.records import AuditRecord

from ..helpers import KEY, make_request
from ..rawdb import Raw

OTHER_KEY = HashKey(bytes(range(1, 33)))


def fill(broker, n: int = 5) -> None:
    for i in range(n):
        request = make_request(broker, "restart", {"service": f"s{i}"}, call_id=f"c{i}")
        broker.vote(request.id, "cli:bob", "approve", revision=0)


def raw(store) -> Raw:
    """A connection that has dropped the triggers, as an attacker holding the database would."""
    return Raw(store)


def test_an_untouched_log_verifies(broker, store):
    fill(broker)
    result = store.verify_audit()
    assert result.ok and result.checked == 15 and result.head == store.audit_head()


def test_editing_a_row_body_is_detected(broker, store):
    fill(broker)
    raw(store).execute("UPDATE audit SET data = replace(data, 'cli', 'web') WHERE seq = 5")
    result = store.verify_audit()
    assert not result.ok and result.first_bad_seq == 5 and "modified" in result.problem


def test_deleting_a_middle_row_is_detected(broker, store):
    fill(broker)
    raw(store).execute("DELETE FROM audit WHERE seq = 7")
    result = store.verify_audit()
    assert not result.ok and result.first_bad_seq == 7 and "missing" in result.problem


def test_dropping_the_tail_is_detected_with_a_checkpoint(broker, store):
    fill(broker)
    checkpoint = store.audit_head()
    raw(store).execute(f"DELETE FROM audit WHERE seq > {checkpoint.seq - 3}")
    assert store.verify_audit().ok  # a shorter chain is still a chain...
    result = store.verify_audit([checkpoint])  # ...but not the one we anchored
    assert not result.ok and "removed from the end" in result.problem


def test_a_rewritten_suffix_is_caught_without_and_with_a_checkpoint(broker, store):
    fill(broker, 2)
    checkpoint = store.audit_head()
    conn = raw(store)
    conn.execute(f"DELETE FROM audit WHERE seq = {checkpoint.seq}")
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = row[0] + 1, row[1]
    forged = row_hash(prev, seq, 0.0, "request.approved", None, "mallory", {}, key=OTHER_KEY)
    conn.execute(
        "INSERT INTO audit VALUES (?, 0.0, 'request.approved', NULL, 'mallory', '{}', ?, ?)",
        (seq, prev, forged),
    )
    result = store.verify_audit()  # a row not made with the store's key: caught on its own
    assert not result.ok and result.first_bad_seq == seq
    assert "without the store's key" in result.problem
    assert not store.verify_audit([checkpoint]).ok


def test_a_plain_sha256_chain_of_a_keyed_store_does_not_verify(broker, store):
    """Recomputing every hash without the key (what someone with the file can do) fails."""
    fill(broker, 1)
    rows = list(store.audit_rows())
    prev, forged = GENESIS, []
    for r in rows:
        digest = row_hash(prev, r.seq, r.ts, r.event, r.request_id, r.actor, r.data)
        forged.append(
            AuditRecord(r.seq, r.ts, r.event, r.request_id, r.actor, r.data, prev, digest)
        )
        prev = digest
    assert verify_chain(forged).ok  # a valid unkeyed chain...
    result = verify_chain(forged, key=HashKey(KEY))  # ...is no chain of this store
    assert not result.ok and result.first_bad_seq == 1


def _chain(n: int, key: HashKey | None = None) -> list[AuditRecord]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        data = {"i": seq, "who": f"user{seq % 7}"}
        digest = row_hash(
            prev, seq, float(seq), "vote.recorded", f"req_{seq % 13}", "cli:x", data, key=key
        )
        rows.append(
            AuditRecord(
                seq, float(seq), "vote.recorded", f"req_{seq % 13}", "cli:x", data, prev, digest
            )
        )
        prev = digest
    return rows


@pytest.mark.parametrize("seed", range(40))
def test_mutation_testing_over_a_generated_log(seed):
    rng = random.Random(seed)
    key = HashKey(KEY) if seed % 2 else None  # keyed chains, and the plain ones of old stores
    rows = _chain(1000, key)
    assert verify_chain(rows, key=key).ok
    i = rng.randrange(1, 999)
    mutation = rng.choice(["edit", "delete", "swap", "insert", "actor", "ts"])
    mutated = list(rows)
    r = rows[i]
    if mutation == "edit":
        mutated[i] = AuditRecord(
            r.seq,
            r.ts,
            r.event,
            r.request_id,
            r.actor,
            {**r.data, "who": "mallory"},
            r.prev_hash,
            r.hash,
        )
    elif mutation == "actor":
        mutated[i] = AuditRecord(
            r.seq, r.ts, r.event, r.request_id, "cli:mallory", r.data, r.prev_hash, r.hash
        )
    elif mutation == "ts":
        mutated[i] = AuditRecord(
            r.seq, r.ts + 1, r.event, r.request_id, r.actor, r.data, r.prev_hash, r.hash
        )
    elif mutation == "delete":
        del mutated[i]
    elif mutation == "swap":
        mutated[i], mutated[i + 1] = mutated[i + 1], mutated[i]
    else:
        forged = AuditRecord(
            r.seq,
            r.ts,
            "request.approved",
            r.request_id,
            "mallory",
            {},
            r.prev_hash,
            row_hash(
                r.prev_hash, r.seq, r.ts, "request.approved", r.request_id, "mallory", {}, key=key
            ),
        )
        mutated.insert(i, forged)
    result = verify_chain(mutated, key=key)
    assert not result.ok
    assert result.first_bad_seq == r.seq + (1 if mutation == "insert" else 0)


def test_checkpoint_parsing():
    assert Checkpoint.parse('{"seq": 3, "hash": "' + "a" * 64 + '"}') == Checkpoint(3, "a" * 64)
    for bad in ["", "{}", '{"seq": "x", "hash": "y"}', '{"seq": 1, "hash": "short"}']:
        with pytest.raises(ValueError, match="checkpoint"):
            Checkpoint.parse(bad)


def test_canonical_json_is_stable_and_covers_non_json_values():
    assert canonical_json({"b": 1, "a": [1.5, None]}) == b'{"a":[1.5,null],"b":1}'
    assert canonical_json({"x": b"\x00"}) == b'{"x":{"$bytes":"AA=="}}'
    assert canonical_json(float("nan")) == b'{"$float":"nan"}'
    assert canonical_json("\udcff")  # lone surrogate: no crash
