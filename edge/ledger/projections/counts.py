"""Stock counts (盘点) as of the journal: open counts, what was counted, what was posted."""

from __future__ import annotations

import json
import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _opened(conn: sqlite3.Connection, event: Event) -> None:
    """Open a count over its products."""
    d = event.data
    conn.execute(
        "INSERT INTO counts(id, scope, products, status, opened_seq) VALUES (?, ?, ?, 'open', ?)",
        (d["count"], json.dumps(d["scope"]), json.dumps(d["products"]), event.seq),
    )


def _counted(conn: sqlite3.Connection, event: Event) -> None:
    """Add (or set) counted quantities; a product's first entry brings its book quantity."""
    d = event.data
    for item in d["items"]:
        if item.get("book") is not None:  # the product's first entry in this count
            conn.execute(
                "INSERT INTO count_lines(count_id, product, counted, book, first_seq)"
                " VALUES (?, ?, ?, ?, ?)",
                (d["count"], item["product"], item["quantity"], item["book"], event.seq),
            )
        elif d["mode"] == "set":
            conn.execute(
                "UPDATE count_lines SET counted = ? WHERE count_id = ? AND product = ?",
                (item["quantity"], d["count"], item["product"]),
            )
        else:
            conn.execute(
                "UPDATE count_lines SET counted = counted + ? WHERE count_id = ? AND product = ?",
                (item["quantity"], d["count"], item["product"]),
            )


def _closed(conn: sqlite3.Connection, event: Event) -> None:
    """Mark a count posted or cancelled."""
    status = "posted" if event.type == "stock.count_posted" else "cancelled"
    conn.execute(
        "UPDATE counts SET status = ?, closed_seq = ? WHERE id = ?",
        (status, event.seq, event.data["count"]),
    )


COUNTS = Projector(
    name="counts",
    version=1,
    tables=("counts", "count_lines"),
    ddl="""
    CREATE TABLE counts (
        id         TEXT PRIMARY KEY,
        scope      TEXT NOT NULL,
        products   TEXT NOT NULL,
        status     TEXT NOT NULL,
        opened_seq INTEGER NOT NULL,
        closed_seq INTEGER
    ) STRICT;
    CREATE TABLE count_lines (
        count_id  TEXT NOT NULL,
        product   TEXT NOT NULL,
        counted   INTEGER NOT NULL,
        book      INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        PRIMARY KEY (count_id, product)
    ) STRICT, WITHOUT ROWID;
    """,
    handlers={
        "stock.count_opened": _opened,
        "stock.counted": _counted,
        "stock.count_posted": _closed,
        "stock.count_cancelled": _closed,
    },
)
