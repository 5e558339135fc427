"""The back office as of the journal: time clock, weekly rota, expenses, customer feedback."""

from __future__ import annotations

import json
import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _clocked(conn: sqlite3.Connection, event: Event) -> None:
    """Start a shift on clock-in; end the open one on clock-out."""
    d = event.data
    if d["action"] == "in":
        conn.execute(
            "INSERT INTO shifts(staff, clock_in, in_seq) VALUES (?, ?, ?)",
            (d["staff"], event.ts, event.seq),
        )
    else:
        conn.execute(
            "UPDATE shifts SET clock_out = ?, out_seq = ? WHERE staff = ? AND out_seq IS NULL",
            (event.ts, event.seq, d["staff"]),
        )


def _rota_saved(conn: sqlite3.Connection, event: Event) -> None:
    """Replace a week's rota."""
    d = event.data
    conn.execute(
        "INSERT INTO rota(week, shifts, seq) VALUES (?, ?, ?) ON CONFLICT(week) DO UPDATE"
        " SET shifts = excluded.shifts, seq = excluded.seq",
        (d["week"], json.dumps(d["shifts"], ensure_ascii=False), event.seq),
    )


def _expense(conn: sqlite3.Connection, event: Event) -> None:
    """Record an expense."""
    d = event.data
    conn.execute(
        "INSERT INTO expenses(id, date, category, amount, note, photo, seq, staff)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (d["expense"], d["date"], d["category"], d["amount"], d["note"], d["photo"], event.seq,
         event.staff),
    )  # fmt: skip


def _feedback(conn: sqlite3.Connection, event: Event) -> None:
    """Record feedback, or change its owner, status and resolution."""
    d = event.data
    if event.type == "feedback.recorded":
        conn.execute(
            "INSERT INTO feedback(id, kind, text, contact, sale, owner, status, resolution,"
            " created, updated_seq) VALUES (?, ?, ?, ?, ?, ?, 'open', NULL, ?, ?)",
            (d["feedback"], d["kind"], d["text"], d["contact"], d["sale"], d["owner"], event.ts,
             event.seq),
        )  # fmt: skip
    else:
        conn.execute(
            "UPDATE feedback SET owner = ?, status = ?, resolution = ?, updated_seq = ?"
            " WHERE id = ?",
            (d["owner"], d["status"], d["resolution"], event.seq, d["feedback"]),
        )


OFFICE = Projector(
    name="office",
    version=1,
    tables=("shifts", "rota", "expenses", "feedback"),
    ddl="""
    CREATE TABLE shifts (
        staff     TEXT NOT NULL,
        clock_in  TEXT NOT NULL,
        in_seq    INTEGER PRIMARY KEY,
        clock_out TEXT,
        out_seq   INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX shifts_open ON shifts(staff) WHERE out_seq IS NULL;
    CREATE TABLE rota (
        week   TEXT PRIMARY KEY,
        shifts TEXT NOT NULL,
        seq    INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE expenses (
        id       TEXT PRIMARY KEY,
        date     TEXT NOT NULL,
        category TEXT NOT NULL,
        amount   INTEGER NOT NULL,
        note     TEXT NOT NULL,
        photo    TEXT,
        seq      INTEGER NOT NULL,
        staff    TEXT
    ) STRICT;
    CREATE INDEX expenses_date ON expenses(date);
    CREATE TABLE feedback (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        text        TEXT NOT NULL,
        contact     TEXT,
        sale        TEXT,
        owner       TEXT,
        status      TEXT NOT NULL,
        resolution  TEXT,
        created     TEXT NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT;
    """,
    handlers={
        "staff.clocked": _clocked,
        "rota.saved": _rota_saved,
        "expense.recorded": _expense,
        "feedback.recorded": _feedback,
        "feedback.updated": _feedback,
    },
)
