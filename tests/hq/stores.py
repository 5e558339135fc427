"""A store server with an HQ link, for the forwarder tests: sales, journal, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from edge.app import create_app
from edge.ledger.schema import connect
from edge.services.store import init_store_ledger
from edge.settings import HqSettings, PathSettings, Secrets, Settings
from edge.web.keys import LEDGER, UPLINK
from tests.conftest import STORE
from tests.hq.conftest import STORE_KEY
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import authorize

Factory = Callable[..., Awaitable[TestClient]]
SALE_LINES = [{"code": "6901234567892", "quantity": 1}, {"code": "6901234567816", "quantity": 2}]


def hq_settings(tmp_path: Path, url: str, **tuning: Any) -> Settings:
    """Return a store's settings with an HQ link tuned for tests (1 s timeouts and backoff)."""
    # the catalog downlink is off unless a test asks for it: fault plans are for the uplink
    link = {"timeout_s": 1, "backoff_max_s": 1, "idle_s": 1, "catalog_interval_s": 0} | tuning
    return Settings(
        store=STORE,
        paths=PathSettings(data_dir=tmp_path / "data"),
        hq=HqSettings(url=url, **link),
        secrets=Secrets(hq_key=STORE_KEY),
    )


def store_factory_fixture(aiohttp_client: Any, tmp_path: Path) -> Factory:
    """Return a function starting the store server (once initialised) with HQ at `url`."""
    made = False

    async def make(url: str, **tuning: Any) -> TestClient:
        nonlocal made
        settings = hq_settings(tmp_path, url, **tuning)
        if not made:
            await init_store_ledger(settings)
        client: TestClient = await aiohttp_client(create_app(settings))
        await authorize(client)
        if not made:
            await stock_up(client, promotion=False, member=False)
            made = True
        return client

    return make


async def sell(client: TestClient, count: int) -> None:
    """Make `count` cash sales at the client's till."""
    for _ in range(count):
        body = {"id": new_id(), "lines": SALE_LINES, "tenders": [{"kind": "cash", "amount": 5000}]}
        answer = await client.post("/api/v1/sales", json=body)
        assert answer.status == 201, await answer.text()


def journal(client: TestClient) -> list[tuple[int, str]]:
    """Return the store's (seq, hash) journal."""
    conn = connect(client.server.app[LEDGER].path, read_only=True)
    try:
        return [(int(s), str(h)) for s, h in conn.execute("SELECT seq, hash FROM journal")]
    finally:
        conn.close()


async def drained(client: TestClient, within: float = 20.0) -> dict[str, Any]:
    """Wait until HQ acknowledged the whole journal; return the link's status."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = client.server.app[UPLINK].status()
        if status["backlog_events"] == 0 and status["acked_seq"] == status["head_seq"]:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"not drained: {client.server.app[UPLINK].status()}")


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until `predicate()` holds."""
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def url_of(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


def link_status(client: TestClient) -> dict[str, Any]:
    """Return the store's HQ link status."""
    return client.server.app[UPLINK].status()
