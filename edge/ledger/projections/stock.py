"""Stock on hand per product as the sum of its stock movements (pieces, or grams if weighed).

Movements that carry their own client id (adjustments, goods received) are indexed by it so a
retried request is recognised. Batch-tracked goods also have stock per lot (with its expiry):
an item naming its lot moves that lot; an item without one takes from the unexpired lots that
expire first, as of the event's date (a return without a lot goes to the lot "" of unknown
expiry). The allocation depends only on the events, so a rebuild gives the same lots.
"""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event, json_strings


def _moved(conn: sqlite3.Connection, event: Event) -> None:
    """Add each movement (signed, in the product's base unit) to its product's stock."""
    conn.executemany(
        "INSERT INTO stock(product_id, on_hand, updated_seq) VALUES (?, ?, ?)"
        " ON CONFLICT(product_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand,"
        " updated_seq = excluded.updated_seq",
        [(item["product"], item["quantity"], event.seq) for item in event.data["items"]],
    )
    items = event.data["items"]
    with_lots = {  # one lookup for the whole movement: most goods have no lots
        str(row[0])
        for row in conn.execute(
            "SELECT DISTINCT product_id FROM stock_lots"
            " WHERE product_id IN (SELECT value FROM json_each(?))",
            (json_strings(sorted({str(item["product"]) for item in items})),),
        )
    }
    for item in items:
        if item.get("lot") is not None:
            conn.execute(
                "INSERT INTO stock_lots(product_id, lot, expires, on_hand) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(product_id, lot) DO UPDATE SET on_hand = on_hand + excluded.on_hand",
                (item["product"], item["lot"], item.get("expires"), item["quantity"]),
            )
            with_lots.add(item["product"])
        elif item["product"] in with_lots:
            _first_expiring(conn, item["product"], item["quantity"], event.ts[:10])
    if event.data.get("movement"):
        conn.execute(
            "INSERT INTO stock_movements(id, seq) VALUES (?, ?)",
            (event.data["movement"], event.seq),
        )


def _first_expiring(conn: sqlite3.Connection, product: str, quantity: int, day: str) -> None:
    """Take from the unexpired lots expiring first, or put a positive quantity in lot "".

    Expired lots leave only by an adjustment naming them (a write-off).
    """
    if quantity > 0:
        conn.execute(
            "INSERT INTO stock_lots(product_id, lot, expires, on_hand) VALUES (?, '', NULL, ?)"
            " ON CONFLICT(product_id, lot) DO UPDATE SET on_hand = on_hand + excluded.on_hand",
            (product, quantity),
        )
        return
    left = -quantity
    lots = conn.execute(
        "SELECT lot, on_hand FROM stock_lots WHERE product_id = ? AND on_hand > 0"
        " AND (expires IS NULL OR expires >= ?) ORDER BY expires IS NULL, expires, lot",
        (product, day),
    ).fetchall()
    for lot, on_hand in lots:
        take = min(left, on_hand)
        conn.execute(
            "UPDATE stock_lots SET on_hand = on_hand - ? WHERE product_id = ? AND lot = ?",
            (take, product, lot),
        )
        left -= take
        if not left:
            return
    if left:  # sold beyond every lot: the books are short, as for stock on hand
        conn.execute(
            "INSERT INTO stock_lots(product_id, lot, expires, on_hand) VALUES (?, '', NULL, ?)"
            " ON CONFLICT(product_id, lot) DO UPDATE SET on_hand = on_hand + excluded.on_hand",
            (product, -left),
        )


STOCK = Projector(
    name="stock",
    version=3,
    tables=("stock", "stock_movements", "stock_lots"),
    ddl="""
    CREATE TABLE stock (
        product_id  TEXT PRIMARY KEY,
        on_hand     INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE stock_lots (
        product_id TEXT NOT NULL,
        lot        TEXT NOT NULL,
        expires    TEXT,
        on_hand    INTEGER NOT NULL,
        PRIMARY KEY (product_id, lot)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE stock_movements (
        id  TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    ) STRICT;
    """,
    handlers={"stock.moved": _moved},
)
