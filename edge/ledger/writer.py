"""The one writer: an asyncio task draining a queue into group commits.

Each group is one `BEGIN IMMEDIATE` transaction; every command in it runs inside its own
SAVEPOINT; one COMMIT (one fsync) covers the group; only then is each caller's future
resolved. A command that raises rolls back to its savepoint and only its caller sees the
error.

Where the work runs: a group's commands are short Python and SQLite calls on pages in memory,
so they run on the event loop's thread, and only the COMMIT, which waits for the disk, runs on
the writer's own thread; the loop serves other requests meanwhile and the next group gathers.
Running the statements on another thread would cost a hand-over of the interpreter lock for
every statement, which under load costs more than the statements themselves. A command
submitted with `offload=True` (an import chunk, anything long) runs with its whole group on
the writer thread instead, so it never holds up the loop. A caller with work to do on its
command's result before answering (building its HTTP answer) passes that work as `then`: it
runs on the loop while the COMMIT waits for the disk, and what it returns reaches the caller
only once the COMMIT returned, so nothing built from a result not yet durable leaves early.

Shared mode (`shared=True`) lets the server's worker processes each run a writer on the same
file: a group first takes the ledger's group lock (an flock beside the database, taken on the
writer thread) and opens its transaction, then reads the chain head the last group of any
process left, runs, commits and releases the lock. Groups of different processes therefore
follow each other exactly as groups of one process do, and the chain cannot fork. A group is
what was submitted until its lock came, not until it began to wait for it: a sale prepared
while the other processes held the lock goes with it, not one turn later. (SQLite's
own write lock alone would be as safe, but its busy handler waits by sleeping in steps of
milliseconds; the flock wakes the next process as soon as the lock is free.) While the lock is
held nobody else writes, so the group runs at the first chance the loop gives: every request
calls `pump()` before its own work, and the group runs there if its lock came in meanwhile
rather than behind every callback the loop had already queued.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

from edge.ledger.checkpoint import Checkpointer
from edge.ledger.errors import (
    AnswerFailedError,
    LedgerClosedError,
    LedgerCommitError,
    LedgerError,
)
from edge.ledger.journal import ChainState, Clock, Tx, journal_tail, recorded_head
from edge.ledger.lock import WriterLock, acquire_writer_lock, lock_path
from edge.ledger.maintenance import rebuild_projections
from edge.ledger.projections import ProjectionSet
from edge.ledger.schema import connect, migrate
from edge.ledger.stamps import ChangeStamps, stamps_path
from edge.protocol.chain import Event

T = TypeVar("T")
U = TypeVar("U")
Command = Callable[[Tx], T]
Then = Callable[[Any], Any]
Listener = Callable[[list[Event]], None]

log = logging.getLogger(__name__)

DEFAULT_MAX_GROUP = 512
GROUP_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
COMMIT_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass
class WriterStats:
    """Counters the metrics endpoint and the benchmark read."""

    groups: int = 0
    commands: int = 0
    failed_commands: int = 0
    failed_commits: int = 0
    max_group: int = 0
    last_group: int = 0
    group_sizes: list[int] = field(default_factory=lambda: [0] * len(GROUP_SIZE_BUCKETS))
    commit_seconds: float = 0.0  # time spent in the COMMIT (the fsync) of committed groups
    commit_times: list[int] = field(  # per bucket of COMMIT_SECONDS_BUCKETS, then above them
        default_factory=lambda: [0] * (len(COMMIT_SECONDS_BUCKETS) + 1)
    )

    def count_group(self, size: int) -> None:
        """Count one committed group of `size` commands."""
        self.groups += 1
        self.commands += size
        self.last_group = size
        self.max_group = max(self.max_group, size)
        for index, bound in enumerate(GROUP_SIZE_BUCKETS):
            if size <= bound:
                self.group_sizes[index] += 1
                break

    def count_commit(self, seconds: float) -> None:
        """Count how long one group's COMMIT took."""
        self.commit_seconds += seconds
        self.commit_times[bisect_left(COMMIT_SECONDS_BUCKETS, seconds)] += 1


class _Failed:
    """A command's error, carried back from the writer thread."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


# command, its caller's future, offload, then
_Item = tuple[Command[Any], "asyncio.Future[Any]", bool, Then | None]
_Done = tuple[list[object], list[Event]]


def _commands(group: list[_Item]) -> list[Command[Any]]:
    """Return a group's commands, in order."""
    return [item[0] for item in group]


