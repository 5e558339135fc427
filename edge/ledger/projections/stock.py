"""Stock on hand per product as the sum of its stock movements (pieces, or grams if weighed).

Movements that carry their own client id (adjustments, goods received) are indexed by it so a
retried request is recognised.
"""

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
    if event.data.get("movement"):
        conn.execute(
            "INSERT INTO stock_movements(id, seq) VALUES (?, ?)",
            (event.data["movement"], event.seq),
        )


STOCK = Projector(
    name="stock",
    version=2,
    tables=("stock", "stock_movements"),
    ddl="""
    CREATE TABLE stock (
        product_id  TEXT PRIMARY KEY,
        on_hand     INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE stock_movements (
        id  TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    ) STRICT;
    """,
    handlers={"stock.moved": _moved},
)
