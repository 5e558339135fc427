"""Fixtures for the HQ link: a throw-away PostgreSQL, a receiver, journal chains, signing."""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from edge.hq.pgtemp import TempCluster, start_cluster
from edge.hq.receiver import create_receiver, create_schema
from edge.protocol.chain import GENESIS_HASH, canonical_event, chain_hash, dumps_canonical
from edge.protocol.hq import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    BatchWriter,
    idempotency_key,
    sign,
)
from tests.conftest import STORE

STORE_ID = STORE.id
STORE_KEY = "a-store-key-that-is-long-enough"


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One journal row as stored (its data already canonical JSON text)."""

    seq: int
    id: str
    type: str
    ts: str
    till: str | None
    staff: str | None
    data_json: str
    prev_hash: str
    hash: str


def wire_event(row: JournalRow) -> str:
    """Return an event's JSON text as sent: its canonical object plus its hash."""
    canonical = canonical_event(
        seq=row.seq,
        event_id=row.id,
        event_type=row.type,
        ts=row.ts,
        till=row.till,
        staff=row.staff,
        data_json=row.data_json,
        prev_hash=row.prev_hash,
    )
    return canonical[:-1] + ',"hash":' + encode_basestring(row.hash) + "}"


def batch_json(store: str, rows: Sequence[JournalRow]) -> bytes:
    """Return the uncompressed JSON of a batch of consecutive journal rows."""
    if not rows:
        raise ValueError("a batch holds at least one event")
    writer = BatchWriter(store, rows[0].seq, rows[0].prev_hash, compressed=False)
    for row in rows:
        writer.add(wire_event(row))
    return writer.finish()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TempCluster]:
    """One PostgreSQL for the session (fsync off); each test gets its own database."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
async def hq_dsn(pg_cluster: TempCluster) -> str:
    """Return the DSN of a fresh database with the receiver's schema and the test store."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_cluster.dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = pg_cluster.dsn.rsplit("/", 1)[0] + f"/{name}"
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        await create_schema(pool)
        await pool.execute("INSERT INTO hq_stores(store, key) VALUES ($1, $2)", STORE_ID, STORE_KEY)
    finally:
        await pool.close()
    return dsn


@pytest.fixture
async def receiver(aiohttp_server: Any, hq_dsn: str) -> TestServer:
    """Return a running reference receiver on 127.0.0.1 (request bodies left compressed)."""
    server: TestServer = await aiohttp_server(create_receiver(hq_dsn), auto_decompress=False)
    return server


@pytest.fixture
async def db(hq_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """Return a pool on the test's HQ database, to read what HQ stored."""
    pool = await asyncpg.create_pool(hq_dsn, min_size=1, max_size=2)
    yield pool
    await pool.close()


def make_rows(
    count: int, *, start: int = 1, prev: str = GENESIS_HASH, flavour: str = "a"
) -> list[JournalRow]:
    """Return `count` correctly chained journal rows from seq `start` after hash `prev`."""
    rows = []
    for seq in range(start, start + count):
        data_json = dumps_canonical(
            {"sale": f"{flavour}-{seq}", "total": 1000 + seq, "lines": [{"sku": "MILK", "qty": 1}]}
        )
        fields = {
            "seq": seq,
            "event_id": f"{flavour}-{seq:08d}",
            "event_type": "sale.completed",
            "ts": "2026-11-23T02:00:00.000+00:00",
            "till": "T01",
            "staff": "C01",
            "data_json": data_json,
            "prev_hash": prev,
        }
        hash_ = chain_hash(prev, canonical_event(**fields))  # type: ignore[arg-type]
        rows.append(
            JournalRow(seq, fields["event_id"], "sale.completed", fields["ts"], "T01", "C01",  # type: ignore[arg-type]
                       data_json, prev, hash_)
        )  # fmt: skip
        prev = hash_
    return rows


def signed_headers(
    body: bytes, first: int, last: int, *, key: str = STORE_KEY, t: int | None = None
) -> dict[str, str]:
    """Return the headers of a batch signed now (or at `t`)."""
    return {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        IDEMPOTENCY_HEADER: idempotency_key(STORE_ID, first, last),
        SIGNATURE_HEADER: sign(key, int(time.time()) if t is None else t, body),
    }


async def post_rows(
    session: aiohttp.ClientSession, base: str, rows: Sequence[JournalRow], **sign_args: Any
) -> tuple[int, dict[str, Any]]:
    """POST rows as one signed batch; return (status, JSON answer)."""
    body = gzip.compress(batch_json(STORE_ID, rows))
    headers = signed_headers(body, rows[0].seq, rows[-1].seq, **sign_args)
    url = f"{base}/v1/stores/{STORE_ID}/batches"
    async with session.post(url, data=body, headers=headers) as answer:
        return answer.status, await answer.json()


async def stored(pool: asyncpg.Pool, store: str = STORE_ID) -> list[tuple[int, str]]:
    """Return HQ's (seq, hash) rows of a store in seq order."""
    rows = await pool.fetch("SELECT seq, hash FROM hq_events WHERE store = $1 ORDER BY seq", store)
    return [(int(r["seq"]), str(r["hash"])) for r in rows]


@pytest.fixture
def store_factory(aiohttp_client: Any, tmp_path: Path) -> Any:
    """Return a function starting the store server (initialised once) with HQ at `url`."""
    from tests.hq.stores import store_factory_fixture  # noqa: PLC0415 - needs STORE_KEY first

    return store_factory_fixture(aiohttp_client, tmp_path)
