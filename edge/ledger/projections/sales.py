"""Sales and returns as of the journal: receipts, their lines and tenders, suspended baskets.

One gapless document number runs over sales and returns (`documents`), so a store's printed
receipt numbers have no holes. `request_hash` makes a retried submission recognisable: the
same client id with the same body is the same sale.

A sale's lines and tenders are keyed by the sale's journal seq, not by its client id: ids are
random (UUIDs from the tills), so rows keyed by them would land on a random page of a large
table for every sale and each group commit would write a page per sale and table; keyed by seq
they are appended, a few pages per group. `OF_SALE` finds them by the sale's id.
"""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event

OF_SALE = "sale_seq = (SELECT seq FROM sales WHERE id = ?)"  # rows of the sale with this id


def _next_document(conn: sqlite3.Connection, number: int) -> None:
    """Record that document `number` was used."""
    conn.execute(
        "INSERT INTO documents(id, last) VALUES (1, ?)"
        " ON CONFLICT(id) DO UPDATE SET last = excluded.last",
        (number,),
    )


def _sale_completed(conn: sqlite3.Connection, event: Event) -> None:
    """Record a sale, its lines and its tenders."""
    d = event.data
    conn.execute(
        "INSERT INTO sales(id, receipt_no, seq, ts, till, staff, member, token, request_hash,"
        " total, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'completed')",
        (
            d["sale"],
            d["receipt_no"],
            event.seq,
            event.ts,
            event.till,
            event.staff,
            d["member"],
            d["token"],
            d["request_hash"],
            d["total"],
        ),
    )
    conn.executemany(
        "INSERT INTO sale_lines(sale_seq, idx, product_id, quantity, grams, amount, tax)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                event.seq,
                ln["index"],
                ln["product"],
                ln["quantity"],
                ln["grams"],
                ln["amount"],
                ln["tax"],
            )
            for ln in d["lines"]
        ],
    )
    conn.executemany(
        "INSERT INTO sale_tenders(sale_seq, idx, kind, amount, reference, code)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (event.seq, i, t["kind"], t["amount"], t.get("reference"), t.get("code"))
            for i, t in enumerate(d["tenders"])
        ],
    )
    vouchers = [(t["code"], d["sale"], t["amount"]) for t in d["tenders"] if t["kind"] == "coupon"]
    if vouchers:
        conn.executemany(
            "INSERT INTO vouchers_redeemed(code, sale_id, amount) VALUES (?, ?, ?)", vouchers
        )
    _next_document(conn, d["receipt_no"])


def _sale_returned(conn: sqlite3.Connection, event: Event) -> None:
    """Record a return (or void) and what remains returnable of the sale."""
    d = event.data
    conn.execute(
        "INSERT INTO returns(id, sale_id, receipt_no, seq, ts, request_hash, amount, void)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            d["return"],
            d["sale"],
            d["receipt_no"],
            event.seq,
            event.ts,
            d["request_hash"],
            d["amount"],
            int(d["void"]),
        ),
    )
    conn.executemany(
        "UPDATE sale_lines SET returned_quantity = returned_quantity + ?,"
        " returned_grams = returned_grams + ?, returned_amount = returned_amount + ?,"
        f" returned_tax = returned_tax + ? WHERE {OF_SALE} AND idx = ?",
        [
            (ln["quantity"], ln["grams"] or 0, ln["amount"], ln["tax"], d["sale"], ln["index"])
            for ln in d["lines"]
        ],
    )
    conn.executemany(
        f"UPDATE sale_tenders SET refunded = refunded + ? WHERE {OF_SALE} AND idx = ?",
        [
            (r["amount"], r.get("from_sale", d["sale"]), r["tender"])
            for r in d["refunds"]
            if r["tender"] is not None
        ],
    )
    conn.execute(
        "UPDATE sales SET status = CASE WHEN ? THEN 'voided' WHEN NOT EXISTS ("
        " SELECT 1 FROM sale_lines WHERE sale_seq = sales.seq AND returned_amount < amount)"
        " THEN 'returned' ELSE 'partially_returned' END WHERE id = ?",
        (int(d["void"]), d["sale"]),
    )
    _next_document(conn, d["receipt_no"])


