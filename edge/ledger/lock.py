"""One writer per ledger file across processes: an exclusive lock next to the database.

The writer keeps the chain head in memory, so a second process appending to the same file
would fork the chain. Whoever writes (the server, `edge init`, an offline import or rebuild)
holds `ledger.db.lock` with flock; a second writer fails at once with the holder's pid.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from edge.ledger.errors import LedgerError


class LedgerBusyError(LedgerError):
    """Raise when another process already writes to this ledger."""


class WriterLock:
    """An held flock on the ledger's lock file; close() releases it."""

    def __init__(self, fd: int, path: Path) -> None:
        """Keep the open, locked descriptor."""
        self._fd: int | None = fd
        self.path = path

    def close(self) -> None:
        """Release the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_path(ledger: Path) -> Path:
    """Return the lock file of a ledger file."""
    return ledger.with_name(ledger.name + ".lock")


def acquire_writer_lock(ledger: Path) -> WriterLock:
    """Take the ledger's writer lock or raise LedgerBusyError naming the holder."""
    path = lock_path(ledger)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LedgerBusyError(
            f"{ledger} is being written by another process (pid {holder}); stop it first"
            " (e.g. `systemctl stop edge`) or use the running server's API"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return WriterLock(fd, path)
