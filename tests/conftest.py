"""Shared fixtures: ledgers in tmp_path with a test projection next to the real ones."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.ledger.projections import Projector
from edge.ledger.projections.registry import DEFAULT_PROJECTORS
from edge.protocol.chain import Event
from edge.settings import StoreSettings

STORE = StoreSettings(
    id="S-TEST", name="测试店 Test Store", currency="CNY", timezone="Asia/Shanghai"
)


def _counter_added(conn: sqlite3.Connection, event: Event) -> None:
    conn.execute(
        "INSERT INTO counters(name, total, events) VALUES (?, ?, 1)"
        " ON CONFLICT(name) DO UPDATE SET total = total + excluded.total, events = events + 1",
        (event.data["name"], event.data["amount"]),
    )


COUNTERS = Projector(
    name="test_counters",
    version=1,
    tables=("counters",),
    ddl="CREATE TABLE counters (name TEXT PRIMARY KEY, total INTEGER NOT NULL,"
    " events INTEGER NOT NULL) STRICT;",
    handlers={"test.counter_added": _counter_added},
)
TEST_PROJECTORS = (*DEFAULT_PROJECTORS, COUNTERS)


def add_counter(name: str, amount: int, *, events: int = 1, fail: bool = False) -> Any:
    """Build a command appending `events` counter events, then failing if asked."""

    def command(tx: Tx) -> list[int]:
        seqs = [
            tx.append("test.counter_added", {"name": name, "amount": amount}, till="T01").seq
            for _ in range(events)
        ]
        if fail:
            raise ValueError(f"command {name} refused after appending")
        return seqs

    return command


def init_command(tx: Tx) -> int:
    """Record the test store's first event."""
    return tx.append(
        "store.initialized",
        {"store": STORE.id, "name": STORE.name, "currency": "CNY", "timezone": STORE.timezone},
    ).seq


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
async def ledger(ledger_path: Path) -> AsyncIterator[Ledger]:
    """An initialized test-store ledger with the counters projection."""
    ledger = Ledger(ledger_path, projectors=TEST_PROJECTORS, require_initialized=False)
    await ledger.start()
    await ledger.submit(init_command)
    yield ledger
    await ledger.stop()


def raw(path: Path) -> sqlite3.Connection:
    """Open a ledger file directly, as a tamperer would."""
    return sqlite3.connect(str(path), isolation_level=None)
