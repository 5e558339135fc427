"""Change stamps: one counter per projection in shared memory, so caches need not ask SQLite.

A cache of projected state (products, promotions, who a token is) must see a change committed
by any process that writes the ledger before its next use. Asking the database each time
costs a read transaction and a few page reads per request, on every request; the stamps cost a
read of shared memory. `ledger.db.stamps` holds one 64-bit counter per projector, mapped by
every process that opens the ledger.

Every writer (the server's primary and workers, an offline tool) moves the stamp of each
projection its group changed, around that group's COMMIT and under the write turn: to an odd
number just before it, to the next even number just after it, whether the COMMIT succeeded or
not. A reader takes the stamps of what it caches first, then reads the database, and keeps
what it read under those stamps; it uses the cache while the stamps are the same. An odd stamp
means a COMMIT is under way (or a writer died in one): `read` answers None and the caller reads
the database and keeps nothing. Reading the stamp before the data means the worst a race can
do is one needless refresh: data read after a COMMIT under a stamp taken before it is dropped
at the next use, because the stamp has moved on since.

A writer that opens the ledger moves every stamp to its next even number (under the group lock
when other processes write too): whatever it rebuilt at start-up is seen as changed, and a
stamp left odd by a process that died mid-COMMIT is even again.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

_SLOT = 8  # bytes per stamp: an aligned 64-bit word, written and read whole

Stamp = tuple[int, ...] | None  # the stamps of some projections; None: keep nothing now
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def stamps_path(ledger: Path) -> Path:
    """Return the stamps file of a ledger file."""
    return ledger.with_name(ledger.name + ".stamps")


class ChangeStamps:
    """The change stamps of a ledger's projections (see the module)."""

    def __init__(self, path: Path, names: Sequence[str]) -> None:
        """Name the file and the projections, in slot order; nothing is opened here."""
        if len(set(names)) != len(names):
            raise ValueError("projection names must be unique")
        self.path = path
        self.names = tuple(names)
        self._index = {name: slot for slot, name in enumerate(names)}
        self._slots: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._map: mmap.mmap | None = None
        self._words: memoryview | None = None

    def open(self) -> None:
        """Map the file, creating it or growing it to one word per projection."""
        if self._map is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = max(1, len(self.names)) * _SLOT
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)  # new words read 0: even, like a stamp at rest
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._words = memoryview(self._map).cast("Q")

    def close(self) -> None:
        """Unmap the file."""
        if self._words is not None:
            self._words.release()
            self._words = None
        if self._map is not None:
            self._map.close()
            self._map = None

    def slots(self, names: Iterable[str]) -> tuple[int, ...]:
        """Return the slots of these projections (KeyError for a name no projector has)."""
        return tuple(self._index[name] for name in names)

    def read(self, names: tuple[str, ...]) -> Stamp:
        """Return the stamps of these projections, or None while one of them is changing.

        None too when the stamps are not mapped: then nothing may be cached.
        """
        words = self._words
        if words is None:
            return None
        slots = self._slots.get(names)
        if slots is None:
            slots = self._slots[names] = self.slots(names)
        stamps = tuple(words[slot] for slot in slots)
        for stamp in stamps:
            if stamp & 1:
                return None
        return stamps

    def changing(self, slots: Iterable[int]) -> None:
        """Move these stamps to an odd number: a COMMIT that changes them is about to run."""
        words = self._mapped()
        for slot in slots:
            words[slot] += 2 if words[slot] & 1 else 1

    def changed(self, slots: Iterable[int]) -> None:
        """Move these stamps on to their next even number: the COMMIT is over."""
        words = self._mapped()
        for slot in slots:
            words[slot] = (words[slot] | 1) + 1

    def renew(self) -> None:
        """Move every stamp to its next even number (a writer opening the ledger)."""
        self.changed(range(len(self.names)))

    def _mapped(self) -> memoryview:
        """Return the mapped words or refuse: a writer must never change data unstamped."""
        if self._words is None:
            raise RuntimeError(f"the change stamps {self.path} are not open")
        return self._words


class StampedCache(Generic[K, V]):
    """Values read from some projections, kept while those projections' stamps stay the same.

    The one way caches follow the ledger: `stamp()` first (it forgets what was kept under
    other stamps), then the lookups (`get`, `known`), then the database for what was not
    there, and `keep` under the stamp taken before that read. Past `limit` values the cache
    starts again empty.
    """

    def __init__(self, stamps: ChangeStamps, names: tuple[str, ...], limit: int) -> None:
        """Follow the projections `names` of `stamps`; nothing is kept yet."""
        self._stamps = stamps
        self._names = names
        self._limit = limit
        self._values: dict[K, V] = {}
        self._stamp: Stamp = None

    def stamp(self) -> Stamp:
        """Take the stamps now, before reading the database; forget values kept under others.

        None while one of the projections is being committed: nothing read now may be kept.
        """
        stamp = self._stamps.read(self._names)
        if stamp is None or stamp != self._stamp:
            if self._values:
                self._values = {}
            self._stamp = stamp
        return stamp

    def get(self, key: K) -> V | None:
        """Return the value kept for `key`, or None."""
        return self._values.get(key)

    def known(self, keys: Iterable[K]) -> dict[K, V]:
        """Return the values kept for those of `keys` that have one."""
        values = self._values
        return {key: values[key] for key in keys if key in values}

    def keep(self, stamp: Stamp, key: K, value: V) -> None:
        """Keep a value read after `stamp` was taken, unless the stamps have moved since."""
        if stamp is None or stamp != self._stamp:
            return
        if len(self._values) >= self._limit:
            self._values = {}
        self._values[key] = value
