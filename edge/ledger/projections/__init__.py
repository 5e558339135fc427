"""Projections: the state screens read, derived from journal events in the same transaction.

A projector owns its tables (DDL), a version and one handler per event type. Handlers are
pure SQL over the event: given the journal they always give the same tables, so a projection
can be dropped and rebuilt at any time (`edge ledger rebuild`, or on a version change).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from edge.ledger.schema import split_sql
from edge.protocol.chain import Event

Handler = Callable[[sqlite3.Connection, Event], None]


@dataclass(frozen=True)
class Projector:
    """A named projection: its tables, their DDL, a version and the events it handles."""

    name: str
    version: int
    tables: tuple[str, ...]
    ddl: str
    handlers: Mapping[str, Handler] = field(default_factory=dict)


class ProjectionSet:
    """Dispatch events to the projectors that handle them."""

    def __init__(self, projectors: Sequence[Projector]) -> None:
        """Index the handlers by event type; projector names and tables must be unique."""
        names = [p.name for p in projectors]
        tables = [t for p in projectors for t in p.tables]
        if len(set(names)) != len(names) or len(set(tables)) != len(tables):
            raise ValueError("projector names and tables must be unique")
        self.projectors = tuple(projectors)
        self._by_type: dict[str, list[Handler]] = {}
        owners: dict[str, list[int]] = {}
        for index, projector in enumerate(projectors):
            for event_type, handler in projector.handlers.items():
                self._by_type.setdefault(event_type, []).append(handler)
                owners.setdefault(event_type, []).append(index)
        # event type -> the indexes (in `projectors`) of the projections it changes
        self.changed_by: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in owners.items()}

    def names(self) -> list[str]:
        """Return the projector names, in projector order."""
        return [p.name for p in self.projectors]

    def apply(self, conn: sqlite3.Connection, event: Event) -> None:
        """Apply one event to every projection that handles its type."""
        for handler in self._by_type.get(event.type, ()):
            handler(conn, event)

    def tables(self) -> list[str]:
        """Return every projection table, in projector order."""
        return [t for p in self.projectors for t in p.tables]

    def stale(self, conn: sqlite3.Connection) -> list[Projector]:
        """Return the projectors whose stored version differs from the code's."""
        stored = dict(conn.execute("SELECT name, version FROM projection_version").fetchall())
        return [p for p in self.projectors if stored.get(p.name) != p.version]

    def recreate(self, conn: sqlite3.Connection, projectors: Iterable[Projector]) -> None:
        """Drop and create the tables of `projectors` and record their versions (in a tx)."""
        for projector in projectors:
            for table in projector.tables:
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            for statement in split_sql(projector.ddl):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO projection_version(name, version) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET version = excluded.version",
                (projector.name, projector.version),
            )
