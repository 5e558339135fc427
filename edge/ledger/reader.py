"""Read-only connections for queries, so screens never wait behind the writer.

Two kinds: a small pool of aiosqlite connections (each query runs on a thread) for anything
that scans, and one plain connection on the event loop's own thread for short indexed
lookups on the hot path (`quick`): a point read from pages in memory costs tens of
microseconds, far less than handing the query to a thread and back.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from edge.ledger.schema import BUSY_TIMEOUT_MS, READ_CACHE_KIB, connect


class LedgerReader:
    """A small pool of read-only aiosqlite connections (WAL readers never block the writer)."""

    def __init__(self, path: Path, size: int = 2) -> None:
        """Remember where to read and how many connections to keep."""
        self.path = path
        self.size = size
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all: list[aiosqlite.Connection] = []
        self._quick: sqlite3.Connection | None = None

    async def start(self) -> None:
        """Open the read-only connections."""
        uri = f"file:{self.path.resolve()}?mode=ro"
        for _ in range(self.size):
            conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
            await conn.execute("PRAGMA query_only = ON")
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
            self._all.append(conn)
            self._idle.put_nowait(conn)
        self._quick = connect(self.path, read_only=True)

    async def stop(self) -> None:
        """Close every connection."""
        for conn in self._all:
            await conn.close()
        self._all.clear()
        if self._quick is not None:
            self._quick.close()
            self._quick = None

    def quick(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a short indexed lookup right here on the loop's thread; return every row.

        Only for point reads by key (a few rows); anything that scans uses fetch_all.
        """
        if self._quick is None:
            raise RuntimeError("the ledger reader is not started")
        return self._quick.execute(sql, tuple(params)).fetchall()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        """Borrow a connection for a few queries."""
        conn = await self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query and return every row (one hop to the reader thread)."""
        async with self.connection() as conn:
            rows = await conn.execute_fetchall(sql, tuple(params))
        return [tuple(row) for row in rows]

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        """Run one query and return its first row, or None."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None
