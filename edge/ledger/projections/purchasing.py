"""Purchase orders as of the journal: what was ordered, what deliveries brought, their state."""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _created(conn: sqlite3.Connection, event: Event) -> None:
    """Record a purchase order and its lines."""
    d = event.data
    conn.execute(
        "INSERT INTO purchase_orders(id, supplier, status, expected, created_seq)"
        " VALUES (?, ?, 'open', ?, ?)",
        (d["purchase_order"], d["supplier"], d["expected"], event.seq),
    )
    conn.executemany(
        "INSERT INTO po_lines(po_id, product, ordered, received) VALUES (?, ?, ?, 0)",
        [(d["purchase_order"], line["product"], line["quantity"]) for line in d["lines"]],
    )


def _received(conn: sqlite3.Connection, event: Event) -> None:
    """Count a delivery against its purchase order (goods not ordered get a line of 0)."""
    po = event.data.get("purchase_order")
    if not po:
        return
    for item in event.data["items"]:
        conn.execute(
            "INSERT INTO po_lines(po_id, product, ordered, received) VALUES (?, ?, 0, ?)"
            " ON CONFLICT(po_id, product) DO UPDATE SET received = received + excluded.received",
            (po, item["product"], item["quantity"]),
        )
    short = conn.execute(
        "SELECT count(*) FROM po_lines WHERE po_id = ? AND received < ordered", (po,)
    ).fetchone()[0]
    conn.execute(
        "UPDATE purchase_orders SET status = ? WHERE id = ?",
        ("partially_received" if short else "received", po),
    )


def _closed(conn: sqlite3.Connection, event: Event) -> None:
    """Close a purchase order (what did not come is not expected any more)."""
    conn.execute(
        "UPDATE purchase_orders SET status = 'closed', closed_seq = ? WHERE id = ?",
        (event.seq, event.data["purchase_order"]),
    )


PURCHASING = Projector(
    name="purchasing",
    version=1,
    tables=("purchase_orders", "po_lines"),
    ddl="""
    CREATE TABLE purchase_orders (
        id          TEXT PRIMARY KEY,
        supplier    TEXT NOT NULL,
        status      TEXT NOT NULL,
        expected    TEXT,
        created_seq INTEGER NOT NULL,
        closed_seq  INTEGER
    ) STRICT;
    CREATE TABLE po_lines (
        po_id    TEXT NOT NULL,
        product  TEXT NOT NULL,
        ordered  INTEGER NOT NULL,
        received INTEGER NOT NULL,
        PRIMARY KEY (po_id, product)
    ) STRICT, WITHOUT ROWID;
    """,
    handlers={
        "purchase_order.created": _created,
        "stock.moved": _received,
        "purchase_order.closed": _closed,
    },
)
