"""Transfers between stores (调拨) as of the journal: sent, announced, received, confirmed."""

from __future__ import annotations

import json
import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _opened(conn: sqlite3.Connection, event: Event) -> None:
    """Record a transfer this store sent, or one announced to it (goods in transit)."""
    d = event.data
    direction = "out" if event.type == "transfer.sent" else "in"
    other = d["to_store"] if direction == "out" else d["from_store"]
    conn.execute(
        "INSERT INTO transfers(id, direction, other_store, status, lines, opened_seq)"
        " VALUES (?, ?, ?, 'in_transit', ?, ?)",
        (d["transfer"], direction, other, json.dumps(d["lines"]), event.seq),
    )


def _received(conn: sqlite3.Connection, event: Event) -> None:
    """Close a transfer with what arrived (received here, or confirmed by its destination)."""
    d = event.data
    conn.execute(
        "UPDATE transfers SET status = 'received', received = ?, closed_seq = ? WHERE id = ?",
        (json.dumps(d["lines"]), event.seq, d["transfer"]),
    )


TRANSFERS = Projector(
    name="transfers",
    version=1,
    tables=("transfers",),
    ddl="""
    CREATE TABLE transfers (
        id          TEXT PRIMARY KEY,
        direction   TEXT NOT NULL,
        other_store TEXT NOT NULL,
        status      TEXT NOT NULL,
        lines       TEXT NOT NULL,
        received    TEXT,
        opened_seq  INTEGER NOT NULL,
        closed_seq  INTEGER
    ) STRICT;
    """,
    handlers={
        "transfer.sent": _opened,
        "transfer.announced": _opened,
        "transfer.received": _received,
        "transfer.confirmed": _received,
    },
)
