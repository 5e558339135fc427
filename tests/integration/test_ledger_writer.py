"""The group-commit writer: durability, isolation of failures, gapless seqs, append-only."""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import json
import os
import random
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.ledger.checkpoint import CATCH_UP_PAGES, Checkpointer
from edge.ledger.errors import (
    AnswerFailedError,
    LedgerClosedError,
    LedgerCommitError,
    NotInitializedError,
    WrongStoreError,
)
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.ledger.lock import LedgerBusyError, lock_path
from edge.ledger.maintenance import projection_digests, rebuild_projections
from edge.ledger.projections import ProjectionSet, Projector
from edge.ledger.schema import connect
from edge.ledger.verify import verify_chain
from edge.protocol.chain import EventDataError
from tests.conftest import COUNTERS, STORE, TEST_PROJECTORS, add_counter, init_command, raw


async def test_500_concurrent_commands_with_failures(ledger: Ledger, ledger_path: Path) -> None:
    rng = random.Random(7)
    plan = [(f"c{i}", rng.randint(1, 3), rng.random() < 0.3) for i in range(500)]
    results = await asyncio.gather(
        *(ledger.submit(add_counter(name, 5, events=n, fail=f)) for name, n, f in plan),
        return_exceptions=True,
    )
    stats = ledger.writer.stats
    assert stats.groups < 500 / 4, "commands were not grouped"
    await ledger.stop()

    conn = raw(ledger_path)
    seqs = [r[0] for r in conn.execute("SELECT seq FROM journal ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    rows = dict(conn.execute("SELECT name, events FROM counters").fetchall())
    expected_events = 1
    for (name, n, failed), result in zip(plan, results, strict=True):
        if failed:
            assert isinstance(result, ValueError)
            assert name not in rows
        else:
            assert isinstance(result, list)
            assert len(result) == n
            assert rows[name] == n
            stored = conn.execute(
                "SELECT count(*) FROM journal WHERE json_extract(data, '$.name') = ?", (name,)
            ).fetchone()[0]
            assert stored == n
            expected_events += n
    assert len(seqs) == expected_events
    assert verify_chain(conn).ok
    # the seqs each caller got are exactly the ones stored for it
    for (name, _, failed), result in zip(plan, results, strict=True):
        if not failed:
            assert isinstance(result, list)
            stored_seqs = [
                r[0]
                for r in conn.execute(
                    "SELECT seq FROM journal WHERE json_extract(data, '$.name') = ? ORDER BY seq",
                    (name,),
                )
            ]
            assert stored_seqs == result


async def test_caller_resolved_only_after_commit_is_visible(
    ledger: Ledger, ledger_path: Path
) -> None:
    observer = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True, isolation_level=None)
    seen: list[bool] = []

    async def one(i: int) -> None:
        seqs = await ledger.submit(add_counter(f"v{i}", 1))
        # the instant the caller learns of success, another connection must see the row
        row = observer.execute("SELECT 1 FROM journal WHERE seq = ?", (seqs[0],)).fetchone()
        seen.append(row is not None)

    await asyncio.gather(*(one(i) for i in range(200)))
    assert seen == [True] * 200


async def test_failure_rolls_back_only_its_own_events_and_projection(ledger: Ledger) -> None:
    await ledger.submit(add_counter("kept", 3))
    with pytest.raises(ValueError, match="refused"):
        await ledger.submit(add_counter("kept", 100, events=2, fail=True))
    row = await ledger.reader.fetch_one("SELECT total, events FROM counters WHERE name='kept'")
    assert row == (3, 1)
    assert ledger.head[0] == 2


async def test_bad_event_data_is_refused_and_leaves_nothing(ledger: Ledger) -> None:
    def floaty(tx: Tx) -> None:
        tx.append("test.counter_added", {"name": "x", "amount": 1})
        tx.append("test.counter_added", {"name": "x", "amount": 1.5})

    with pytest.raises(EventDataError, match="floats"):
        await ledger.submit(floaty)
    with pytest.raises(EventDataError, match="bad event type"):
        await ledger.submit(lambda tx: tx.append("NoDots", {}))
    assert ledger.head[0] == 1
    assert await ledger.reader.fetch_all("SELECT * FROM counters") == []


async def test_update_and_delete_on_journal_are_refused(ledger: Ledger, ledger_path: Path) -> None:
    await ledger.submit(add_counter("a", 1))
    conn = raw(ledger_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only: UPDATE refused"):
        conn.execute("UPDATE journal SET data = '{}' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only: DELETE refused"):
        conn.execute("DELETE FROM journal WHERE seq = 2")

    def sneaky(tx: Tx) -> None:
        tx.conn.execute("DELETE FROM journal WHERE seq = 1")

    with pytest.raises(sqlite3.IntegrityError):
        await ledger.submit(sneaky)
    assert conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 2


FK = Projector(  # a table whose deferred foreign key lets a COMMIT fail
    name="test_fk",
    version=1,
    tables=("fk_child", "fk_parent"),
    ddl="""
    CREATE TABLE fk_parent (id TEXT PRIMARY KEY);
    CREATE TABLE fk_child (parent TEXT REFERENCES fk_parent(id) DEFERRABLE INITIALLY DEFERRED);
    """,
)


def _deferred_fk_violation(tx: Tx) -> None:
    """Write a row whose deferred foreign key fails only at COMMIT."""
    tx.conn.execute("INSERT INTO fk_child(parent) VALUES ('nobody')")


async def test_failed_commit_fails_the_whole_group_and_writes_nothing(
    ledger_path: Path,
) -> None:
    ledger = Ledger(ledger_path, projectors=(*TEST_PROJECTORS, FK), require_initialized=False)
    await ledger.start()
    await ledger.submit(init_command)
    head = ledger.head
    # created in the same loop turn, the three commands are drained as one group
    group = [
        asyncio.create_task(ledger.submit(add_counter("a", 1))),
        asyncio.create_task(ledger.submit(_deferred_fk_violation)),
        asyncio.create_task(ledger.submit(add_counter("b", 1))),
    ]
    outcomes = await asyncio.gather(*group, return_exceptions=True)
    assert ledger.writer.stats.failed_commits == 1
    assert all(isinstance(o, LedgerCommitError) for o in outcomes)
    await ledger.submit(add_counter("after", 1))
    await ledger.stop()
    conn = raw(ledger_path)
    names = {r[0] for r in conn.execute("SELECT name FROM counters")}
    assert names == {"after"}
    assert verify_chain(conn).ok
    assert head[0] + 1 == conn.execute("SELECT max(seq) FROM journal").fetchone()[0]


def _hold_commits(ledger: Ledger) -> threading.Event:
    """Make the writer's COMMITs wait (on its thread) until the returned event is set."""
    gate = threading.Event()
    writer = ledger.writer
    commit = writer._commit

    def held(*args: object) -> object:
        assert gate.wait(10), "the test never let the COMMIT go"
        return commit(*args)  # type: ignore[arg-type]

    writer._commit = held  # type: ignore[method-assign]
    return gate


@pytest.mark.parametrize("shared", [False, True])
async def test_then_runs_while_the_commit_waits_and_answers_after_it(
    ledger_path: Path, shared: bool
) -> None:
    """`then` works on the result during the COMMIT; its value comes only after the COMMIT."""
    ledger = Ledger(
        ledger_path, projectors=TEST_PROJECTORS, require_initialized=False, shared=shared
    )
    await ledger.start()
    try:
        await ledger.submit(init_command)
        gate = _hold_commits(ledger)
        built: list[list[int]] = []

        def then(seqs: list[int]) -> str:
            built.append(seqs)
            return f"answer for {seqs}"

        pending = asyncio.ensure_future(ledger.submit(add_counter("a", 1), then=then))
        plain = asyncio.ensure_future(ledger.submit(add_counter("b", 1)))
        deadline = time.monotonic() + 5
        while not built:  # the COMMIT is held: only a `then` run before it ends gets here
            assert time.monotonic() < deadline, "then did not run while the COMMIT waited"
            await asyncio.sleep(0.001)
        assert built == [[2]]
        await asyncio.sleep(0.05)
        assert not pending.done() and not plain.done()  # nobody is answered before durability
        observer = raw(ledger_path)
        assert observer.execute("SELECT count(*) FROM journal").fetchone()[0] == 1
        gate.set()
        assert await pending == "answer for [2]"
        assert await plain == [3]
        assert observer.execute("SELECT count(*) FROM journal").fetchone()[0] == 3
    finally:
        await ledger.stop()


async def test_a_failed_commit_withholds_what_then_built(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path, projectors=(*TEST_PROJECTORS, FK), require_initialized=False)
    await ledger.start()
    try:
        await ledger.submit(init_command)
        built: list[object] = []
        group = [
            asyncio.create_task(ledger.submit(add_counter("a", 1), then=built.append)),
            asyncio.create_task(ledger.submit(_deferred_fk_violation)),
        ]
        outcomes = await asyncio.gather(*group, return_exceptions=True)
        assert built == [[2]]  # it ran during the COMMIT...
        assert all(isinstance(o, LedgerCommitError) for o in outcomes)  # ...and stayed unsaid
    finally:
        await ledger.stop()
    assert raw(ledger_path).execute("SELECT count(*) FROM journal").fetchone()[0] == 1


async def test_a_failing_then_is_told_apart_from_a_failing_command(ledger: Ledger) -> None:
    def then(seqs: list[int]) -> None:
        raise KeyError("no such template")

    with pytest.raises(AnswerFailedError) as failed:
        await ledger.submit(add_counter("kept", 2), then=then)
    assert isinstance(failed.value.error, KeyError)
    with pytest.raises(ValueError, match="refused"):  # a failing command: its own error
        await ledger.submit(add_counter("gone", 1, fail=True), then=then)
    rows = await ledger.reader.fetch_all("SELECT name, total FROM counters")
    assert rows == [("kept", 2)]  # the command of the failing `then` was recorded


async def test_reopen_continues_the_chain(ledger_path: Path) -> None:
    first = Ledger(ledger_path, projectors=TEST_PROJECTORS, require_initialized=False)
    await first.start()
    await first.submit(init_command)
    await first.submit(add_counter("x", 1, events=3))
    head = first.head
    await first.stop()
    second = Ledger(ledger_path, projectors=TEST_PROJECTORS, store_id=STORE.id)
    await second.start()
    assert second.head == head
    seqs = await second.submit(add_counter("x", 1))
    assert seqs == [head[0] + 1]
    assert (await second.verify()).ok
    await second.stop()


async def test_identity_checks(ledger_path: Path, tmp_path: Path) -> None:
    empty = Ledger(tmp_path / "empty.db")
    with pytest.raises(NotInitializedError):
        await empty.start()
    first = Ledger(ledger_path, require_initialized=False)
    await first.start()
    await first.submit(init_command)
    await first.stop()
    other = Ledger(ledger_path, store_id="ANOTHER")
    with pytest.raises(WrongStoreError, match="S-TEST"):
        await other.start()


async def test_stop_finishes_queued_commands_then_refuses(ledger: Ledger) -> None:
    pending = [asyncio.create_task(ledger.submit(add_counter(f"q{i}", 1))) for i in range(50)]
    await asyncio.sleep(0)
    await ledger.stop()
    assert all(len(t.result()) == 1 for t in pending)
    with pytest.raises(LedgerClosedError):
        await ledger.submit(add_counter("late", 1))
    await ledger.start()  # the fixture stops it again


async def test_changed_projection_version_is_rebuilt_on_open(ledger_path: Path) -> None:
    first = Ledger(ledger_path, projectors=TEST_PROJECTORS, require_initialized=False)
    await first.start()
    await first.submit(init_command)
    await first.submit(add_counter("n", 4, events=2))
    await first.stop()
    conn = raw(ledger_path)
    conn.execute("UPDATE counters SET total = 999")  # a drifted projection
    conn.close()
    bumped = Projector(
        name=COUNTERS.name,
        version=2,
        tables=COUNTERS.tables,
        ddl=COUNTERS.ddl,
        handlers=COUNTERS.handlers,
    )
    second = Ledger(ledger_path, projectors=(*TEST_PROJECTORS[:-1], bumped))
    await second.start()
    assert await second.reader.fetch_all("SELECT name, total, events FROM counters") == [
        ("n", 8, 2)
    ]
    await second.stop()


async def test_stored_event_text_is_canonical(ledger: Ledger, ledger_path: Path) -> None:
    await ledger.submit(
        lambda tx: tx.append("test.note", {"z": 1, "a": "中文", "m": [True, None]}, staff="E1")
    )
    row = raw(ledger_path).execute("SELECT data, staff FROM journal WHERE seq = 2").fetchone()
    assert row == ('{"a":"中文","m":[true,null],"z":1}', "E1")
    assert json.loads(row[0]) == {"z": 1, "a": "中文", "m": [True, None]}


MS = timedelta(milliseconds=1)


async def test_event_ids_are_time_ordered_uuid7(ledger: Ledger, ledger_path: Path) -> None:
    """Ids are UUIDv7 carrying the event's time: appends stay at the end of the id index."""
    for _ in range(3):
        await ledger.submit(lambda tx: [tx.append("test.note", {"n": n}) for n in range(50)])
    rows = raw(ledger_path).execute("SELECT id, ts FROM journal WHERE seq > 1").fetchall()
    ids = [uuid.UUID(row[0]) for row in rows]
    assert {u.version for u in ids} == {7}
    assert len(set(ids)) == 150
    for u, (_, ts) in zip(ids, rows, strict=True):
        millis = (datetime.fromisoformat(ts) - datetime(1970, 1, 1, tzinfo=UTC)) // MS
        assert u.int >> 80 == millis  # the id's first 48 bits: the event's ts in ms


async def test_a_second_writer_is_refused_while_the_first_runs(
    ledger: Ledger, ledger_path: Path
) -> None:
    second = Ledger(ledger_path, projectors=TEST_PROJECTORS)
    with pytest.raises(LedgerBusyError, match=rf"pid {os.getpid()}"):
        await second.start()
    await ledger.submit(add_counter("still", 1))  # the first writer is unaffected


async def test_rebuild_equals_the_live_projections(ledger: Ledger, ledger_path: Path) -> None:
    rng = random.Random(3)
    await asyncio.gather(
        *(
            ledger.submit(add_counter(f"k{rng.randint(0, 9)}", rng.randint(-50, 50)))
            for _ in range(300)
        )
    )
    await ledger.stop()
    conn = raw(ledger_path)
    projections = ProjectionSet(TEST_PROJECTORS)
    live = projection_digests(conn, projections)
    assert rebuild_projections(conn, projections) == 301
    assert projection_digests(conn, projections) == live
    await ledger.start()


async def test_checkpoints_run_off_the_commit_path(ledger: Ledger, ledger_path: Path) -> None:
    """The writer never checkpoints in a COMMIT; the checkpointer keeps the WAL copied back."""
    writer = ledger.writer
    assert writer._conn is not None
    assert writer._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    writer.checkpointer.interval = 0.0  # a round after every commit that finds none running
    for round_no in range(40):
        await asyncio.gather(
            *(ledger.submit(add_counter(f"r{round_no}-{i}", 1)) for i in range(25))
        )
    await writer.checkpointer.run_once()
    stats = writer.checkpointer.stats
    assert stats.rounds >= 2 and stats.failures == 0
    assert stats.copied_pages == stats.wal_pages > 0  # nothing reads: everything was copied
    conn = raw(ledger_path)
    assert conn.execute("SELECT count(*) FROM counters").fetchone()[0] == 1000
    assert verify_chain(conn).ok


async def test_a_checkpoint_round_copies_again_while_its_pass_copied_much(tmp_path: Path) -> None:
    """A round whose pass copied many pages copies again; one with little to copy stops.

    What was committed during a long pass is then copied off the write path, and the writer's
    catch-up (under the write turn) is left with what came during a short one.
    """
    path = tmp_path / "wal.db"
    conn = connect(path)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE t (x BLOB)")

    def commit(rows: int) -> None:
        with conn:
            conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(3000),) for _ in range(rows)])

    checkpointer = Checkpointer(path)
    await checkpointer.start()
    try:
        commit(2 * CATCH_UP_PAGES)
        await checkpointer.run_once()
        stats = checkpointer.stats
        assert stats.passes == 2 and stats.last_pass_pages == 0
        assert stats.copied_pages == stats.wal_pages > 2 * CATCH_UP_PAGES
        assert checkpointer.caught_up
        commit(10)  # the WAL was copied whole: this transaction starts it again
        await checkpointer.run_once()
        assert stats.passes == 1 and 10 <= stats.last_pass_pages <= CATCH_UP_PAGES
        assert stats.copied_pages == stats.wal_pages == stats.last_pass_pages
    finally:
        await checkpointer.stop()
        conn.close()
    assert raw(path).execute("SELECT count(*) FROM t").fetchone()[0] == 2 * CATCH_UP_PAGES + 10


