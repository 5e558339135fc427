"""Business days, till sessions and business-hours overrides as of the journal."""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _day_opened(conn: sqlite3.Connection, event: Event) -> None:
    """Open a business day."""
    d = event.data
    conn.execute(
        "INSERT INTO business_days(day_no, date, opened_seq) VALUES (?, ?, ?)",
        (d["day"], d["date"], event.seq),
    )


def _day_closed(conn: sqlite3.Connection, event: Event) -> None:
    """Close a business day with its Z report."""
    d = event.data
    conn.execute(
        "UPDATE business_days SET closed_seq = ?, z_no = ?, grand_total = ? WHERE day_no = ?",
        (event.seq, d["z_no"], d["grand_total"], d["day"]),
    )


def _till_opened(conn: sqlite3.Connection, event: Event) -> None:
    """Open a till session with its float."""
    d = event.data
    conn.execute(
        "INSERT INTO till_sessions(id, till, day_no, staff, float, opened_seq)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (d["session"], event.till, d["day"], event.staff, d["float"], event.seq),
    )


def _till_closed(conn: sqlite3.Connection, event: Event) -> None:
    """Close a till session with the cash counted."""
    d = event.data
    conn.execute(
        "UPDATE till_sessions SET closed_seq = ?, counted = ?, expected = ? WHERE id = ?",
        (event.seq, d["counted"], d["expected"], d["session"]),
    )


def _hours_overridden(conn: sqlite3.Connection, event: Event) -> None:
    """Record a manager's business-hours override."""
    d = event.data
    conn.execute(
        "INSERT INTO hours_overrides(seq, until, staff, reason) VALUES (?, ?, ?, ?)",
        (event.seq, d["until"], event.staff, d["reason"]),
    )


DAYS = Projector(
    name="days",
    version=1,
    tables=("business_days", "till_sessions", "hours_overrides"),
    ddl="""
    CREATE TABLE business_days (
        day_no      INTEGER PRIMARY KEY,
        date        TEXT NOT NULL,
        opened_seq  INTEGER NOT NULL,
        closed_seq  INTEGER,
        z_no        INTEGER UNIQUE,
        grand_total INTEGER
    ) STRICT;
    CREATE TABLE till_sessions (
        id         TEXT PRIMARY KEY,
        till       TEXT NOT NULL,
        day_no     INTEGER NOT NULL,
        staff      TEXT,
        float      INTEGER NOT NULL,
        opened_seq INTEGER NOT NULL,
        closed_seq INTEGER,
        counted    INTEGER,
        expected   INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX till_sessions_open ON till_sessions(till) WHERE closed_seq IS NULL;
    CREATE TABLE hours_overrides (
        seq    INTEGER PRIMARY KEY,
        until  TEXT NOT NULL,
        staff  TEXT,
        reason TEXT NOT NULL
    ) STRICT;
    """,
    handlers={
        "day.opened": _day_opened,
        "day.closed": _day_closed,
        "till.opened": _till_opened,
        "till.closed": _till_closed,
        "hours.overridden": _hours_overridden,
    },
)
