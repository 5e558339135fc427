"""Reading and writing journal rows; the in-transaction handle commands append through."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from edge.ledger.projections import ProjectionSet
from edge.protocol.chain import (
    EVENT_TYPE_PATTERN,
    GENESIS_HASH,
    Event,
    EventDataError,
    PreparedData,
    canonical_event,
    canonical_text,
    chain_hash,
    check_data,
)

Clock = Callable[[], datetime]
Row = tuple[int, str, str, str, str | None, str | None]  # seq, id, type, ts, till, staff
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)

COLUMNS = "seq, id, type, ts, till, staff, data, prev_hash, hash"
_INSERT = f"INSERT INTO journal({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SET_HEAD = (
    "INSERT INTO ledger_head(id, seq, hash) VALUES (1, ?, ?)"
    " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
)


def new_event_id(now: datetime) -> str:
    """Return a fresh event id: a UUID version 7 (time-ordered, 74 random bits).

    Its time prefix makes consecutive events' ids neighbours in the journal's id index, so an
    append touches the index's last pages instead of a random page of a large file.
    """
    millis = ((now - _EPOCH) // _MILLISECOND) & 0xFFFF_FFFF_FFFF  # exact, no float
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b = (rand >> 62) & 0xFFF, rand & (2**62 - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def row_to_event(row: tuple[Any, ...]) -> Event:
    """Turn a journal row (COLUMNS order) into an Event."""
    seq, event_id, event_type, ts, till, staff, data, prev_hash, hash_ = row
    return Event(seq, event_id, event_type, ts, till, staff, json.loads(data), prev_hash, hash_)


def iter_events(
    conn: sqlite3.Connection, *, from_seq: int = 1, to_seq: int | None = None
) -> Iterator[Event]:
    """Stream journal events in seq order (bounded memory)."""
    sql = f"SELECT {COLUMNS} FROM journal WHERE seq >= ?"
    params: list[int] = [from_seq]
    if to_seq is not None:
        sql += " AND seq <= ?"
        params.append(to_seq)
    for row in conn.execute(sql + " ORDER BY seq", params):
        yield row_to_event(row)


def journal_tail(conn: sqlite3.Connection) -> tuple[int, str]:
    """Return (seq, hash) of the last journal row, or (0, genesis) for an empty journal."""
    row = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


def recorded_head(conn: sqlite3.Connection) -> tuple[int, str]:
    """Return the head the writer recorded with its last commit (or genesis)."""
    row = conn.execute("SELECT seq, hash FROM ledger_head WHERE id = 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


class ChainState:
    """The writer's view of the chain head; restored when a command rolls back."""

    __slots__ = ("hash", "seq")

    def __init__(self, seq: int, hash_: str) -> None:
        """Start from a known head."""
        self.seq = seq
        self.hash = hash_

    def snapshot(self) -> tuple[int, str]:
        """Return the head as a tuple."""
        return self.seq, self.hash

    def restore(self, head: tuple[int, str]) -> None:
        """Go back to an earlier head."""
        self.seq, self.hash = head

    def record(self, conn: sqlite3.Connection) -> None:
        """Store the head alongside the journal (inside the open transaction)."""
        conn.execute(_SET_HEAD, (self.seq, self.hash))


class Tx:
    """The handle a command gets: append events, read state, all in the open transaction."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        chain: ChainState,
        projections: ProjectionSet,
        clock: Clock,
    ) -> None:
        """Bind the writer's connection, head, projections and clock."""
        self.conn = conn
        self._chain = chain
        self._projections = projections
        self._clock = clock
        self.appended: list[Event] = []  # this group's events so far, told to listeners on COMMIT

    def now(self) -> datetime:
        """Return the store clock's current, timezone-aware time."""
        return self._clock()

    @property
    def head_seq(self) -> int:
        """Return the seq of the last event appended so far (in this transaction too)."""
        return self._chain.seq

    @property
    def head_hash(self) -> str:
        """Return the hash of the last event appended so far (in this transaction too)."""
        return self._chain.hash

    def append(
        self,
        event_type: str,
        data: Mapping[str, Any] | PreparedData,
        *,
        till: str | None = None,
        staff: str | None = None,
        event_id: str | None = None,
    ) -> Event:
        """Append one event: hash-chain it, insert it and update the projections."""
        if not EVENT_TYPE_PATTERN.match(event_type):
            raise EventDataError(f"bad event type {event_type!r}")
        if isinstance(data, PreparedData):  # checked and serialised before the transaction
            payload, data_json = data.data, data.canonical()
        else:
            payload = dict(data)
            check_data(payload)
            data_json = canonical_text(payload)
        now = self._clock()
        if now.tzinfo is None:
            raise EventDataError("the clock returned a naive datetime")
        ts = now.isoformat(timespec="milliseconds")
        row = (self._chain.seq + 1, event_id or new_event_id(now), event_type, ts, till, staff)
        return self._write(row, payload, data_json, self._hash(row, data_json))

    def restore(self, event: Mapping[str, Any], data_json: str) -> Event:
        """Re-append an event this ledger recorded once and lost (recovered from HQ), as it was.

        `event` has the wire fields (seq, id, type, ts, till, staff, prev_hash, hash) and
        `data_json` its data's canonical text. It must continue this chain exactly and its hash
        must match its content; its projections are applied like any append.
        """
        seq, prev_hash = int(event["seq"]), str(event["prev_hash"])
        if seq != self._chain.seq + 1 or prev_hash != self._chain.hash:
            raise EventDataError(f"seq {seq} does not continue the chain at seq {self._chain.seq}")
        if not EVENT_TYPE_PATTERN.match(event["type"]):
            raise EventDataError(f"bad event type {event['type']!r}")
        payload = json.loads(data_json)
        check_data(payload)
        row: Row = (seq, event["id"], event["type"], event["ts"], event["till"], event["staff"])
        hash_ = self._hash(row, data_json)
        if hash_ != event["hash"]:
            raise EventDataError(f"seq {seq}: the hash does not match the content")
        return self._write(row, payload, data_json, hash_)

    def _hash(self, row: Row, data_json: str) -> str:
        """Return the hash of the event (seq, id, type, ts, till, staff) after the head."""
        seq, event_id, event_type, ts, till, staff = row
        return chain_hash(
            self._chain.hash,
            canonical_event(
                seq=seq,
                event_id=event_id,
                event_type=event_type,
                ts=ts,
                till=till,
                staff=staff,
                data_json=data_json,
                prev_hash=self._chain.hash,
            ),
        )

    def _write(self, row: Row, payload: dict[str, Any], data_json: str, hash_: str) -> Event:
        """Insert the chained event, move the head to it and update the projections."""
        prev_hash = self._chain.hash
        self.conn.execute(_INSERT, (*row, data_json, prev_hash, hash_))
        event = Event(*row, payload, prev_hash, hash_)
        self._chain.seq, self._chain.hash = row[0], hash_
        self._projections.apply(self.conn, event)
        self.appended.append(event)
        return event