async def test_shared_group_runs_at_pump_once_its_lock_is_held(ledger_path: Path) -> None:
    """Shared mode: a group whose lock was taken runs at the loop's next pump(), not later."""
    ledger = Ledger(ledger_path, projectors=TEST_PROJECTORS, require_initialized=False, shared=True)
    await ledger.start()
    try:
        await ledger.submit(init_command)
        ran: list[int] = []

        def command(tx: Tx) -> int:
            ran.append(tx.head_seq)
            return add_counter("pumped", 1)(tx)[0]

        pending = asyncio.ensure_future(ledger.submit(command))
        deadline = time.monotonic() + 5
        while ledger.writer._staged is None:  # the drain took the group and asked for the lock
            assert time.monotonic() < deadline
            await asyncio.sleep(0)
        staged = ledger.writer._staged
        while not staged.locked:  # the loop is held here: only the writer thread moves
            assert time.monotonic() < deadline
            time.sleep(0.001)  # noqa: ASYNC251 - holding the loop is the point
        assert ran == []
        ledger.pump()  # runs the group right here, without giving the loop back
        assert ran == [1]
        ledger.pump()  # nothing left to run: a no-op
        assert await pending == 2 and ran == [1]
    finally:
        await ledger.stop()
    assert [r[0] for r in raw(ledger_path).execute("SELECT seq FROM journal")] == [1, 2]


