"""Pickup orders (线上下单到店自提) as of the journal: their state and reserved lines."""

from __future__ import annotations

import json
import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _created(conn: sqlite3.Connection, event: Event) -> None:
    """Record a new order and the stock its lines reserve."""
    d = event.data
    conn.execute(
        "INSERT INTO orders(id, status, total, paid_online, member, customer, pickup_by,"
        " created_seq, updated_seq) VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?)",
        (d["order"], d["total"], int(d["paid_online"]), d["member"],
         json.dumps(d["customer"], ensure_ascii=False), d["pickup_by"], event.seq, event.seq),
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO order_lines(order_id, idx, product, quantity) VALUES (?, ?, ?, ?)",
        [(d["order"], i, line["product"], line["quantity"]) for i, line in enumerate(d["lines"])],
    )


def _status(conn: sqlite3.Connection, event: Event) -> None:
    """Move an order to another state (collected: with the sale that took the money)."""
    d = event.data
    status = "collected" if event.type == "order.collected" else d["to"]
    conn.execute(
        "UPDATE orders SET status = ?, sale_id = coalesce(?, sale_id), updated_seq = ?"
        " WHERE id = ?",
        (status, d.get("sale"), event.seq, d["order"]),
    )


ORDERS = Projector(
    name="orders",
    version=1,
    tables=("orders", "order_lines"),
    ddl="""
    CREATE TABLE orders (
        id          TEXT PRIMARY KEY,
        status      TEXT NOT NULL,
        total       INTEGER NOT NULL,
        paid_online INTEGER NOT NULL,
        member      TEXT,
        customer    TEXT NOT NULL,
        pickup_by   TEXT,
        sale_id     TEXT,
        created_seq INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX orders_open ON orders(status) WHERE status IN ('new', 'picking', 'ready');
    CREATE TABLE order_lines (
        order_id TEXT NOT NULL,
        idx      INTEGER NOT NULL,
        product  TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        PRIMARY KEY (order_id, idx)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX order_lines_product ON order_lines(product);
    """,
    handlers={
        "order.created": _created,
        "order.status_changed": _status,
        "order.collected": _status,
    },
)
