"""WAL checkpoints off the commit path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL's size threshold: that
one group waits for the pages to be copied into the database file and for its fsync, and every
till in the group sees the stall. The writer therefore turns automatic checkpoints off and this
checkpointer copies the WAL back on its own thread and connection, in PASSIVE mode (it never
blocks the writer or a reader), at most every `interval` seconds while commits arrive. What it
cannot copy (a reader still needs an old page) is copied by a later round.

Under load without a pause a round always ends behind the commits made while it ran, so the WAL
would never start again from its beginning and would only grow (hundreds of MB in a minute),
every COMMIT appending to the file: an fsync that also changes the file's size, slower than one
over pages already there. After a round that copied everything it saw, the writer copies the
rest right after its next COMMIT, while it still holds the write turn (`catch_up`); the next
group then starts the WAL again and the file keeps the size of about a second of commits.

That catch-up stalls every writer of every process for as long as it takes, and it ends with
an fsync of the database file that writes whatever it copied: copying all that a whole round
left behind (the commits of 25–130 ms under load, 2–9 MB) took 25–50 ms. A round therefore
copies again while its last pass still copied much (`CATCH_UP_PAGES`), each pass a fraction
of the one before, and the writer is left with the commits of the last, short pass.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from edge.ledger.schema import connect

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 1.0
# A round copies again while its last pass copied more than this many pages: the commits made
# during a long pass are copied off the write path too, and the writer's catch-up (which holds
# the write turn, fsync of the database file included) finds little left. Each pass is far
# shorter than the one before it (copying is faster than committing), so a few suffice.
CATCH_UP_PAGES = 256
MAX_PASSES = 4


@dataclass
class CheckpointStats:
    """What the checkpointer did, for metrics and tests."""

    rounds: int = 0
    failures: int = 0
    wal_pages: int = 0  # WAL size in pages after the last round
    copied_pages: int = 0  # pages of it copied into the database file
    catch_ups: int = 0  # rounds the writer finished right after its COMMIT (see catch_up)
    passes: int = 0  # PRAGMA wal_checkpoint calls of the last round
    last_pass_pages: int = 0  # pages the last round's last pass copied
    last_seconds: float = 0.0


class Checkpointer:
    """Copy the WAL into the database on a thread of its own, a round at a time."""

    def __init__(self, path: Path, *, interval: float = DEFAULT_INTERVAL_S) -> None:
        """Remember the ledger file; nothing is opened here."""
        self.path = path
        self.interval = interval
        self.stats = CheckpointStats()
        self._thread: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._running: asyncio.Task[None] | None = None
        self._last = 0.0
        # set once a round copied everything the WAL held when it began; the writer then copies
        # the little committed meanwhile while nobody else writes (`catch_up`), so the next
        # group starts the WAL again from its beginning instead of growing it
        self.caught_up = False

    async def start(self) -> None:
        """Open the checkpoint connection on the checkpointer's thread."""
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-checkpoint")
        self._conn = await asyncio.get_running_loop().run_in_executor(
            self._thread, connect, self.path
        )

    def committed(self) -> None:
        """Note a commit: start a round unless one runs or the last one was too recent."""
        if self._conn is None or self._running is not None:
            return
        if time.monotonic() - self._last < self.interval:
            return
        self._running = asyncio.get_running_loop().create_task(self._round())

    async def run_once(self) -> None:
        """Run one round now (waits for a running one first)."""
        if self._running is not None:
            await self._running
        self._running = asyncio.get_running_loop().create_task(self._round())
        await self._running

    async def _round(self) -> None:
        """Run one PASSIVE checkpoint on the thread; a failure is logged and counted."""
        try:
            assert self._thread is not None  # noqa: S101 - start() opened it
            await asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoint)
        except Exception:
            self.stats.failures += 1
            log.exception("ledger checkpoint failed")
        finally:
            self._last = time.monotonic()
            self._running = None

    def _checkpoint(self) -> None:
        """Copy what can be copied of the WAL (the checkpointer's thread)."""
        assert self._conn is not None  # noqa: S101 - start() opened it
        began = time.monotonic()
        wal = copied = 0
        passes = fresh = 0
        while passes < MAX_PASSES:
            _busy, now_wal, now_copied = self._conn.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
            passes += 1
            # the pages this pass copied: what was copied before it counts in `copied` too,
            # unless the WAL began again meanwhile (smaller than the last pass saw)
            fresh = now_copied - copied if now_wal >= wal else now_copied
            wal, copied = int(now_wal), int(now_copied)
            if wal <= 0 or copied != wal or fresh <= CATCH_UP_PAGES:
                break
        self.stats.rounds += 1
        self.stats.passes = passes
        self.stats.last_pass_pages = max(0, fresh)
        self.stats.wal_pages, self.stats.copied_pages = wal, copied
        self.stats.last_seconds = time.monotonic() - began
        self.caught_up = (
            self.stats.wal_pages > 0 and self.stats.copied_pages == self.stats.wal_pages
        )

    def catch_up(self, conn: sqlite3.Connection) -> None:
        """Copy the rest of the WAL on the writer's connection, right after its COMMIT.

        Only after a round that caught up (a few hundred pages at most are left): the writer
        still holds the write turn, so the WAL is then fully copied and the next transaction
        starts it again from the beginning. Without this, under load without a pause every
        round ends behind the commits made while it ran and the WAL file only grows.
        """
        if not self.caught_up:
            return
        self.caught_up = False
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:  # a later round copies it; the commit itself is done
            log.warning("ledger WAL catch-up failed", exc_info=True)
        else:
            self.stats.catch_ups += 1

    async def stop(self) -> None:
        """Finish a running round and close the connection."""
        if self._running is not None:
            await self._running
        if self._thread is not None:
            conn, self._conn = self._conn, None
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
            self._thread.shutdown(wait=True)
            self._thread = None
