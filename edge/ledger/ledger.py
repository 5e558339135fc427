"""The ledger as the rest of the server sees it: submit commands, read state, check the chain."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from edge.ledger.errors import NotInitializedError, WrongStoreError
from edge.ledger.journal import Clock
from edge.ledger.projections import ProjectionSet, Projector
from edge.ledger.projections.registry import DEFAULT_PROJECTORS
from edge.ledger.reader import LedgerReader
from edge.ledger.schema import connect
from edge.ledger.stamps import ChangeStamps
from edge.ledger.verify import VerifyResult, verify_file
from edge.ledger.writer import DEFAULT_MAX_GROUP, LedgerWriter, Listener

STORE_INITIALIZED = "store.initialized"


def utc_clock() -> datetime:
    """Return the current time in UTC (the default clock)."""
    return datetime.now(UTC)


def store_identity(conn: sqlite3.Connection) -> str | None:
    """Return the store id recorded by the ledger's first event, or None if there is none."""
    row = conn.execute("SELECT type, data FROM journal WHERE seq = 1").fetchone()
    if row is None or row[0] != STORE_INITIALIZED:
        return None
    return str(json.loads(row[1])["store"])


class Ledger:
    """Open one store's ledger: a writer for commands and read-only connections for queries."""

    def __init__(
        self,
        path: Path,
        *,
        store_id: str | None = None,
        projectors: Sequence[Projector] = DEFAULT_PROJECTORS,
        clock: Clock = utc_clock,
        max_group: int = DEFAULT_MAX_GROUP,
        readers: int = 2,
        require_initialized: bool = True,
        shared: bool = False,
        exclusive: bool = True,
    ) -> None:
        """Describe the ledger to open; `start()` opens it.

        `shared=True` when other processes of this server write to the same file too (see
        LedgerWriter); `exclusive=False` for those worker processes, whose primary holds the
        store's writer lock.
        """
        self.path = path
        self.store_id = store_id
        self.projections = ProjectionSet(projectors)
        self.writer = LedgerWriter(
            path,
            projections=self.projections,
            clock=clock,
            max_group=max_group,
            shared=shared,
            exclusive=exclusive,
        )
        self.reader = LedgerReader(path, size=readers)
        self.require_initialized = require_initialized
        # run a command in the next group commit; its result once durable (LedgerWriter.submit:
        # commands run on the loop's thread, `offload=True` runs a long one on the writer
        # thread, `then(result)` builds the answer while the COMMIT waits for the disk)
        self.submit = self.writer.submit

    async def start(self) -> None:
        """Open the writer (migrating the schema), check the store identity, open readers."""
        await self.writer.start()
        try:
            identity = await asyncio.to_thread(self._identity)
            if identity is None and self.require_initialized:
                raise NotInitializedError(f"{self.path} has no store yet: run `edge init`")
            if identity is not None and self.store_id is not None and identity != self.store_id:
                raise WrongStoreError(
                    f"{self.path} is the ledger of store {identity}, not {self.store_id}"
                )
            if identity is not None:
                self.store_id = identity
            await self.reader.start()
        except BaseException:
            await self.writer.stop()
            raise

    async def stop(self) -> None:
        """Finish queued commands and close everything."""
        await self.reader.stop()
        await self.writer.stop()

    def pump(self) -> None:
        """Run now a group that waited for its turn on the shared ledger (see LedgerWriter)."""
        self.writer.pump()

    def listen(self, listener: Listener) -> None:
        """Call `listener(events)` on the event loop after every COMMIT with its events."""
        self.writer.listen(listener)

    @property
    def stamps(self) -> ChangeStamps:
        """Return the change stamps caches of projected state check (edge.ledger.stamps)."""
        return self.writer.stamps

    @property
    def head(self) -> tuple[int, str]:
        """Return (seq, hash) of the last committed event."""
        return self.writer.head

    async def verify(self) -> VerifyResult:
        """Check the whole hash chain on a thread (a separate read-only connection)."""
        return await asyncio.to_thread(verify_file, self.path)

    def _identity(self) -> str | None:
        """Read the store identity on a short-lived read-only connection."""
        conn = connect(self.path, read_only=True)
        try:
            return store_identity(conn)
        finally:
            conn.close()
