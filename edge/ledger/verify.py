"""Checking the hash chain: every seq present once, linked, hashed as SPEC §3 says."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.ledger.journal import COLUMNS, recorded_head
from edge.ledger.schema import connect
from edge.protocol.chain import GENESIS_HASH, canonical_event, chain_hash, dumps_canonical

_PROGRESS_EVERY = 10_000


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of a chain check: the head, or the first bad seq and why."""

    ok: bool
    head_seq: int
    head_hash: str
    events: int
    bad_seq: int | None = None
    reason: str = ""


def verify_chain(
    conn: sqlite3.Connection, progress: Callable[[int, int], None] | None = None
) -> VerifyResult:
    """Walk the journal in seq order and report the first seq that breaks the chain.

    Everything is read in one read transaction: one consistent snapshot even while the
    writer appends.
    """
    own_transaction = not conn.in_transaction
    if own_transaction:
        conn.execute("BEGIN")
    try:
        return _verify_snapshot(conn, progress)
    finally:
        if own_transaction:
            conn.execute("ROLLBACK")


def _verify_snapshot(
    conn: sqlite3.Connection, progress: Callable[[int, int], None] | None
) -> VerifyResult:
    """Verify within the caller's read transaction."""
    total = int(conn.execute("SELECT count(*) FROM journal").fetchone()[0])
    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    for row in conn.execute(f"SELECT {COLUMNS} FROM journal ORDER BY seq"):
        problem = _check_row(row, expected_seq, prev_hash)
        if problem:
            return VerifyResult(False, expected_seq - 1, prev_hash, count, expected_seq, problem)
        prev_hash = str(row[8])
        expected_seq += 1
        count += 1
        if progress is not None and count % _PROGRESS_EVERY == 0:
            progress(count, total)
    head_seq = expected_seq - 1
    recorded = recorded_head(conn)
    if recorded[0] > head_seq:
        return VerifyResult(
            False,
            head_seq,
            prev_hash,
            count,
            head_seq + 1,
            f"seq {head_seq + 1} is missing: the ledger recorded head seq {recorded[0]}",
        )
    if recorded[0] == head_seq and head_seq > 0 and recorded[1] != prev_hash:
        return VerifyResult(
            False, head_seq, prev_hash, count, head_seq, "hash differs from the recorded head"
        )
    if progress is not None:
        progress(count, total)
    return VerifyResult(True, head_seq, prev_hash, count)


def _check_row(row: tuple[object, ...], expected_seq: int, prev_hash: str) -> str:
    """Return why a row breaks the chain, or an empty string."""
    seq, event_id, event_type, ts, till, staff, data_text, row_prev, row_hash = row
    if seq != expected_seq:
        return f"seq {expected_seq} is missing (next row has seq {seq})"
    if row_prev != prev_hash:
        return "prev_hash does not match the previous event's hash"
    if not all(isinstance(v, str) for v in (event_id, event_type, ts, data_text, row_hash)):
        return "a hashed field has the wrong type"
    if not all(v is None or isinstance(v, str) for v in (till, staff)):
        return "till or staff has the wrong type"
    try:
        data = json.loads(str(data_text))
    except ValueError:
        return "data is not JSON"
    if not isinstance(data, dict) or dumps_canonical(data) != data_text:
        return "data is not in canonical form"
    canonical = canonical_event(
        seq=expected_seq,
        event_id=str(event_id),
        event_type=str(event_type),
        ts=str(ts),
        till=None if till is None else str(till),
        staff=None if staff is None else str(staff),
        data_json=str(data_text),
        prev_hash=prev_hash,
    )
    if chain_hash(prev_hash, canonical) != row_hash:
        return "hash does not match the event's content"
    return ""


def verify_file(path: Path, progress: Callable[[int, int], None] | None = None) -> VerifyResult:
    """Verify the ledger at `path` on its own short-lived read-only connection."""
    conn = connect(path, read_only=True)
    try:
        return verify_chain(conn, progress)
    finally:
        conn.close()