def _answers(group: list[_Item], outcomes: list[object]) -> list[object]:
    """Return what each caller gets once the group is durable: its `then` applied to its outcome.

    A `then` that raises gives its caller `AnswerFailedError` (the command was recorded).
    """
    answers = list(outcomes)
    for index, (item, outcome) in enumerate(zip(group, outcomes, strict=True)):
        then = item[3]
        if then is not None and not isinstance(outcome, _Failed):
            try:
                answers[index] = then(outcome)
            except Exception as err:  # noqa: BLE001 - the caller's own error, given to it
                answers[index] = _Failed(AnswerFailedError(err))
    return answers


class _Staged:
    """Shared mode: a group waiting for its lock, then for its COMMIT."""

    __slots__ = ("answers", "commit", "items", "locked")

    def __init__(self, items: list[_Item]) -> None:
        """Hold the group's items (grown in place when it runs); nothing is locked yet."""
        self.items = items
        self.locked = False  # set on the writer thread once the lock and transaction are held
        self.commit: asyncio.Future[_Done] | None = None  # the COMMIT, once the commands ran
        self.answers: list[object] | None = None  # the `then`s applied, while the COMMIT runs


class LedgerWriter:
    """Own the write connection; run submitted commands in group commits."""

    def __init__(
        self,
        path: Path,
        *,
        projections: ProjectionSet,
        clock: Clock,
        max_group: int = DEFAULT_MAX_GROUP,
        shared: bool = False,
        exclusive: bool = True,
    ) -> None:
        """Remember the ledger file and how to run; nothing is opened here.

        `shared`: other processes write too (each group under the group lock);
        `exclusive`: hold the store's writer lock (False only for the primary's workers).
        """
        self.path = path
        self.shared = shared
        self.exclusive = exclusive
        self._group_fd: int | None = None
        self.projections = projections
        self.clock = clock
        self.max_group = max_group
        self.stats = WriterStats()
        self._pending: deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._chain = ChainState(0, "")
        self._tx: Tx | None = None
        self._staged: _Staged | None = None
        self._lock: WriterLock | None = None
        self._listeners: list[Listener] = []
        self.checkpointer = Checkpointer(path)
        # moved around every COMMIT for the projections it changes (see edge.ledger.stamps)
        self.stamps = ChangeStamps(stamps_path(path), projections.names())

    def listen(self, listener: Listener) -> None:
        """Call `listener(events)` on the event loop after each COMMIT with what it committed."""
        self._listeners.append(listener)

    @property
    def queue_depth(self) -> int:
        """Return how many commands wait for the next group."""
        return len(self._pending)

    @property
    def head(self) -> tuple[int, str]:
        """Return (seq, hash) of the last committed event."""
        return self._chain.snapshot()

    async def start(self) -> None:
        """Open the ledger on the writer thread and start draining the queue."""
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-writer")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, self._open)
        except BaseException:
            self._thread.shutdown(wait=True)
            self._thread = None
            raise
        await self.checkpointer.start()
        self._task = asyncio.create_task(self._drain(), name="ledger-writer")

    async def stop(self) -> None:
        """Refuse new commands, finish the queued ones, close the connection."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.checkpointer.stop()
        if self._thread is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self._close)
            self._thread.shutdown(wait=True)
            self._thread = None

    @overload
    async def submit(self, command: Command[T], *, offload: bool = False) -> T: ...

    @overload
    async def submit(
        self, command: Command[T], *, offload: bool = False, then: Callable[[T], U]
    ) -> U: ...

    async def submit(
        self, command: Command[T], *, offload: bool = False, then: Then | None = None
    ) -> Any:
        """Run `command` in the next group; return its result once its COMMIT returned.

        `offload=True` runs the command's group on the writer thread (for long commands).
        `then(result)` runs on the loop once the command ran, while its COMMIT is under way;
        what it returns is returned instead of the result, after the COMMIT (an error of the
        COMMIT is raised instead, as without `then`; an error of `then` as AnswerFailedError).
        """
        if self._closing or self._task is None:
            raise LedgerClosedError("the ledger writer is not running")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((command, future, offload, then))
        self._wakeup.set()
        return await future

    async def _drain(self) -> None:
        """Take every pending command, commit them as one group, resolve the callers."""
        loop = asyncio.get_running_loop()
        assert self._thread is not None  # noqa: S101 - start() sets it before this runs
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            group: list[_Item] = []
            self._take(group, offloaded=True)
            if not group:
                continue
            committed: list[Event] = []
            head_before = self._chain.snapshot()
            answers: list[object] | None = None  # the `then`s applied, while the COMMIT runs
            try:
                if any(item[2] for item in group):
                    outcomes, committed = await loop.run_in_executor(
                        self._thread, self._commit_group, _commands(group)
                    )
                elif self.shared:
                    # the lock is taken on the writer thread, always: a process trying it from
                    # its loop right after releasing it would starve the others. Once it is
                    # held, the group runs at the loop's next `pump()` or here, whichever
                    # comes first, so the lock is not held while the loop serves requests.
                    # Commands submitted while it waited for the lock join it then: `group`
                    # is the staged list, grown in place.
                    staged = self._staged = _Staged(group)
                    try:
                        await loop.run_in_executor(self._thread, self._begin, staged)
                        self._run_staged(staged)
                    finally:
                        self._staged = None
                    assert staged.commit is not None  # noqa: S101 - _run_staged started it
                    answers = staged.answers
                    outcomes, committed = await staged.commit
                else:
                    ran, start = self._run_commands(_commands(group))
                    commit = loop.run_in_executor(self._thread, self._commit, ran, start)
                    answers = _answers(group, ran)
                    outcomes, committed = await commit
            except Exception as err:  # the writer itself failed: nobody's work is known
                log.exception("ledger writer group failed")
                await loop.run_in_executor(self._thread, self._abandon, head_before)
                outcomes = [_Failed(LedgerCommitError(f"ledger write failed: {err}"))] * len(group)
            if answers is None:
                answers = _answers(group, outcomes)
            for item, outcome, answer in zip(group, outcomes, answers, strict=True):
                future = item[1]
                if future.done():
                    continue
                if isinstance(outcome, _Failed):  # the COMMIT's failure wins over any answer
                    future.set_exception(outcome.error)
                elif isinstance(answer, _Failed):
                    future.set_exception(answer.error)
                else:
                    future.set_result(answer)
            if committed:
                self.checkpointer.committed()
                self._tell(committed)

    def pump(self) -> None:
        """Run the group waiting for this call, if its lock is held (shared mode; the loop).

        Request handlers call this at the start of their work: a group whose lock the writer
        thread has just taken then runs now instead of after every callback the loop already
        has queued, and the other processes get the lock back sooner.
        """
        staged = self._staged
        if staged is not None and staged.locked:
            self._run_staged(staged)

    def _run_staged(self, staged: _Staged) -> None:
        """Run a locked group's commands here on the loop and start its COMMIT on the thread."""
        if staged.commit is not None:
            return
        loop = asyncio.get_running_loop()
        assert self._thread is not None  # noqa: S101 - started
        self._take(staged.items, offloaded=False)  # what came while it waited for the lock
        try:
            ran, start = self._run_commands(_commands(staged.items))
        except Exception as err:  # noqa: BLE001 - the drain handles it, not pump()'s caller
            staged.commit = loop.create_future()
            staged.commit.set_exception(err)
            return
        staged.commit = loop.run_in_executor(self._thread, self._commit, ran, start)
        # the answers are built here, whether the drain or a request's pump() ran the group:
        # either way the COMMIT is now waiting for the disk
        staged.answers = _answers(staged.items, ran)

    def _take(self, group: list[_Item], *, offloaded: bool) -> None:
        """Move pending commands into `group` in order, up to `max_group`; skip cancelled ones.

        `offloaded=False` stops at an offloaded command (its group runs on the writer thread):
        a staged group takes what came while it waited for its lock, so those commands do not
        wait for the other processes' groups and then their own, two turns instead of one.
        """
        pending = self._pending
        while pending and len(group) < self.max_group and (offloaded or not pending[0][2]):
            item = pending.popleft()
            if not item[1].cancelled():
                group.append(item)

    def _tell(self, events: list[Event]) -> None:
        """Give committed events to every listener; a failing listener is logged, not fatal."""
        for listener in self._listeners:
            try:
                listener(events)
            except Exception:
                log.exception("ledger commit listener %r failed", listener)

    # --- the writer thread -------------------------------------------------------------

    def _open(self) -> None:
        """Take the writer lock, connect, migrate, refresh stale projections, load the head."""
        self._lock = acquire_writer_lock(self.path) if self.exclusive else None
        try:
            conn = connect(self.path)
            if self.shared:
                group = lock_path(self.path).with_suffix(".group")
                self._group_fd = os.open(group, os.O_RDWR | os.O_CREAT, 0o600)
        except BaseException:
            if self._lock is not None:
                self._lock.close()
            raise
        try:
            migrate(conn)
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer does it off the path
            stale = self.projections.stale(conn)
            if stale:
                rebuild_projections(conn, self.projections, stale)
            self._renew_stamps()
            tail = journal_tail(conn)
            head = recorded_head(conn)
            if tail != head and head[0] != 0:
                raise LedgerError(
                    f"journal ends at seq {tail[0]} but the ledger recorded head seq {head[0]}:"
                    " the file was altered; run `edge ledger verify`"
                )
        except BaseException:
            conn.close()
            self.stamps.close()
            if self._lock is not None:
                self._lock.close()
            raise
        self._conn = conn
        self._chain = ChainState(*tail)
        self._tx = Tx(conn, self._chain, self.projections, self.clock)

    def _renew_stamps(self) -> None:
        """Map the change stamps and move them all on (under the group lock if shared)."""
        self.stamps.open()
        if self._group_fd is None:
            self.stamps.renew()
            return
        fcntl.flock(self._group_fd, fcntl.LOCK_EX)  # not in the middle of another's COMMIT
        try:
            self.stamps.renew()
        finally:
            fcntl.flock(self._group_fd, fcntl.LOCK_UN)

    def _close(self) -> None:
        """Close the write connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.stamps.close()
        if self._group_fd is not None:
            os.close(self._group_fd)
            self._group_fd = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _commit_group(self, commands: list[Command[Any]]) -> _Done:
        """Run commands in savepoints inside one transaction and commit once.

        Return each command's outcome and the events the COMMIT made durable.
        """
        if self.shared:
            self._begin()
        return self._commit(*self._run_commands(commands))

    def _begin(self, staged: _Staged | None = None) -> None:
        """Shared mode: take the group lock, open the transaction, load the current head.

        `staged` (a group waiting on the loop) is marked runnable once all that is done.
        """
        conn = self._conn
        assert conn is not None and self._group_fd is not None  # noqa: S101 - opened
        fcntl.flock(self._group_fd, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._chain.restore(journal_tail(conn))
            if staged is not None:
                staged.locked = True
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            fcntl.flock(self._group_fd, fcntl.LOCK_UN)
            raise

    def _release(self) -> None:
        """Shared mode: let the other processes' groups go."""
        if self._group_fd is not None:
            fcntl.flock(self._group_fd, fcntl.LOCK_UN)

    def _run_commands(self, commands: list[Command[Any]]) -> tuple[list[object], tuple[int, str]]:
        """Open the group's transaction and run each command in its savepoint.

        Return the outcomes and the chain head before the group.
        """
        conn, tx = self._conn, self._tx
        assert conn is not None and tx is not None  # noqa: S101 - opened in start()
        outcomes: list[object] = []
        group_start = self._chain.snapshot()
        tx.appended = []
        if not self.shared:  # shared mode began the transaction under the group lock
            conn.execute("BEGIN IMMEDIATE")
        for command in commands:
            before = self._chain.snapshot()
            mark = len(tx.appended)
            conn.execute("SAVEPOINT command")
            try:
                value = command(tx)
            except Exception as err:  # noqa: BLE001 - a command's error goes to its caller
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back (e.g. disk full): the earlier
                    # commands of this group are gone too; tell them and start again.
                    lost = LedgerCommitError(f"transaction rolled back by SQLite: {err}")
                    outcomes = [o if isinstance(o, _Failed) else _Failed(lost) for o in outcomes]
                    self._chain.restore(group_start)
                    tx.appended = []
                    conn.execute("BEGIN IMMEDIATE")
                else:
                    conn.execute("ROLLBACK TO command")
                    conn.execute("RELEASE command")
                    self._chain.restore(before)
                    del tx.appended[mark:]
                self.stats.failed_commands += 1
                outcomes.append(_Failed(err))
            else:
                conn.execute("RELEASE command")
                outcomes.append(value)
        return outcomes, group_start

    def _abandon(self, head: tuple[int, str]) -> None:
        """Roll back whatever a failed group left open and go back to the head before it."""
        conn, tx = self._conn, self._tx
        try:
            if conn is not None and conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            self._release()
        if tx is not None:
            tx.appended = []
        self._chain.restore(head)

    def _commit(self, outcomes: list[object], group_start: tuple[int, str]) -> _Done:
        """COMMIT the open group (the fsync); on failure every command of it fails."""
        conn, tx = self._conn, self._tx
        assert conn is not None and tx is not None  # noqa: S101 - opened in start()
        changed_by = self.projections.changed_by
        touched = {slot for event in tx.appended for slot in changed_by.get(event.type, ())}
        try:
            if self._chain.seq != group_start[0]:
                self._chain.record(conn)
            began = time.perf_counter()
            self.stamps.changing(touched)
            try:
                conn.execute("COMMIT")
            finally:
                self.stamps.changed(touched)
            took = time.perf_counter() - began
        except sqlite3.Error as err:
            log.exception("ledger COMMIT failed")
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            finally:
                self._release()
            self._chain.restore(group_start)
            self.stats.failed_commits += 1
            tx.appended = []
            lost = LedgerCommitError(f"COMMIT failed, nothing was written: {err}")
            return [o if isinstance(o, _Failed) else _Failed(lost) for o in outcomes], []
        self.checkpointer.catch_up(conn)  # still this process's turn: nobody appends meanwhile
        self._release()
        self.stats.count_group(len(outcomes))
        self.stats.count_commit(took)
        committed, tx.appended = tx.appended, []
        return outcomes, committed
