"""Pickup orders: priced at creation, stock reserved, picked, collected (paid or not), cancelled."""

from __future__ import annotations

import sqlite3
from typing import Any

from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.settings import Settings
from edge.web.keys import LEDGER
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import authorize


async def call(client: TestClient, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = await client.request(method, path, json=body)
    return response.status, await response.json()


async def stock_of(client: TestClient, product: str) -> dict[str, int]:
    body = await (await client.get(f"/api/v1/stock?product={product}")).json()
    row = body["stock"][0]
    return {k: row[k] for k in ("on_hand", "reserved", "available")}


def order(**changes: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "source": "mini-program",
        "customer": {"name": "李女士", "phone": "13900001111"},
        "lines": [{"product": "COKE", "quantity": 4}, {"product": "CHIPS", "quantity": 1}],
        **changes,
    }


async def test_a_paid_order_reserves_stock_and_is_handed_over(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client, role="manager")
    await stock_up(client)
    receipt = {"id": new_id(), "items": [{"product": "COKE", "quantity": 10}]}
    assert (await call(client, "POST", "/api/v1/stock/receipts", receipt))[0] == 201
    body = order(paid_online=True, payment={"provider": "wechat", "reference": "WX-42"})
    status, created = await call(client, "POST", "/api/v1/orders", body)
    assert (status, created["status"], created["total"]) == (201, "new", 4 * 300 + 650)
    assert (await call(client, "POST", "/api/v1/orders", body))[1] == created  # a retry
    assert await stock_of(client, "COKE") == {"on_hand": 10, "reserved": 4, "available": 6}

    url = f"/api/v1/orders/{body['id']}"
    early = await call(client, "POST", f"{url}/collect", {})
    assert (early[0], early[1]["error"]["code"]) == (409, "not_ready")
    assert (await call(client, "POST", f"{url}/status", {"to": "picking"}))[1][
        "status"
    ] == "picking"
    back = await call(client, "POST", f"{url}/status", {"to": "picking"})
    assert back[0] == 200  # the same change again is a retry
    assert (await call(client, "POST", f"{url}/status", {"to": "ready"}))[1]["status"] == "ready"
    listed = await call(client, "GET", "/api/v1/orders")
    assert [o["order"] for o in listed[1]["orders"]] == [body["id"]]
    head = client.server.app[LEDGER].head[0]
    status, collected = await call(client, "POST", f"{url}/collect", {})
    assert (status, collected["status"], collected["sale"]) == (200, "collected", None)
    assert await stock_of(client, "COKE") == {"on_hand": 6, "reserved": 0, "available": 6}
    assert (await call(client, "POST", f"{url}/collect", {}))[1]["status"] == "collected"
    assert client.server.app[LEDGER].head[0] == head + 2  # one stock movement, one event
    cancel = await call(client, "POST", f"{url}/status", {"to": "cancelled"})
    assert (cancel[0], cancel[1]["error"]["code"]) == (409, "bad_transition")


async def test_an_unpaid_order_is_sold_at_its_prices_once_and_a_cancel_releases_stock(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client, role="manager")
    await stock_up(client)
    body = order(member="M1", lines=[{"product": "COKE", "quantity": 10}])
    status, created = await call(client, "POST", "/api/v1/orders", body)
    assert status == 201, created
    ordered_total = created["total"]  # member price and the spend-20-save-3 promotion
    # the price rises before collection: the order keeps its price
    coke = {"name_zh": "可乐", "category": "drinks", "list_price": 400, "member_price": 380,
            "barcodes": ["6901234567892"]}  # fmt: skip
    assert (await client.put("/api/v1/products/COKE", json=coke)).status == 200
    url = f"/api/v1/orders/{body['id']}"
    assert (await call(client, "POST", f"{url}/status", {"to": "ready"}))[0] == 200
    unpaid = await call(client, "POST", f"{url}/collect", {})
    assert (unpaid[0], unpaid[1]["error"]["code"]) == (400, "tender_short")
    pay = {"tenders": [{"kind": "cash", "amount": 5_000}]}
    status, collected = await call(client, "POST", f"{url}/collect", pay)
    assert (status, collected["status"]) == (200, "collected"), collected
    sale = await (await client.get(f"/api/v1/sales/{collected['sale']}")).json()
    assert sale["total"] == ordered_total and sale["member"] == "M1"
    again = await call(client, "POST", f"{url}/collect", pay)
    assert again[1]["sale"] == collected["sale"]
    conn = sqlite3.connect(client.server.app[LEDGER].path)
    try:
        sales = conn.execute("SELECT count(*) FROM sales").fetchone()[0]
    finally:
        conn.close()
    assert sales == 1

    other = order(lines=[{"product": "CHIPS", "quantity": 3}])
    assert (await call(client, "POST", "/api/v1/orders", other))[0] == 201
    assert (await stock_of(client, "CHIPS"))["reserved"] == 3
    cancelled = await call(
        client, "POST", f"/api/v1/orders/{other['id']}/status", {"to": "cancelled"}
    )
    assert cancelled[1]["status"] == "cancelled"
    assert (await stock_of(client, "CHIPS"))["reserved"] == 0
    bad = await call(
        client, "POST", "/api/v1/orders", order(lines=[{"product": "NOPE", "quantity": 1}])
    )
    assert bad[0] == 404
    missing = await call(client, "GET", f"/api/v1/orders/{new_id()}")
    assert (missing[0], missing[1]["error"]["code"]) == (404, "unknown_order")
