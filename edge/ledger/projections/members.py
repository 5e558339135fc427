"""Members and their stored-value balances as of the journal."""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _saved(conn: sqlite3.Connection, event: Event) -> None:
    """Insert or update a member (the balance is kept)."""
    m = event.data["member"]
    conn.execute(
        "INSERT INTO members(id, name, phone, card_no, tier, active, birthday, stored_value,"
        " updated_seq) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)"
        " ON CONFLICT(id) DO UPDATE SET name = excluded.name, birthday = excluded.birthday,"
        " phone = excluded.phone, card_no = excluded.card_no, tier = excluded.tier,"
        " active = excluded.active, updated_seq = excluded.updated_seq",
        (
            m["id"],
            m["name"],
            m["phone"],
            m["card_no"],
            m["tier"],
            int(m["active"]),
            m.get("birthday"),
            event.seq,
        ),
    )


def _balance(conn: sqlite3.Connection, event: Event) -> None:
    """Set the member's stored-value balance to the one the event recorded."""
    conn.execute(
        "UPDATE members SET stored_value = ?, updated_seq = ? WHERE id = ?",
        (event.data["balance"], event.seq, event.data["member"]),
    )


def _topped_up(conn: sqlite3.Connection, event: Event) -> None:
    """Record a top-up (its client id makes a retry recognisable) and the new balance."""
    d = event.data
    conn.execute(
        "INSERT INTO top_ups(id, member, amount, bonus, seq) VALUES (?, ?, ?, ?, ?)",
        (d["top_up"], d["member"], d["amount"], d["bonus"], event.seq),
    )
    _balance(conn, event)


def _member_sale(conn: sqlite3.Connection, event: Event) -> None:
    """Add what a member's sale or return changes: spend and points (earned, redeemed, back)."""
    member = event.data.get("member")
    if not member:
        return
    spent = event.data["total"] if event.type == "sale.completed" else -event.data["amount"]
    conn.execute(
        "UPDATE members SET spend = spend + ?, updated_seq = ? WHERE id = ?",
        (spent, event.seq, member),
    )
    points = event.data.get("points")
    if not points:
        return
    change = points.get("earned", 0) - points.get("redeemed", 0)
    change += points.get("refunded", 0) - points.get("reversed", 0)
    if change:
        conn.execute(
            "UPDATE members SET points = points + ?, updated_seq = ? WHERE id = ?",
            (change, event.seq, event.data["member"]),
        )


def _tier_changed(conn: sqlite3.Connection, event: Event) -> None:
    """Move a member to another tier."""
    conn.execute(
        "UPDATE members SET tier = ?, updated_seq = ? WHERE id = ?",
        (event.data["to"], event.seq, event.data["member"]),
    )


MEMBERS = Projector(
    name="members",
    version=4,
    tables=("members", "top_ups"),
    ddl="""
    CREATE TABLE members (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        phone        TEXT UNIQUE,
        card_no      TEXT UNIQUE,
        tier         TEXT NOT NULL,
        active       INTEGER NOT NULL,
        stored_value INTEGER NOT NULL CHECK (stored_value >= 0),
        points       INTEGER NOT NULL DEFAULT 0,
        spend        INTEGER NOT NULL DEFAULT 0,
        birthday     TEXT,
        updated_seq  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE top_ups (
        id     TEXT PRIMARY KEY,
        member TEXT NOT NULL,
        amount INTEGER NOT NULL,
        bonus  INTEGER NOT NULL,
        seq    INTEGER NOT NULL
    ) STRICT;
    """,
    handlers={
        "member.saved": _saved,
        "stored_value.topped_up": _topped_up,
        "stored_value.spent": _balance,
        "stored_value.refunded": _balance,
        "sale.completed": _member_sale,
        "sale.returned": _member_sale,
        "member.tier_changed": _tier_changed,
    },
)
