"""Tills for tests: a manager's client with staff, pairing and PIN sign-in."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from edge.web.auth import CSRF_HEADER, TILL_COOKIE
from edge.web.keys import LEDGER
from tests.integration.checkout_store import stock_up
from tests.integration.conftest import authorize

_MANAGER_TOKENS: dict[int, str] = {}


async def manager_client(make_client: Callable[..., Any], **auth: Any) -> TestClient:
    """A client with a manager token, a stocked catalog and the staff of a small store."""
    client: TestClient = await make_client(**auth)
    _MANAGER_TOKENS[id(client)] = await authorize(client, role="manager", till=None, name="office")
    await stock_up(client, till_float=None)
    for sid, role, pin in (("C01", "cashier", "1470"), ("S01", "supervisor", "2468")):
        body = {"name": sid, "role": role, "pin": pin}
        response = await client.put(f"/api/v1/staff/{sid}", json=body)
        assert response.status == 201, await response.text()
    return client


async def pair(client: TestClient, till: str) -> str:
    """Pair the client's browser as `till` with a code the manager made; return the CSRF token."""
    made = await client.post("/api/v1/tills/pairings", json={"till": till})
    assert made.status == 201, await made.text()
    code = (await made.json())["code"]
    client.session.headers.pop("Authorization", None)
    paired = await client.post("/api/v1/tills/pair", json={"code": code})
    assert paired.status == 201, await paired.text()
    cookie = paired.cookies[TILL_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    again = await client.post("/api/v1/tills/pair", json={"code": code})
    assert (again.status, (await again.json())["error"]["code"]) == (401, "bad_pairing_code")
    return str((await paired.json())["csrf"])


def as_manager(client: TestClient) -> None:
    client.session.headers["Authorization"] = f"Bearer {_MANAGER_TOKENS[id(client)]}"


def as_till(client: TestClient) -> None:
    client.session.headers.pop("Authorization", None)


async def sign_in(client: TestClient, csrf: str, staff: str, pin: str) -> tuple[int, Any]:
    response = await client.post(
        "/api/v1/session", json={"staff": staff, "pin": pin}, headers={CSRF_HEADER: csrf}
    )
    return response.status, await response.json()


async def open_till(client: TestClient, csrf: str) -> None:
    response = await client.post(
        "/api/v1/till/open", json={"float": 0}, headers={CSRF_HEADER: csrf}
    )
    assert response.status == 201, await response.text()


def events(client: TestClient, event_type: str) -> list[tuple[str | None, str | None, str]]:
    conn = sqlite3.connect(client.server.app[LEDGER].path)
    try:
        return conn.execute(
            "SELECT till, staff, data FROM journal WHERE type = ? ORDER BY seq", (event_type,)
        ).fetchall()
    finally:
        conn.close()
