"""The catalog downlink's place as of the journal: HQ's version applied, the last refusal.

The version lives in the ledger, written in the same transaction as the changes it covers, so
a restored ledger asks HQ again for exactly what it no longer has.
"""

from __future__ import annotations

import json
import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _synced(conn: sqlite3.Connection, event: Event) -> None:
    """Move to the version HQ's changes were applied up to; a refusal is over."""
    conn.execute(
        "INSERT INTO catalog_sync(id, version, synced_seq, synced_ts) VALUES (1, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET version = excluded.version,"
        " synced_seq = excluded.synced_seq, synced_ts = excluded.synced_ts,"
        " rejected_version = NULL, rejected_problems = NULL, rejected_seq = NULL",
        (event.data["version"], event.seq, event.ts),
    )


def _rejected(conn: sqlite3.Connection, event: Event) -> None:
    """Remember the changes refused (the catalog stays as it was)."""
    d = event.data
    conn.execute(
        "INSERT INTO catalog_sync(id, version, rejected_version, rejected_problems, rejected_seq)"
        " VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
        " rejected_version = excluded.rejected_version,"
        " rejected_problems = excluded.rejected_problems, rejected_seq = excluded.rejected_seq",
        (d["from_version"], d["version"], json.dumps(d["problems"]), event.seq),
    )


HQ_SYNC = Projector(
    name="hq_sync",
    version=1,
    tables=("catalog_sync",),
    ddl="""
    CREATE TABLE catalog_sync (
        id                INTEGER PRIMARY KEY CHECK (id = 1),
        version           INTEGER NOT NULL,
        synced_seq        INTEGER,
        synced_ts         TEXT,
        rejected_version  INTEGER,
        rejected_problems TEXT,
        rejected_seq      INTEGER
    ) STRICT;
    """,
    handlers={"catalog.synced": _synced, "catalog.sync_rejected": _rejected},
)