def _voucher_issued(conn: sqlite3.Connection, event: Event) -> None:
    """Record issued vouchers (single use, a value, a validity, maybe one member's)."""
    conn.executemany(
        "INSERT INTO vouchers(code, amount, valid_from, valid_to, member, issued_seq)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (v["code"], v["amount"], v["valid_from"], v["valid_to"], v["member"], event.seq)
            for v in event.data["vouchers"]
        ],
    )


def _basket_suspended(conn: sqlite3.Connection, event: Event) -> None:
    """Park a basket for later."""
    d = event.data
    conn.execute(
        "INSERT INTO suspended_baskets(id, seq, ts, till, staff, label, basket)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (d["basket"], event.seq, event.ts, event.till, event.staff, d["label"], d["json"]),
    )


def _basket_resumed(conn: sqlite3.Connection, event: Event) -> None:
    """Take a parked basket back (it can be resumed once)."""
    conn.execute(
        "UPDATE suspended_baskets SET resumed_seq = ? WHERE id = ?",
        (event.seq, event.data["basket"]),
    )


SALES = Projector(
    name="sales",
    version=3,
    tables=(
        "documents",
        "sales",
        "sale_lines",
        "sale_tenders",
        "returns",
        "vouchers",
        "vouchers_redeemed",
        "suspended_baskets",
    ),
    ddl="""
    CREATE TABLE documents (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        last INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE sales (
        id           TEXT PRIMARY KEY,
        receipt_no   INTEGER NOT NULL UNIQUE,
        seq          INTEGER NOT NULL,
        ts           TEXT NOT NULL,
        till         TEXT,
        staff        TEXT,
        member       TEXT,
        token        TEXT NOT NULL UNIQUE,
        request_hash TEXT NOT NULL,
        total        INTEGER NOT NULL,
        status       TEXT NOT NULL
    ) STRICT;
    CREATE TABLE sale_lines (
        sale_seq          INTEGER NOT NULL,
        idx               INTEGER NOT NULL,
        product_id        TEXT NOT NULL,
        quantity          INTEGER NOT NULL,
        grams             INTEGER,
        amount            INTEGER NOT NULL,
        tax               INTEGER NOT NULL,
        returned_quantity INTEGER NOT NULL DEFAULT 0,
        returned_grams    INTEGER NOT NULL DEFAULT 0,
        returned_amount   INTEGER NOT NULL DEFAULT 0,
        returned_tax      INTEGER NOT NULL DEFAULT 0,
        CHECK (returned_amount <= amount AND returned_tax <= tax),
        CHECK (returned_quantity <= quantity AND returned_grams <= coalesce(grams, 0)),
        PRIMARY KEY (sale_seq, idx)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE sale_tenders (
        sale_seq  INTEGER NOT NULL,
        idx       INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        amount    INTEGER NOT NULL,
        reference TEXT,
        code      TEXT,
        refunded  INTEGER NOT NULL DEFAULT 0 CHECK (refunded <= amount),
        PRIMARY KEY (sale_seq, idx)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE returns (
        id           TEXT PRIMARY KEY,
        sale_id      TEXT NOT NULL,
        receipt_no   INTEGER NOT NULL UNIQUE,
        seq          INTEGER NOT NULL,
        ts           TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        amount       INTEGER NOT NULL,
        void         INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX returns_sale ON returns(sale_id);
    CREATE TABLE vouchers (
        code       TEXT PRIMARY KEY,
        amount     INTEGER NOT NULL,
        valid_from TEXT,
        valid_to   TEXT,
        member     TEXT,
        issued_seq INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE vouchers_redeemed (
        code    TEXT PRIMARY KEY,
        sale_id TEXT NOT NULL,
        amount  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE suspended_baskets (
        id          TEXT PRIMARY KEY,
        seq         INTEGER NOT NULL,
        ts          TEXT NOT NULL,
        till        TEXT,
        staff       TEXT,
        label       TEXT NOT NULL,
        basket      TEXT NOT NULL,
        resumed_seq INTEGER
    ) STRICT;
    """,
    handlers={
        "sale.completed": _sale_completed,
        "sale.returned": _sale_returned,
        "voucher.issued": _voucher_issued,
        "basket.suspended": _basket_suspended,
        "basket.resumed": _basket_resumed,
    },
)
