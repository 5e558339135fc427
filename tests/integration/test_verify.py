"""Tampering with the journal: verify names exactly the first seq that was touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.ledger.journal import COLUMNS
from edge.ledger.ledger import Ledger
from edge.ledger.schema import connect
from edge.ledger.verify import verify_chain
from tests.conftest import TEST_PROJECTORS, init_command, raw

EVENTS = 30


@pytest.fixture
async def sealed(ledger_path: Path) -> Path:
    """A closed ledger of EVENTS events, ready to be tampered with."""
    ledger = Ledger(ledger_path, projectors=TEST_PROJECTORS, require_initialized=False)
    await ledger.start()
    await ledger.submit(init_command)
    for i in range(EVENTS - 1):
        await ledger.submit(
            lambda tx, i=i: tx.append(
                "test.counter_added",
                {"name": f"n{i}", "amount": i},
                till=f"T{i % 3}",
                staff=None if i % 2 else f"E{i}",
            )
        )
    await ledger.stop()
    return ledger_path


def tamper(path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Drop the append-only triggers and run raw statements, as an attacker with the file."""
    conn = raw(path)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("DROP TRIGGER journal_no_delete")
    for sql, params in statements:
        conn.execute(sql, params)
    conn.close()


def verify(path: Path) -> tuple[bool, int | None, str]:
    conn = connect(path, read_only=True)
    try:
        result = verify_chain(conn)
    finally:
        conn.close()
    return result.ok, result.bad_seq, result.reason


def test_untouched_ledger_verifies(sealed: Path) -> None:
    assert verify(sealed) == (True, None, "")


FIELD_CHANGES: dict[str, str] = {
    "id": "UPDATE journal SET id = id || 'x' WHERE seq = ?",
    "type": "UPDATE journal SET type = 'test.other' WHERE seq = ?",
    "ts": "UPDATE journal SET ts = '2020-01-01T00:00:00.000+00:00' WHERE seq = ?",
    "till": "UPDATE journal SET till = 'T99' WHERE seq = ?",
    "staff": "UPDATE journal SET staff = 'E999' WHERE seq = ?",
    "staff_null": "UPDATE journal SET staff = CASE WHEN staff IS NULL THEN 'E1' ELSE NULL END"
    " WHERE seq = ?",
    "data": "UPDATE journal SET data = replace(data, '\"amount\":', '\"amount\":1') WHERE seq = ?",
    "data_whitespace": "UPDATE journal SET data = replace(data, ',', ', ') WHERE seq = ?",
    "prev_hash": "UPDATE journal SET prev_hash = replace(prev_hash, substr(prev_hash, 1, 1),"
    " CASE substr(prev_hash, 1, 1) WHEN 'a' THEN 'b' ELSE 'a' END) WHERE seq = ?",
    "hash": "UPDATE journal SET hash = replace(hash, substr(hash, 1, 1),"
    " CASE substr(hash, 1, 1) WHEN 'a' THEN 'b' ELSE 'a' END) WHERE seq = ?",
}


@pytest.mark.parametrize("field", sorted(FIELD_CHANGES))
@pytest.mark.parametrize("seq", [2, 17, EVENTS])
def test_changed_field_names_that_seq(sealed: Path, field: str, seq: int) -> None:
    tamper(sealed, (FIELD_CHANGES[field], (seq,)))
    ok, bad, reason = verify(sealed)
    assert not ok
    assert bad == seq, reason


def test_changed_first_event_names_seq_1(sealed: Path) -> None:
    tamper(
        sealed, ("UPDATE journal SET data = replace(data, 'S-TEST', 'S-EVIL') WHERE seq = 1", ())
    )
    assert verify(sealed)[:2] == (False, 1)


@pytest.mark.parametrize("seq", [1, 9, EVENTS - 1])
def test_deleted_row_names_that_seq(sealed: Path, seq: int) -> None:
    tamper(sealed, ("DELETE FROM journal WHERE seq = ?", (seq,)))
    assert verify(sealed)[:2] == (False, seq)


def test_deleted_last_row_is_caught_by_the_recorded_head(sealed: Path) -> None:
    tamper(sealed, ("DELETE FROM journal WHERE seq = ?", (EVENTS,)))
    ok, bad, reason = verify(sealed)
    assert (ok, bad) == (False, EVENTS)
    assert "recorded head" in reason


def _rows(path: Path) -> list[tuple[object, ...]]:
    return raw(path).execute(f"SELECT {COLUMNS} FROM journal ORDER BY seq").fetchall()


@pytest.mark.parametrize("seq", [1, 12, EVENTS - 1])
def test_reordered_rows_name_the_first_moved_seq(sealed: Path, seq: int) -> None:
    rows = {r[0]: r for r in _rows(sealed)}
    a, b = rows[seq], rows[seq + 1]
    swap = "UPDATE journal SET id=?, type=?, ts=?, till=?, staff=?, data=?, prev_hash=?, hash=?"
    tamper(
        sealed,
        ("UPDATE journal SET id = 'tmp' WHERE seq = ?", (seq + 1,)),
        (swap + " WHERE seq = ?", (*b[1:], seq)),
        (swap + " WHERE seq = ?", (*a[1:], seq + 1)),
    )
    assert verify(sealed)[:2] == (False, seq)


@pytest.mark.parametrize("seq", [1, 15, EVENTS])
def test_inserted_row_names_its_seq(sealed: Path, seq: int) -> None:
    """Insert a copy of another event at `seq`, shifting the later rows up by one."""
    donor = _rows(sealed)[5]
    shift: list[tuple[str, tuple[object, ...]]] = [
        ("UPDATE journal SET seq = seq + 1 WHERE seq = ?", (s,)) for s in range(EVENTS, seq - 1, -1)
    ]
    insert = (
        f"INSERT INTO journal({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, "forged-id", *donor[2:]),
    )
    tamper(sealed, *shift, insert)
    assert verify(sealed)[:2] == (False, seq)


def test_appended_forgery_without_a_valid_hash_is_caught(sealed: Path) -> None:
    last = _rows(sealed)[-1]
    tamper(
        sealed,
        (
            f"INSERT INTO journal({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                EVENTS + 1,
                "forged",
                "test.counter_added",
                last[3],
                None,
                None,
                "{}",
                last[8],
                "0" * 64,
            ),
        ),
    )
    assert verify(sealed)[:2] == (False, EVENTS + 1)


async def test_server_refuses_to_open_a_truncated_ledger(sealed: Path) -> None:
    tamper(sealed, ("DELETE FROM journal WHERE seq = ?", (EVENTS,)))
    ledger = Ledger(sealed, projectors=TEST_PROJECTORS)
    with pytest.raises(Exception, match="edge ledger verify"):
        await ledger.start()


def test_verify_reads_one_snapshot_while_the_writer_appends(sealed: Path) -> None:
    reader = connect(sealed, read_only=True)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM journal").fetchone()
    writer = raw(sealed)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE ledger_head SET seq = seq + 5")
    writer.execute("COMMIT")
    result = verify_chain(reader)  # inside the reader's older snapshot
    assert result.ok
    reader.execute("ROLLBACK")
