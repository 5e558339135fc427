"""The store's identity and settings as recorded by `store.*` events."""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _initialized(conn: sqlite3.Connection, event: Event) -> None:
    """Record the store the ledger belongs to."""
    data = event.data
    conn.execute(
        "INSERT INTO store(id, name, currency, timezone, initialized_at, initialized_seq)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (data["store"], data["name"], data["currency"], data["timezone"], event.ts, event.seq),
    )


def _renamed(conn: sqlite3.Connection, event: Event) -> None:
    """Apply a change of the store's display name."""
    conn.execute("UPDATE store SET name = ?", (event.data["name"],))


STORE = Projector(
    name="store",
    version=1,
    tables=("store",),
    ddl="""
    CREATE TABLE store (
        id              TEXT PRIMARY KEY,
        name            TEXT NOT NULL,
        currency        TEXT NOT NULL,
        timezone        TEXT NOT NULL,
        initialized_at  TEXT NOT NULL,
        initialized_seq INTEGER NOT NULL
    ) STRICT;
    """,
    handlers={"store.initialized": _initialized, "store.renamed": _renamed},
)
