"""The catalog as of the journal: categories, products and the barcode index."""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event, dumps_canonical

PRODUCT_COLUMNS = (
    "id, name_zh, name_en, category, brand, unit, tax_class, cost, list_price, member_price,"
    " sold_by_weight, age_restricted, plu, active, reorder_point, pack_size, batch_tracked,"
    " unit_grams"
)


def _category_saved(conn: sqlite3.Connection, event: Event) -> None:
    """Insert or replace a category."""
    c = event.data["category"]
    conn.execute(
        "INSERT INTO categories(id, name_zh, name_en, parent, updated_seq) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en,"
        " parent = excluded.parent, updated_seq = excluded.updated_seq",
        (c["id"], c["name_zh"], c["name_en"], c["parent"], event.seq),
    )


def _product_saved(conn: sqlite3.Connection, event: Event) -> None:
    """Insert or replace a product and its barcodes."""
    p = event.data["product"]
    conn.execute(
        f"INSERT OR REPLACE INTO products({PRODUCT_COLUMNS}, updated_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            p["id"],
            p["name_zh"],
            p["name_en"],
            p["category"],
            p["brand"],
            p["unit"],
            p["tax_class"],
            p["cost"],
            p["list_price"],
            p["member_price"],
            int(p["sold_by_weight"]),
            int(p["age_restricted"]),
            p["plu"],
            int(p["active"]),
            p.get("reorder_point"),
            p.get("pack_size", 1),
            int(p.get("batch_tracked", False)),
            p.get("unit_grams"),
            event.seq,
        ),
    )
    conn.execute("DELETE FROM barcodes WHERE product_id = ?", (p["id"],))
    conn.executemany(
        "INSERT INTO barcodes(code, product_id) VALUES (?, ?)",
        [(code, p["id"]) for code in p["barcodes"]],
    )


def _promotion_saved(conn: sqlite3.Connection, event: Event) -> None:
    """Insert or replace a promotion (kept whole as its event data)."""
    p = event.data["promotion"]
    conn.execute(
        "INSERT OR REPLACE INTO promotions(id, coupon_code, active, data, updated_seq)"
        " VALUES (?, ?, ?, ?, ?)",
        (p["id"], p["coupon_code"], int(p["active"]), dumps_canonical(p), event.seq),
    )


CATALOG = Projector(
    name="catalog",
    version=5,
    tables=("categories", "products", "barcodes", "promotions"),
    ddl="""
    CREATE TABLE categories (
        id          TEXT PRIMARY KEY,
        name_zh     TEXT NOT NULL,
        name_en     TEXT NOT NULL,
        parent      TEXT,
        updated_seq INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE products (
        id             TEXT PRIMARY KEY,
        name_zh        TEXT NOT NULL,
        name_en        TEXT NOT NULL,
        category       TEXT,
        brand          TEXT NOT NULL,
        unit           TEXT NOT NULL,
        tax_class      TEXT NOT NULL,
        cost           INTEGER NOT NULL,
        list_price     INTEGER NOT NULL,
        member_price   INTEGER,
        sold_by_weight INTEGER NOT NULL,
        age_restricted INTEGER NOT NULL,
        plu            TEXT UNIQUE,
        active         INTEGER NOT NULL,
        reorder_point  INTEGER,
        pack_size      INTEGER NOT NULL DEFAULT 1,
        batch_tracked  INTEGER NOT NULL DEFAULT 0,
        unit_grams     INTEGER,
        updated_seq    INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX products_category ON products(category);
    CREATE TABLE barcodes (
        code       TEXT PRIMARY KEY,
        product_id TEXT NOT NULL
    ) STRICT;
    CREATE INDEX barcodes_product ON barcodes(product_id);
    CREATE TABLE promotions (
        id          TEXT PRIMARY KEY,
        coupon_code TEXT,
        active      INTEGER NOT NULL,
        data        TEXT NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT;
    """,
    handlers={
        "catalog.category_saved": _category_saved,
        "catalog.product_saved": _product_saved,
        "catalog.promotion_saved": _promotion_saved,
    },
)
