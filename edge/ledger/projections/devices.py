"""Devices and print jobs as of the journal.

`devices` holds each device record (no password: the broker's password file holds only its
hash and the ledger never sees it). `print_jobs` holds every receipt sent to a printer: a job
stays `pending` until the printer's `res/print` answers, so after a crash of the server or the
broker the pending ones are sent again (the gateway drops a job id it already printed).
"""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _device_saved(conn: sqlite3.Connection, event: Event) -> None:
    """Insert or update a device record."""
    d = event.data["device"]
    conn.execute(
        "INSERT INTO devices(id, type, gateway, till, label, added_seq, updated_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET type = excluded.type,"
        " gateway = excluded.gateway, till = excluded.till, label = excluded.label,"
        " updated_seq = excluded.updated_seq, removed_seq = NULL",
        (d["id"], d["type"], d["gateway"], d["till"], d["label"], event.seq, event.seq),
    )


def _device_rotated(conn: sqlite3.Connection, event: Event) -> None:
    """Note when a device's password last changed."""
    conn.execute(
        "UPDATE devices SET rotated = ?, updated_seq = ? WHERE id = ?",
        (event.ts, event.seq, event.data["device"]),
    )


def _device_removed(conn: sqlite3.Connection, event: Event) -> None:
    """Mark a device removed (its history stays)."""
    conn.execute(
        "UPDATE devices SET removed_seq = ?, updated_seq = ? WHERE id = ?",
        (event.seq, event.seq, event.data["device"]),
    )


def _print_queued(conn: sqlite3.Connection, event: Event) -> None:
    """Record a print job as pending."""
    d = event.data
    conn.execute(
        "INSERT INTO print_jobs(job, printer, kind, receipt, sale, till, copy, state,"
        " queued, queued_seq, updated_seq) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
        (
            d["job"],
            d["printer"],
            d["kind"],
            d["receipt"],
            d["sale"],
            event.till,
            d["copy"],
            event.ts,
            event.seq,
            event.seq,
        ),
    )


def _print_finished(conn: sqlite3.Connection, event: Event) -> None:
    """Close a print job as printed or failed."""
    d = event.data
    state = "printed" if event.type == "print.done" else "failed"
    conn.execute(
        "UPDATE print_jobs SET state = ?, error = ?, finished = ?, updated_seq = ? WHERE job = ?",
        (state, d.get("error"), event.ts, event.seq, d["job"]),
    )


DEVICES = Projector(
    name="devices",
    version=1,
    tables=("devices", "print_jobs"),
    ddl="""
    CREATE TABLE devices (
        id          TEXT PRIMARY KEY,
        type        TEXT NOT NULL,
        gateway     TEXT,
        till        TEXT,
        label       TEXT NOT NULL,
        rotated     TEXT,
        added_seq   INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL,
        removed_seq INTEGER
    ) STRICT;
    CREATE TABLE print_jobs (
        job         TEXT PRIMARY KEY,
        printer     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        receipt     TEXT,
        sale        TEXT,
        till        TEXT,
        copy        INTEGER NOT NULL,
        state       TEXT NOT NULL,
        error       TEXT,
        queued      TEXT NOT NULL,
        finished    TEXT,
        queued_seq  INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX print_jobs_pending ON print_jobs(printer) WHERE state = 'pending';
    CREATE INDEX print_jobs_sale ON print_jobs(sale);
    """,
    handlers={
        "device.saved": _device_saved,
        "device.rotated": _device_rotated,
        "device.removed": _device_removed,
        "print.queued": _print_queued,
        "print.done": _print_finished,
        "print.failed": _print_finished,
    },
)
