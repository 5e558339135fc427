"""Change stamps: the shared words that tell every process's caches a projection changed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.ledger.ledger import Ledger
from edge.ledger.stamps import ChangeStamps, StampedCache, stamps_path
from tests.conftest import COUNTERS, TEST_PROJECTORS, add_counter

NAMES = ("catalog", "staff", "devices")


def test_two_mappings_of_one_file_see_each_others_changes(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db.stamps"
    writer, reader = ChangeStamps(path, NAMES), ChangeStamps(path, NAMES)
    assert reader.read(("catalog",)) is None  # not mapped yet: nothing may be cached
    writer.open()
    reader.open()
    try:
        before = reader.read(("catalog", "staff"))
        assert before == (0, 0)
        slot = writer.slots(["catalog"])
        writer.changing(slot)
        assert reader.read(("catalog", "staff")) is None  # a COMMIT is under way
        assert reader.read(("staff",)) == (0,)  # the others are still good
        writer.changed(slot)
        after = reader.read(("catalog", "staff"))
        assert after is not None and after != before and after[1] == 0
        assert all(stamp % 2 == 0 for stamp in after)
    finally:
        writer.close()
        reader.close()
    assert path.stat().st_size == 8 * len(NAMES)


def test_a_stamp_left_odd_stays_changed_until_a_writer_renews_it(tmp_path: Path) -> None:
    """A writer that died in its COMMIT leaves the stamp odd: nothing is cached until renewed."""
    path = tmp_path / "ledger.db.stamps"
    dead, other = ChangeStamps(path, NAMES), ChangeStamps(path, NAMES)
    dead.open()
    other.open()
    try:
        dead.changing(dead.slots(["staff"]))
        first = dead._mapped()[1]
        other.changing(other.slots(["staff"]))  # another writer's COMMIT meanwhile
        assert other.read(("staff",)) is None and dead._mapped()[1] not in (first, first + 1)
        other.changed(other.slots(["staff"]))
        assert other.read(("staff",)) is not None  # its own COMMIT ended: even again
        dead.changing(dead.slots(["staff"]))
        dead.close()  # and never says it changed
        renewed = ChangeStamps(path, NAMES)
        renewed.open()
        try:
            stamps = other.read(("catalog", "staff", "devices"))
            assert stamps is None
            renewed.renew()
            stamps = other.read(("catalog", "staff", "devices"))
            assert stamps is not None and all(s > 0 and s % 2 == 0 for s in stamps)
        finally:
            renewed.close()
    finally:
        other.close()


def test_unknown_names_and_unmapped_writes_are_refused(tmp_path: Path) -> None:
    stamps = ChangeStamps(tmp_path / "s", NAMES)
    with pytest.raises(RuntimeError, match="not open"):
        stamps.changing([0])
    stamps.open()
    try:
        with pytest.raises(KeyError):
            stamps.read(("no_such_projection",))
    finally:
        stamps.close()
    with pytest.raises(ValueError, match="unique"):
        ChangeStamps(tmp_path / "t", ("a", "a"))


def test_a_stamped_cache_keeps_values_only_under_the_stamp_they_were_read_after(
    tmp_path: Path,
) -> None:
    stamps = ChangeStamps(tmp_path / "ledger.db.stamps", NAMES)
    stamps.open()
    try:
        cache: StampedCache[str, int] = StampedCache(stamps, ("catalog",), limit=2)
        catalog, staff = stamps.slots(["catalog"]), stamps.slots(["staff"])
        taken = cache.stamp()
        cache.keep(taken, "a", 1)
        assert (cache.stamp(), cache.get("a")) == (taken, 1)
        stamps.changing(staff)  # another projection's change is not this cache's
        stamps.changed(staff)
        cache.stamp()
        assert cache.get("a") == 1

        taken = cache.stamp()
        stamps.changing(catalog)  # changed between the stamp and the database read
        stamps.changed(catalog)
        cache.keep(taken, "b", 2)  # read under the old stamp: refused
        assert cache.stamp() != taken and cache.known(["a", "b"]) == {}

        stamps.changing(catalog)  # a COMMIT under way: nothing read now is kept
        assert cache.stamp() is None
        cache.keep(None, "c", 3)
        assert cache.get("c") is None
        stamps.changed(catalog)

        taken = cache.stamp()
        for key, number in (("x", 1), ("y", 2), ("z", 3)):
            cache.keep(taken, key, number)
        assert cache.known(["x", "y", "z"]) == {"z": 3}  # past its limit it started again
    finally:
        stamps.close()


async def test_a_commit_moves_the_stamps_of_the_projections_it_changed(
    ledger: Ledger, ledger_path: Path
) -> None:
    watched = ("catalog", COUNTERS.name)
    before = ledger.stamps.read(watched)
    assert before is not None and all(s > 0 for s in before)  # renewed when the writer opened
    await ledger.submit(add_counter("a", 1))
    after = ledger.stamps.read(watched)
    assert after is not None
    assert after[0] == before[0] and after[1] > before[1]
    with pytest.raises(ValueError):
        await ledger.submit(add_counter("b", 1, fail=True))  # rolled back: nothing it appended
    assert ledger.stamps.read(watched) == after
    assert stamps_path(ledger_path).exists()


async def test_a_second_writer_process_sees_the_first_ones_commits(ledger_path: Path) -> None:
    """Two shared writers on one file, as the server's primary and worker: one stamps file."""
    primary = Ledger(
        ledger_path, projectors=TEST_PROJECTORS, require_initialized=False, shared=True
    )
    await primary.start()
    worker = Ledger(
        ledger_path,
        projectors=TEST_PROJECTORS,
        require_initialized=False,
        shared=True,
        exclusive=False,
    )
    await worker.start()
    try:
        seen = primary.stamps.read((COUNTERS.name,))
        await worker.submit(add_counter("w", 1))
        moved = primary.stamps.read((COUNTERS.name,))
        assert moved is not None and seen is not None and moved > seen
        await asyncio.gather(*(primary.submit(add_counter(f"p{i}", 1)) for i in range(5)))
        assert worker.stamps.read((COUNTERS.name,)) > moved  # type: ignore[operator]
    finally:
        await worker.stop()
        await primary.stop()