async def test_shared_group_takes_what_came_while_it_waited_for_its_lock(
    ledger_path: Path,
) -> None:
    """Commands submitted while a group waits for the lock run in that group, not the next."""
    ledger = Ledger(
        ledger_path, projectors=TEST_PROJECTORS, require_initialized=False, shared=True,
        max_group=4,
    )  # fmt: skip
    await ledger.start()
    holder = os.open(lock_path(ledger_path).with_suffix(".group"), os.O_RDWR)
    try:
        await ledger.submit(init_command)
        writer = ledger.writer
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process's turn
        first = asyncio.ensure_future(ledger.submit(add_counter("w0", 1)))
        deadline = time.monotonic() + 5
        while writer._staged is None:  # the drain took the group and waits for the lock
            assert time.monotonic() < deadline
            await asyncio.sleep(0)
        later = [asyncio.ensure_future(ledger.submit(add_counter(f"w{i}", 1))) for i in (1, 2)]
        offloaded = asyncio.ensure_future(ledger.submit(add_counter("off", 1), offload=True))
        behind = asyncio.ensure_future(ledger.submit(add_counter("w3", 1)))
        await asyncio.sleep(0.05)
        groups = writer.stats.groups
        fcntl.flock(holder, fcntl.LOCK_UN)
        await asyncio.gather(first, *later)
        assert writer.stats.groups == groups + 1 and writer.stats.last_group == 3
        await asyncio.gather(offloaded, behind)  # the offloaded one and what queued behind it
        assert writer.stats.groups == groups + 2 and writer.stats.last_group == 2
    finally:
        os.close(holder)
        await ledger.stop()
    counters = raw(ledger_path).execute("SELECT name FROM counters ORDER BY rowid").fetchall()
    assert [name for (name,) in counters] == ["w0", "w1", "w2", "off", "w3"]
    assert verify_chain(raw(ledger_path)).ok


