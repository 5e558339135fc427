"""Staff, their sign-in record, sessions, paired tills and API tokens as of the journal.

Secrets are never stored: PINs as salted, peppered scrypt hashes; badges, session tokens,
till device tokens, pairing codes and API tokens as keyed digests. The sign-in record (wrong
PINs in a row, locks, lock end) is built from `auth.*` events, so a lock survives a restart.
"""

from __future__ import annotations

import sqlite3

from edge.ledger.projections import Projector
from edge.protocol.chain import Event


def _staff_saved(conn: sqlite3.Connection, event: Event) -> None:
    """Insert or update a staff member (PIN and sign-in record kept)."""
    s = event.data["staff"]
    conn.execute(
        "INSERT INTO staff(id, name, role, active, badge, commission_bp, updated_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
        " role = excluded.role, active = excluded.active, badge = excluded.badge,"
        " commission_bp = excluded.commission_bp, updated_seq = excluded.updated_seq",
        (
            s["id"],
            s["name"],
            s["role"],
            int(s["active"]),
            s["badge"],
            s["commission_bp"],
            event.seq,
        ),
    )
    if not s["active"]:
        _end_sessions(conn, event, "staff = ?", s["id"])


def _pin_set(conn: sqlite3.Connection, event: Event) -> None:
    """Store a new PIN hash; a new PIN clears wrong attempts and the lock."""
    d = event.data
    conn.execute(
        "UPDATE staff SET salt = ?, pin_hash = ?, failures = 0, locked_until = NULL,"
        " updated_seq = ? WHERE id = ?",
        (d["salt"], d["hash"], event.seq, d["staff"]),
    )


def _attempt(conn: sqlite3.Connection, event: Event) -> None:
    """Record the sign-in record an attempt left (success resets it, failure may lock)."""
    d = event.data
    if d["staff"] is not None:
        conn.execute(
            "UPDATE staff SET failures = ?, locks = ?, locked_until = ? WHERE id = ?",
            (d["failures"], d["locks"], d["locked_until"], d["staff"]),
        )
    if event.type == "auth.signed_in":
        conn.execute(
            "INSERT INTO staff_sessions(digest, staff, till, started, expires)"
            " VALUES (?, ?, ?, ?, ?)",
            (d["session"], d["staff"], d["till"], event.ts, d["expires"]),
        )


def _signed_out(conn: sqlite3.Connection, event: Event) -> None:
    """End one session."""
    _end_sessions(conn, event, "digest = ?", event.data["session"])


def _end_sessions(conn: sqlite3.Connection, event: Event, where: str, value: str) -> None:
    """End the open sessions matching `where`."""
    conn.execute(
        f"UPDATE staff_sessions SET ended_seq = ? WHERE ended_seq IS NULL AND {where}",
        (event.seq, value),
    )


def _pairing_created(conn: sqlite3.Connection, event: Event) -> None:
    """Record a one-time pairing code (its digest) for a till."""
    d = event.data
    conn.execute(
        "INSERT INTO till_pairings(code, till, name, expires) VALUES (?, ?, ?, ?)",
        (d["code"], d["till"], d["name"], d["expires"]),
    )


def _paired(conn: sqlite3.Connection, event: Event) -> None:
    """Make a device till N (a till paired again drops its old device and its sessions)."""
    d = event.data
    conn.execute("UPDATE till_pairings SET used_seq = ? WHERE code = ?", (event.seq, d["code"]))
    conn.execute(
        "INSERT INTO tills(id, name, device, paired_seq) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET name = excluded.name, device = excluded.device,"
        " paired_seq = excluded.paired_seq",
        (d["till"], d["name"], d["device"], event.seq),
    )
    _end_sessions(conn, event, "till = ?", d["till"])


def _unpaired(conn: sqlite3.Connection, event: Event) -> None:
    """Forget a till's device: it can no longer sell."""
    till = event.data["till"]
    conn.execute("UPDATE tills SET device = NULL, paired_seq = ? WHERE id = ?", (event.seq, till))
    _end_sessions(conn, event, "till = ?", till)


def _token_created(conn: sqlite3.Connection, event: Event) -> None:
    """Record an API token (its digest)."""
    d = event.data
    conn.execute(
        "INSERT INTO api_tokens(name, role, till, digest, created_seq) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET role = excluded.role, till = excluded.till,"
        " digest = excluded.digest, created_seq = excluded.created_seq, revoked_seq = NULL",
        (d["name"], d["role"], d["till"], d["digest"], event.seq),
    )


def _token_revoked(conn: sqlite3.Connection, event: Event) -> None:
    """Revoke an API token."""
    conn.execute(
        "UPDATE api_tokens SET revoked_seq = ? WHERE name = ?", (event.seq, event.data["name"])
    )


STAFF = Projector(
    name="staff",
    version=1,
    tables=("staff", "staff_sessions", "tills", "till_pairings", "api_tokens"),
    ddl="""
    CREATE TABLE staff (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        role          TEXT NOT NULL,
        active        INTEGER NOT NULL,
        badge         TEXT UNIQUE,
        commission_bp INTEGER NOT NULL,
        salt          TEXT,
        pin_hash      TEXT,
        failures      INTEGER NOT NULL DEFAULT 0,
        locks         INTEGER NOT NULL DEFAULT 0,
        locked_until  TEXT,
        updated_seq   INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE staff_sessions (
        digest    TEXT PRIMARY KEY,
        staff     TEXT NOT NULL,
        till      TEXT NOT NULL,
        started   TEXT NOT NULL,
        expires   TEXT NOT NULL,
        ended_seq INTEGER
    ) STRICT;
    CREATE INDEX staff_sessions_open ON staff_sessions(till) WHERE ended_seq IS NULL;
    CREATE TABLE tills (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        device     TEXT UNIQUE,
        paired_seq INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE till_pairings (
        code     TEXT PRIMARY KEY,
        till     TEXT NOT NULL,
        name     TEXT NOT NULL,
        expires  TEXT NOT NULL,
        used_seq INTEGER
    ) STRICT;
    CREATE TABLE api_tokens (
        name        TEXT PRIMARY KEY,
        role        TEXT NOT NULL,
        till        TEXT,
        digest      TEXT NOT NULL UNIQUE,
        created_seq INTEGER NOT NULL,
        revoked_seq INTEGER
    ) STRICT;
    """,
    handlers={
        "staff.saved": _staff_saved,
        "staff.pin_set": _pin_set,
        "auth.signed_in": _attempt,
        "auth.sign_in_failed": _attempt,
        "auth.approved": _attempt,
        "auth.signed_out": _signed_out,
        "till.pairing_created": _pairing_created,
        "till.paired": _paired,
        "till.unpaired": _unpaired,
        "token.created": _token_created,
        "token.revoked": _token_revoked,
    },
)
