"""Stock on hand per product as the sum of its stock movements (pieces, or grams if weighed)."""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _moved(conn: sqlite3.Connection, event: Event) -> None:
    """Add each movement (signed, in the product's base unit) to its product's stock."""
    conn.executemany(
        "INSERT INTO stock(product_id, on_hand, updated_seq) VALUES (?, ?, ?)"
        " ON CONFLICT(product_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand,"
        " updated_seq = excluded.updated_seq",
        [(item["product"], item["quantity"], event.seq) for item in event.data["items"]],
    )


STOCK = Projector(
    name="stock",
    version=1,
    tables=("stock",),
    ddl="""
    CREATE TABLE stock (
        product_id  TEXT PRIMARY KEY,
        on_hand     INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT;
    """,
    handlers={"stock.moved": _moved},
)