async def test_shared_writers_on_one_file_never_fork_the_chain(ledger_path: Path) -> None:
    """Two writers in shared mode (as the server's worker processes run) take turns per group."""
    first = Ledger(ledger_path, projectors=TEST_PROJECTORS, require_initialized=False, shared=True)
    await first.start()
    await first.submit(init_command)
    second = Ledger(
        ledger_path, projectors=TEST_PROJECTORS, shared=True, exclusive=False, max_group=7
    )
    await second.start()
    try:
        plan = [(first if i % 3 else second, f"w{i}", 1 + i % 2) for i in range(300)]
        results = await asyncio.gather(
            *(ledger.submit(add_counter(name, 1, events=n)) for ledger, name, n in plan)
        )
        assert first.writer.stats.groups > 1 and second.writer.stats.groups > 1
    finally:
        await second.stop()
        await first.stop()
    conn = raw(ledger_path)
    seqs = [r[0] for r in conn.execute("SELECT seq FROM journal ORDER BY seq")]
    assert seqs == list(range(1, 1 + 1 + sum(n for _, _, n in plan)))
    assert verify_chain(conn).ok
    for (_, name, n), got in zip(plan, results, strict=True):
        stored = [
            r[0]
            for r in conn.execute(
                "SELECT seq FROM journal WHERE json_extract(data, '$.name') = ? ORDER BY seq",
                (name,),
            )
        ]
        assert got == stored and len(got) == n
    holder = Ledger(ledger_path, projectors=TEST_PROJECTORS, shared=True)
    await holder.start()
    try:  # the store's writer lock still keeps other programs out
        with pytest.raises(LedgerBusyError):
            await Ledger(ledger_path, projectors=TEST_PROJECTORS).start()
    finally:
        await holder.stop()


