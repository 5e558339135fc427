"""Stock on hand per product as the sum of its stock movements (pieces, or grams if weighed).

Movements that carry their own client id (adjustments, goods received) are indexed by it so a
retried request is recognised. Batch-tracked goods also have stock per lot (with its expiry):
an item naming its lot moves that lot; an item without one takes from the unexpired lots that
expire first, as of the event's date (a return without a lot goes to the lot "" of unknown
expiry). The allocation depends only on the events, so a rebuild gives the same lots.

Most goods have no lots, and a sale should not pay a lookup of lots for each of them: the
table `lot_products` lists each product when its first lot appears, and `lot_products()` keeps
that list per writer connection, reading it again only when another connection committed
(SQLite's data version moved) and the list grew (its last row number moved).
What it keeps may hold too much (a lot made in a transaction that was rolled back), never too
little, so only its candidates are looked up and the lookups stay exact.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from edge.ledger.projections import Projector
from edge.protocol.chain import Event, json_strings


class _LotProducts:
    """What `lot_products` keeps for one connection."""

    __slots__ = ("last", "products", "version")

    def __init__(self, version: int, last: int, products: set[str]) -> None:
        self.version = version  # SQLite's data version when last checked
        self.last = last  # the highest row number of lot_products then
        self.products = products


def lot_products(conn: sqlite3.Connection) -> set[str] | None:
    """Return the products that may have lots (a superset), or None where nothing is kept.

    For the writer's connection (see the module's notes); a connection without a memo gets
    None: look every product up.
    """
    memo: dict[str, object] | None = getattr(conn, "memo", None)
    if memo is None:
        return None
    version = conn.execute("PRAGMA data_version").fetchone()[0]
    known = memo.get("lot_products")
    if isinstance(known, _LotProducts) and known.version == version:
        return known.products  # nobody else committed since
    last = conn.execute("SELECT coalesce(max(n), 0) FROM lot_products").fetchone()[0]
    if isinstance(known, _LotProducts) and known.last == last:
        known.version = version  # others committed, but no product got its first lot
        return known.products
    products = {str(row[0]) for row in conn.execute("SELECT product_id FROM lot_products")}
    memo["lot_products"] = _LotProducts(version, last, products)
    return products


def lot_candidates(conn: sqlite3.Connection, products: Iterable[str]) -> list[str]:
    """Return, sorted and once each, those of `products` that may have lots (look them up)."""
    maybe = lot_products(conn)
    return sorted({p for p in products if maybe is None or p in maybe})


def products_with_lots(conn: sqlite3.Connection, products: Iterable[str]) -> set[str]:
    """Return which of `products` have lots (exact; one lookup, of the candidates only)."""
    wanted = lot_candidates(conn, products)
    if not wanted:
        return set()
    return {
        str(row[0])
        for row in conn.execute(
            "SELECT DISTINCT product_id FROM stock_lots"
            " WHERE product_id IN (SELECT value FROM json_each(?))",
            (json_strings(wanted),),
        )
    }


def _first_lot(conn: sqlite3.Connection, product: str) -> None:
    """List `product` among those with lots (its first lot is being made)."""
    conn.execute("INSERT OR IGNORE INTO lot_products(product_id) VALUES (?)", (product,))
    maybe = lot_products(conn)
    if maybe is not None:
        maybe.add(product)


def _moved(conn: sqlite3.Connection, event: Event) -> None:
    """Add each movement (signed, in the product's base unit) to its product's stock."""
    conn.executemany(
        "INSERT INTO stock(product_id, on_hand, updated_seq) VALUES (?, ?, ?)"
        " ON CONFLICT(product_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand,"
        " updated_seq = excluded.updated_seq",
        [(item["product"], item["quantity"], event.seq) for item in event.data["items"]],
    )
    items = event.data["items"]
    with_lots = products_with_lots(conn, (str(item["product"]) for item in items))
    for item in items:
        if item.get("lot") is not None:
            conn.execute(
                "INSERT INTO stock_lots(product_id, lot, expires, on_hand) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(product_id, lot) DO UPDATE SET on_hand = on_hand + excluded.on_hand",
                (item["product"], item["lot"], item.get("expires"), item["quantity"]),
            )
            if item["product"] not in with_lots:
                _first_lot(conn, item["product"])
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
    version=4,
    tables=("stock", "stock_movements", "stock_lots", "lot_products"),
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
    CREATE TABLE lot_products (
        n          INTEGER PRIMARY KEY,
        product_id TEXT NOT NULL UNIQUE
    ) STRICT;
    CREATE TABLE stock_movements (
        id  TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    ) STRICT;
    """,
    handlers={"stock.moved": _moved},
)
