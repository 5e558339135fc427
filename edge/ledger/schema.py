"""Opening a ledger file: pragmas and the journal's schema migrations.

The journal and ledger metadata evolve by numbered migrations (PRAGMA user_version).
Projection tables are not migrated: they are disposable, each projector owns its DDL and a
version, and a changed version drops and rebuilds that projection from the journal.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 10_000
# page cache per connection: the writer keeps the indexes a sale touches in memory
WRITE_CACHE_KIB = 65_536
READ_CACHE_KIB = 16_384

# Each entry moves the schema from version i to i + 1; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    CREATE TABLE journal (
        seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
        id        TEXT    NOT NULL UNIQUE,
        type      TEXT    NOT NULL,
        ts        TEXT    NOT NULL,
        till      TEXT,
        staff     TEXT,
        data      TEXT    NOT NULL,
        prev_hash TEXT    NOT NULL,
        hash      TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX journal_type ON journal(type, seq);
    CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'journal is append-only: UPDATE refused'); END;
    CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'journal is append-only: DELETE refused'); END;
    CREATE TABLE ledger_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL,
        hash TEXT    NOT NULL
    ) STRICT;
    CREATE TABLE projection_version (
        name    TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    ) STRICT;
    """,
)


class LedgerConnection(sqlite3.Connection):
    """A ledger connection with `memo`: what projections keep about it between statements.

    (A plain sqlite3 connection takes no attributes; projections that find no `memo` on a
    connection ask the database every time.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Open the connection with an empty memo."""
        super().__init__(*args, **kwargs)
        self.memo: dict[str, Any] = {}


def connect(path: Path | str, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a ledger connection with the ledger's pragmas; explicit transactions only."""
    if read_only:
        uri = f"file:{Path(path).resolve()}?mode=ro"
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            factory=LedgerConnection,
        )
        conn.execute("PRAGMA query_only = ON")
    else:
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, factory=LedgerConnection
        )
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise sqlite3.OperationalError(f"cannot switch {path} to WAL (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # each command of a group runs in a savepoint whose undo pages (the statement journal)
        # would otherwise spill to a temporary file past 64 KiB: a file opened, written page by
        # page and deleted in every group. They are only needed until the COMMIT.
        conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB if read_only else WRITE_CACHE_KIB}")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the journal schema version of an open ledger."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the pending migrations, each in its own transaction; return the new version."""
    version = schema_version(conn)
    if version > len(MIGRATIONS):
        raise sqlite3.DatabaseError(
            f"ledger schema version {version} is newer than this program ({len(MIGRATIONS)})"
        )
    for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_sql(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def split_sql(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers included)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def read_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """Return a ledger metadata value, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])
