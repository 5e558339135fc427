"""Offline ledger operations: projection rebuild, projection digests, backup, export."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from edge.ledger.journal import iter_events
from edge.ledger.projections import ProjectionSet, Projector

Progress = Callable[[int, int], None]
_PROGRESS_EVERY = 5000


def _no_progress(done: int, total: int) -> None:
    """Ignore progress reports."""


def rebuild_projections(
    conn: sqlite3.Connection,
    projections: ProjectionSet,
    only: Iterable[Projector] | None = None,
    progress: Progress = _no_progress,
) -> int:
    """Drop and replay projections from the journal in one transaction; return events read."""
    targets = list(projections.projectors if only is None else only)
    replay = ProjectionSet(targets)
    total = int(conn.execute("SELECT count(*) FROM journal").fetchone()[0])
    conn.execute("BEGIN IMMEDIATE")
    try:
        replay.recreate(conn, targets)
        count = 0
        for event in iter_events(conn):
            replay.apply(conn, event)
            count += 1
            if count % _PROGRESS_EVERY == 0:
                progress(count, total)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    progress(count, total)
    return count


def projection_digests(conn: sqlite3.Connection, projections: ProjectionSet) -> dict[str, str]:
    """Return a sha256 of every projection table's rows in primary-key order."""
    digests: dict[str, str] = {}
    for table in projections.tables():
        digest = hashlib.sha256()
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2'):
            digest.update(json.dumps(row, ensure_ascii=False).encode())
        digests[table] = digest.hexdigest()
    return digests


def backup(
    source: sqlite3.Connection, destination: Path, progress: Progress = _no_progress
) -> None:
    """Copy a live ledger with SQLite's online backup API, then fsync and move it in place."""
    if destination.exists():
        raise FileExistsError(f"{destination} exists; choose a new name")
    _copy_database(source, destination, journal_mode="DELETE", progress=progress)


BACKUP_NAME = re.compile(r"ledger-\d{8}T\d{6}Z\.db")


def backup_path(directory: Path, now: datetime) -> Path:
    """Return the name of a new backup in a backup directory (UTC time, sorts by age)."""
    return directory / f"ledger-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.db"


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest backups named by `backup_path`; return what went.

    Only files of that exact shape are touched: a copy someone put there by hand stays.
    """
    if keep < 1:
        raise ValueError("keep at least one backup")
    ours = sorted(p for p in directory.iterdir() if BACKUP_NAME.fullmatch(p.name))
    gone = ours[:-keep]
    for path in gone:
        path.unlink()
    if gone:
        _fsync(directory)
    return gone


def _copy_database(
    source: sqlite3.Connection, destination: Path, *, journal_mode: str, progress: Progress
) -> None:
    """Copy page by page into DEST.partial, fsync it, rename it to DEST, fsync the directory."""
    temporary = destination.with_name(destination.name + ".partial")
    temporary.unlink(missing_ok=True)
    target = sqlite3.connect(str(temporary), isolation_level=None)
    try:

        def report(_status: int, remaining: int, total: int) -> None:
            progress(total - remaining, total)

        source.backup(target, pages=1024, progress=report)
        target.execute(f"PRAGMA journal_mode = {journal_mode}")
    finally:
        target.close()
    for leftover in (Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
        leftover.unlink(missing_ok=True)
    _fsync(temporary)
    temporary.rename(destination)
    _fsync(destination.parent)


def _fsync(path: Path) -> None:
    """Flush a file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore(
    backup_file: Path, ledger: Path, stamp: str, progress: Progress = _no_progress
) -> Path | None:
    """Put a backup in the ledger's place; keep the replaced files as LEDGER.replaced-STAMP.

    The caller holds the writer lock and has verified the backup. Returns where the replaced
    ledger was moved (None when there was none).
    """
    kept: Path | None = None
    if ledger.exists():
        kept = ledger.with_name(f"{ledger.name}.replaced-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{ledger}{suffix}")
            if old.exists():
                old.rename(Path(f"{kept}{suffix}"))
    source = sqlite3.connect(f"file:{backup_file.resolve()}?mode=ro", uri=True)
    try:
        _copy_database(source, ledger, journal_mode="WAL", progress=progress)
    finally:
        source.close()
    return kept


def export_lines(
    conn: sqlite3.Connection, out: TextIO, *, from_seq: int = 1, to_seq: int | None = None
) -> int:
    """Write events as JSON lines (the HQ wire form); return how many were written."""
    count = 0
    for line in _wire_lines(conn, from_seq, to_seq):
        out.write(line)
        count += 1
    return count


def _wire_lines(conn: sqlite3.Connection, from_seq: int, to_seq: int | None) -> Iterator[str]:
    """Yield one JSON line per event."""
    for event in iter_events(conn, from_seq=from_seq, to_seq=to_seq):
        yield json.dumps(event.to_wire(), ensure_ascii=False, sort_keys=True) + "\n"
