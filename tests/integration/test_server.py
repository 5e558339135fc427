"""The HTTP server: liveness, readiness after the chain check, JSON errors."""

from __future__ import annotations

import asyncio
import os

from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.settings import Settings
from tests.conftest import STORE, raw


async def wait_ready(client: TestClient, *, expect: int = 200) -> dict[str, object]:
    for _ in range(200):
        response = await client.get("/readyz")
        body = await response.json()
        detail = body["checks"]["ledger"]["detail"]  # type: ignore[index]
        if response.status == expect and "verif" in detail and "verifying" not in detail:
            return body  # type: ignore[no-any-return]
        if expect == 503 and "broken" in detail:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"readyz never answered {expect}: {body}")


async def test_health_ready_and_store(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert (response.status, await response.json()) == (200, {"status": "ok", "pid": os.getpid()})
    body = await wait_ready(client)
    assert body["ready"] is True
    response = await client.get("/api/v1/store")
    store = await response.json()
    assert store["id"] == STORE.id
    assert store["name"] == STORE.name
    assert store["ledger"]["head_seq"] == 1
    page = await (await client.get("/")).text()
    assert STORE.name in page


async def test_tampered_ledger_is_not_ready(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    conn = raw(settings.ledger_path)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET ts = '1999-01-01T00:00:00.000+00:00' WHERE seq = 1")
    conn.close()
    client = await aiohttp_client(create_app(settings))
    body = await wait_ready(client, expect=503)
    assert body["ready"] is False
    assert "chain broken at seq 1" in str(body["checks"])


async def test_api_errors_are_json(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    response = await client.post("/api/v1/store", data=b"{}")
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
