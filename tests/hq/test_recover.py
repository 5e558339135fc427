"""`edge hq recover`: a restored or lost ledger takes back from HQ what HQ acknowledged.

The store sells, HQ gets everything; the disk dies. From last night's backup (or from nothing)
the store takes back the rest from HQ — same seqs, same hashes — and sells on. A ledger that
sold before recovering has forked: recovery refuses and changes nothing. So do a tampered HQ
and a running server.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from edge.hq.recover import RecoverError, recover
from edge.hq.state import load_state, state_path
from edge.ledger.lock import LedgerBusyError
from edge.ledger.maintenance import backup, restore
from edge.ledger.schema import connect
from edge.ledger.verify import verify_file
from edge.web.keys import LEDGER
from tests.hq.conftest import stored
from tests.hq.stores import Factory, drained, hq_settings, journal, sell, url_of


def take_backup(store: TestClient, where: Path) -> Path:
    """Back the running store's ledger up (SQLite's online backup)."""
    source = connect(store.server.app[LEDGER].path, read_only=True)
    try:
        backup(source, where)
    finally:
        source.close()
    return where


def restore_backup(ledger: Path, saved: Path) -> None:
    """Put a backup in the ledger's place (the server is stopped)."""
    restore(saved, ledger, "test")


def sales(ledger: Path) -> list[tuple[int, str]]:
    """Return the sales projection's (receipt number, id) rows."""
    conn = connect(ledger, read_only=True)
    try:
        rows = conn.execute("SELECT receipt_no, id FROM sales ORDER BY seq").fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]
    finally:
        conn.close()


def journal_of(ledger: Path) -> list[tuple[int, str]]:
    """Return a ledger file's (seq, hash) rows."""
    conn = connect(ledger, read_only=True)
    try:
        return [(int(s), str(h)) for s, h in conn.execute("SELECT seq, hash FROM journal")]
    finally:
        conn.close()


async def selling_store(
    store_factory: Factory, receiver: TestServer, tmp_path: Path
) -> tuple[TestClient, Path]:
    """Sell 6, back up, sell 9 more; HQ has everything. Return the store and the backup."""
    store = await store_factory(url_of(receiver))
    await sell(store, 6)
    saved = take_backup(store, tmp_path / "nightly.db")
    await sell(store, 9)
    await drained(store)
    return store, saved


async def test_a_restored_backup_takes_back_the_rest_from_hq_and_sells_on(
    store_factory: Factory, receiver: TestServer, db: asyncpg.Pool, tmp_path: Path
) -> None:
    store, saved = await selling_store(store_factory, receiver, tmp_path)
    ledger = store.server.app[LEDGER].path
    before_loss, receipts = journal(store), sales(ledger)
    await store.close()
    restore_backup(ledger, saved)
    assert len(journal_of(ledger)) < len(before_loss)
    settings = hq_settings(tmp_path, url_of(receiver))
    said: list[str] = []
    done = await recover(settings, say=said.append, limit=7)  # several batches
    assert (done.before, done.after) == (journal_of(saved)[-1][0], before_loss[-1][0])
    assert done.batches >= 2 and said
    assert journal_of(ledger) == before_loss == await stored(db)
    assert sales(ledger) == receipts  # projections followed: receipt numbers, the sales
    assert (await asyncio.to_thread(verify_file, ledger)).ok
    assert load_state(state_path(ledger)).acked_seq == before_loss[-1][0]
    # the server starts, sells on after the recovered receipts, and HQ takes it from there
    store = await store_factory(url_of(receiver))
    await sell(store, 2)
    status = await drained(store)
    assert status["stopped"] is None
    assert await stored(db) == journal(store)
    assert [n for n, _ in sales(ledger)] == list(range(1, len(receipts) + 3))


async def test_a_lost_disk_is_rebuilt_from_hq_alone(
    store_factory: Factory, receiver: TestServer, db: asyncpg.Pool, tmp_path: Path
) -> None:
    store, _ = await selling_store(store_factory, receiver, tmp_path)
    ledger = store.server.app[LEDGER].path
    everything = journal(store)
    await store.close()
    for suffix in ("", "-wal", "-shm"):
        ledger.with_name(ledger.name + suffix).unlink(missing_ok=True)
    state_path(ledger).unlink()
    config = write_config(tmp_path, url_of(receiver))
    answer = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "edge", "hq", "recover", "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
        env=credentials_env(tmp_path),
    )  # fmt: skip
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert f"the ledger's head went from seq 0 to seq {everything[-1][0]}" in answer.stdout
    assert journal_of(ledger) == everything


async def test_a_ledger_that_sold_after_the_restore_is_not_touched(
    store_factory: Factory, receiver: TestServer, db: asyncpg.Pool, tmp_path: Path
) -> None:
    store, saved = await selling_store(store_factory, receiver, tmp_path)
    ledger = store.server.app[LEDGER].path
    await store.close()
    restore_backup(ledger, saved)
    state_path(ledger).unlink()  # the state file went with the disk
    store = await store_factory(url_of(receiver), idle_s=60)
    await sell(store, 1)  # a sale before recovering: this history is no longer HQ's
    await store.close()
    forked = journal_of(ledger)
    with pytest.raises(RecoverError, match="went its own way"):
        await recover(hq_settings(tmp_path, url_of(receiver)), say=lambda _: None)
    assert journal_of(ledger) == forked


async def test_tampered_events_at_hq_and_a_running_server_are_refused(
    store_factory: Factory, receiver: TestServer, db: asyncpg.Pool, tmp_path: Path
) -> None:
    store, saved = await selling_store(store_factory, receiver, tmp_path)
    ledger = store.server.app[LEDGER].path
    with pytest.raises(LedgerBusyError):  # the server holds the writer lock
        await recover(hq_settings(tmp_path, url_of(receiver)), say=lambda _: None)
    await store.close()
    restore_backup(ledger, saved)
    restored = journal_of(ledger)
    last = restored[-1][0]
    await db.execute(
        "UPDATE hq_events SET data = replace(data::text, '5000', '50000')::json"
        " WHERE store = $1 AND seq > $2",
        "S-TEST", last,
    )  # fmt: skip
    with pytest.raises(RecoverError, match="do not verify"):
        await recover(hq_settings(tmp_path, url_of(receiver)), say=lambda _: None)
    assert journal_of(ledger) == restored


def write_config(tmp_path: Path, url: str) -> Path:
    """Write the test store's edge.toml with its HQ link."""
    config = tmp_path / "edge.toml"
    config.write_text(
        '[store]\nid = "S-TEST"\nname = "测试店 Test Store"\ntimezone = "Asia/Shanghai"\n'
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n[hq]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return config


def credentials_env(tmp_path: Path) -> dict[str, Any]:
    """Return an environment whose credentials directory holds the store's HQ key."""
    import os  # noqa: PLC0415

    from tests.hq.conftest import STORE_KEY  # noqa: PLC0415

    folder = tmp_path / "credentials"
    folder.mkdir(exist_ok=True)
    (folder / "hq-key").write_text(STORE_KEY, encoding="utf-8")
    (folder / "pin-pepper").write_text("p" * 64, encoding="utf-8")
    return os.environ | {"CREDENTIALS_DIRECTORY": str(folder)}