async def test_the_wal_starts_again_under_load_without_a_pause(
    ledger: Ledger, ledger_path: Path
) -> None:
    """Commits that never pause still let the WAL start again from its beginning.

    A checkpoint round on its own thread always ends behind the commits made while it ran; the
    writer copies that rest right after a COMMIT (its turn), so the next group restarts the WAL.
    """
    writer = ledger.writer
    writer.checkpointer.interval = 0.0
    sizes: list[int] = []
    stop = asyncio.Event()

    async def till(name: str) -> None:  # always one more command waiting
        n = 0
        while not stop.is_set():
            await ledger.submit(add_counter(f"{name}-{n}", 1))
            n += 1

    tills = [asyncio.create_task(till(f"t{i}")) for i in range(8)]
    try:
        for _ in range(400):
            await asyncio.sleep(0.002)
            sizes.append(writer.checkpointer.stats.wal_pages)
    finally:
        stop.set()
        await asyncio.gather(*tills)
    rounds = [size for i, size in enumerate(sizes) if i == 0 or size != sizes[i - 1]]
    assert len(rounds) > 5
    restarts = sum(1 for a, b in itertools.pairwise(rounds) if b < a)
    assert restarts >= 10, rounds  # without the catch-up: once at most, then it only grows
    assert writer.checkpointer.stats.catch_ups >= restarts
    assert verify_chain(raw(ledger_path)).ok
