"""Stock: adjustments and goods received over HTTP, negative stock, and the projection property."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.app import create_app
from edge.domain.catalog import category_from_fields, product_from_fields
from edge.domain.days import Hours
from edge.domain.tenders import TenderInput
from edge.ledger.ledger import Ledger, utc_clock
from edge.ledger.maintenance import backup, rebuild_projections
from edge.ledger.projections import ProjectionSet
from edge.ledger.projections.registry import DEFAULT_PROJECTORS
from edge.services.basket import BasketRequest, LineRequest
from edge.services.catalog import Actor, save_category, save_product
from edge.services.checkout import Checkout, SaleRequest
from edge.services.days import Days
from edge.services.inventory import move_stock
from edge.services.payments import SimulatedTerminal
from edge.services.returns import ReturnLine, ReturnRequest, Returns
from edge.services.store import init_store_ledger
from edge.settings import InventorySettings, PathSettings, Settings
from edge.web.keys import LEDGER
from tests.conftest import STORE
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import FakeClock, authorize


async def post(client: TestClient, path: str, body: Any) -> tuple[int, Any]:
    response = await client.post(path, json=body)
    return response.status, await response.json()


async def on_hand(client: TestClient, product: str) -> int:
    body = await (await client.get(f"/api/v1/stock?product={product}")).json()
    return int(body["stock"][0]["on_hand"])


async def test_receiving_and_adjustments_once_per_id(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client, role="manager")
    await stock_up(client)
    delivery = {
        "id": new_id(),
        "supplier": "可口可乐华东",
        "document": "DN-2026-1123-07",
        "items": [{"product": "COKE", "quantity": 48}, {"product": "MILK", "quantity": 24}],
    }
    status, received = await post(client, "/api/v1/stock/receipts", delivery)
    assert (status, received["reason"]) == (201, "receiving")
    assert (await post(client, "/api/v1/stock/receipts", delivery))[0] == 200  # a retry
    reused = await post(client, "/api/v1/stock/receipts", delivery | {"note": "other"})
    assert (reused[0], reused[1]["error"]["code"]) == (409, "id_reused")
    damage = {"id": new_id(), "reason": "damage", "items": [{"product": "COKE", "quantity": -3}]}
    assert (await post(client, "/api/v1/stock/adjustments", damage))[0] == 201
    assert await on_hand(client, "COKE") == 45

    head = client.server.app[LEDGER].head[0]
    coke = {"product": "COKE", "quantity": 1}
    bad_requests = [
        ({"items": [{"product": "NOPE", "quantity": 1}]}, "receipts", "unknown_product"),
        ({"items": [{"product": "COKE", "quantity": -1}]}, "receipts", "bad_quantity"),
        ({"reason": "found", "items": [coke | {"quantity": 0}]}, "adjustments", "bad_quantity"),
        ({"reason": "lost", "items": [coke]}, "adjustments", "validation_failed"),
        ({"reason": "found", "items": [coke, coke]}, "adjustments", "bad_item"),
    ]
    for fields, path, code in bad_requests:
        body = {"id": new_id(), **fields}
        status, error = await post(client, f"/api/v1/stock/{path}", body)
        assert (status // 100, error["error"]["code"]) == (4, code), (body, error)
    assert client.server.app[LEDGER].head[0] == head

    await authorize(client, role="cashier", name="clerk")
    cashier_adjust = {
        "id": new_id(),
        "reason": "found",
        "items": [{"product": "COKE", "quantity": 1}],
    }
    assert (await post(client, "/api/v1/stock/adjustments", cashier_adjust))[0] == 403
    more = {"id": new_id(), "items": [{"product": "CHIPS", "quantity": 10}]}
    assert (await post(client, "/api/v1/stock/receipts", more))[0] == 201
    moves = await (await client.get("/api/v1/stock/COKE/movements")).json()
    assert [(m["reason"], m["quantity"]) for m in moves["movements"]] == [
        ("damage", -3),
        ("receiving", 48),
    ]
    low = await (await client.get("/api/v1/stock?below=20")).json()
    assert {row["product"] for row in low["stock"]} == {"APPLE", "CHIPS"}


async def test_a_store_may_refuse_to_sell_beyond_its_stock(
    aiohttp_client: Any, settings: Settings
) -> None:
    strict = Settings(
        store=settings.store,
        paths=settings.paths,
        inventory=InventorySettings(allow_negative=False),
    )
    client: TestClient = await aiohttp_client(create_app(strict))
    await authorize(client, role="manager")
    await stock_up(client)
    delivery = {"id": new_id(), "items": [{"product": "CHIPS", "quantity": 2}]}
    assert (await post(client, "/api/v1/stock/receipts", delivery))[0] == 201
    head = client.server.app[LEDGER].head[0]
    three = {
        "id": new_id(),
        "lines": [{"product": "CHIPS", "quantity": 3}],
        "tenders": [{"kind": "cash", "amount": 5_000}],
    }
    status, error = await post(client, "/api/v1/sales", three)
    assert (status, error["error"]["code"]) == (409, "out_of_stock")
    assert client.server.app[LEDGER].head[0] == head
    two = three | {"id": new_id(), "lines": [{"product": "CHIPS", "quantity": 2}]}
    assert (await post(client, "/api/v1/sales", two))[0] == 201
    assert await on_hand(client, "CHIPS") == 0


# --- the projection property ---------------------------------------------------------------

PRODUCTS = ("P1", "P2", "P3")
ops = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), st.sampled_from(PRODUCTS), st.integers(1, 50)),
        st.tuples(
            st.just("adjust"),
            st.sampled_from(PRODUCTS),
            st.integers(-20, 20).filter(lambda q: q != 0),
        ),
        st.tuples(
            st.just("sell"),
            st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=3, unique=True),
            st.integers(1, 4),
        ),
        st.tuples(st.just("return"), st.booleans(), st.integers(1, 4)),
    ),
    min_size=1,
    max_size=14,
)


async def _scenario(directory: Path, operations: list[tuple[Any, ...]]) -> None:
    settings = Settings(store=STORE, paths=PathSettings(data_dir=directory / "data"))
    await init_store_ledger(settings)
    ledger = Ledger(settings.ledger_path, store_id=STORE.id)
    await ledger.start()
    actor = Actor(staff="prop", till="T1")
    try:
        await save_category(ledger, category_from_fields({"id": "c", "name_zh": "c"}), actor)
        for pid in PRODUCTS:
            fields = {"id": pid, "name_zh": pid, "category": "c", "list_price": "1.00"}
            await save_product(ledger, product_from_fields(fields), actor)
        await Days(ledger, Hours({}, always_open=True), settings.tz, utc_clock).open_till(actor, 0)
        from edge.app import store_pricing  # noqa: PLC0415 - the app's own pricing rules

        checkout = Checkout(
            ledger, store_pricing(settings), SimulatedTerminal(), currency="CNY", exponent=2,
            cash_rounding=1, cash_rounding_mode="half_up", clock=utc_clock,
        )  # fmt: skip
        returns = Returns(checkout)
        sales: list[tuple[str, int]] = []
        for op in operations:
            if op[0] in ("receive", "adjust"):
                kind = "receiving" if op[0] == "receive" else "adjustment"
                fields = {"reason": "found", "items": [{"product": op[1], "quantity": op[2]}]}
                await move_stock(ledger, str(uuid.uuid4()), kind, fields, actor)
            elif op[0] == "sell":
                lines = tuple(LineRequest(product=pid, quantity=op[2]) for pid in op[1])
                sale_id = str(uuid.uuid4())
                request = SaleRequest(
                    sale_id, BasketRequest(lines), (TenderInput("cash", 100_000),), sale_id, actor
                )
                await checkout.complete_sale(request)
                sales.append((sale_id, len(lines)))
            elif sales:
                sale_id, count = sales.pop()
                back = ReturnRequest(
                    str(uuid.uuid4()), sale_id, None,
                    tuple(ReturnLine(i, quantity=1, restock=op[1]) for i in range(count)),
                    "", False, str(uuid.uuid4()), actor,
                )  # fmt: skip
                await returns.return_items(back)
    finally:
        await ledger.stop()

    conn = sqlite3.connect(settings.ledger_path)
    try:
        summed: dict[str, int] = {}
        for (data,) in conn.execute("SELECT data FROM journal WHERE type = 'stock.moved'"):
            for item in json.loads(data)["items"]:
                summed[item["product"]] = summed.get(item["product"], 0) + item["quantity"]
        live = dict(conn.execute("SELECT product_id, on_hand FROM stock").fetchall())
        copy = directory / "rebuilt.db"
        backup(conn, copy)
    finally:
        conn.close()
    assert live == summed
    rebuilt = sqlite3.connect(copy, isolation_level=None)
    try:
        rebuild_projections(rebuilt, ProjectionSet(DEFAULT_PROJECTORS), None)
        assert dict(rebuilt.execute("SELECT product_id, on_hand FROM stock").fetchall()) == live
    finally:
        rebuilt.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=ops)
def test_stock_is_the_sum_of_its_events_and_a_rebuild_reproduces_it(
    operations: list[tuple[Any, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_scenario(Path(directory), operations))


async def test_a_count_with_sales_mid_count_posts_the_right_variance(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client, role="manager")
    await stock_up(client)
    delivery = {
        "id": new_id(),
        "items": [{"product": "COKE", "quantity": 20}, {"product": "MILK", "quantity": 10}],
    }
    assert (await post(client, "/api/v1/stock/receipts", delivery))[0] == 201

    async def sell_coke(quantity: int) -> None:
        sale = {
            "id": new_id(),
            "lines": [{"product": "COKE", "quantity": quantity}],
            "tenders": [{"kind": "cash", "amount": 5_000}],
        }
        assert (await post(client, "/api/v1/sales", sale))[0] == 201

    count_id = new_id()
    status, opened = await post(client, "/api/v1/counts", {"id": count_id, "category": "drinks"})
    assert (status, opened["products"]) == (201, ["COKE"])
    await sell_coke(3)  # before COKE is counted: the book follows (17)
    url = f"/api/v1/counts/{count_id}"
    shelf = {"items": [{"code": "6901234567892", "quantity": 12}]}
    status, entry = await post(client, f"{url}/entries", shelf)
    assert (status, entry["items"][0]["book"]) == (201, 17)
    await sell_coke(2)  # after counting began: those two were counted on the shelf
    backroom = {"items": [{"product": "COKE", "quantity": 4}]}
    assert (await post(client, f"{url}/entries", backroom))[0] == 201
    milk = await post(client, f"{url}/entries", {"items": [{"product": "MILK", "quantity": 9}]})
    assert (milk[0], milk[1]["error"]["code"]) == (409, "not_in_count")

    state = await (await client.get(url)).json()
    assert state["lines"] == [
        {"product": "COKE", "counted": 16, "book": 17, "variance": -1, "on_hand_now": 15}
    ]
    status, posted = await post(client, f"{url}/post", {})
    assert (status, posted["variances"][0]["variance"]) == (201, -1)
    assert await on_hand(client, "COKE") == 14  # 15 on the books, one was missing
    assert await on_hand(client, "MILK") == 10  # not in the count: untouched
    moves = await (await client.get("/api/v1/stock/COKE/movements")).json()
    assert (moves["movements"][0]["reason"], moves["movements"][0]["quantity"]) == ("count", -1)
    again = await post(client, f"{url}/post", {})
    assert (again[0], again[1]["error"]["code"]) == (409, "count_closed")
    late = await post(client, f"{url}/entries", backroom)
    assert (late[0], late[1]["error"]["code"]) == (409, "count_closed")


async def test_a_whole_store_count_can_zero_what_was_not_found(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client, role="manager")
    await stock_up(client)
    delivery = {
        "id": new_id(),
        "items": [{"product": "CHIPS", "quantity": 5}, {"product": "MILK", "quantity": 7}],
    }
    assert (await post(client, "/api/v1/stock/receipts", delivery))[0] == 201
    count_id = new_id()
    assert (await post(client, "/api/v1/counts", {"id": count_id}))[0] == 201
    assert (await post(client, "/api/v1/counts", {"id": count_id}))[0] == 201  # a retry
    recount = {"mode": "set", "items": [{"product": "MILK", "quantity": 6}]}
    url = f"/api/v1/counts/{count_id}"
    assert (await post(client, f"{url}/entries", {"items": [{"product": "MILK", "quantity": 9}]}))[
        0
    ] == 201
    assert (await post(client, f"{url}/entries", recount))[0] == 201
    status, posted = await post(client, f"{url}/post", {"uncounted": "zero"})
    assert status == 201
    variances = {v["product"]: v["variance"] for v in posted["variances"]}
    assert variances["MILK"] == -1 and variances["CHIPS"] == -5
    assert await on_hand(client, "CHIPS") == 0
    cancelled = await post(client, f"{url}/cancel", {})
    assert (cancelled[0], cancelled[1]["error"]["code"]) == (409, "count_closed")


async def test_replenishment_worked_example_and_low_stock_alerts(
    aiohttp_client: Any, settings: Settings
) -> None:
    """The README's example: 56 sold in 28 days, 3 + 7 + 2 days to cover, 5 on hand, packs of 12."""
    clock = FakeClock()
    clock.now = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
    client: TestClient = await aiohttp_client(create_app(settings, clock=clock))
    await authorize(client, role="manager")
    await stock_up(client)
    cola = {"name_zh": "可乐", "category": "drinks", "list_price": 300,
            "barcodes": ["6901234567892"], "pack_size": 12, "reorder_point": 6}  # fmt: skip
    assert (await client.put("/api/v1/products/COKE", json=cola)).status == 200
    delivery = {"id": new_id(), "items": [{"product": "COKE", "quantity": 71}]}
    assert (await post(client, "/api/v1/stock/receipts", delivery))[0] == 201

    async def sell(quantity: int) -> None:
        sale = {
            "id": new_id(),
            "lines": [{"product": "COKE", "quantity": quantity}],
            "tenders": [{"kind": "cash", "amount": 100_000}],
        }
        status, body = await post(client, "/api/v1/sales", sale)
        assert status == 201, body

    await sell(10)  # 2026-10-10: outside the 28-day window that ends on 2026-11-23
    clock.now = datetime(2026, 10, 27, 2, 0, tzinfo=UTC)
    for _ in range(4):
        await sell(14)  # 56 within the window
        clock.advance(days=7)
    clock.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert await on_hand(client, "COKE") == 5

    url = "/api/v1/stock/replenishment?window_days=28&lead_days=3&review_days=7&safety_days=2"
    body = await (await client.get(url)).json()
    (cola_row,) = [row for row in body["suggestions"] if row["product"] == "COKE"]
    assert (cola_row["sold"], cola_row["cover_days"], cola_row["target"]) == (56, 12, 24)
    assert (cola_row["packs"], cola_row["order"]) == (2, 24)  # need 19: two packs of 12
    csv_text = await (await client.get(url + "&format=csv")).text()
    assert csv_text.splitlines()[0].startswith("product,name_zh,name_en,on_hand")
    assert "COKE,可乐,可乐,5,56,24,12,2,24" in csv_text.splitlines()

    alerts = await (await client.get("/api/v1/stock/alerts")).json()
    assert {"product": "COKE", "alert": "low"}.items() <= alerts["alerts"][0].items()


async def test_lots_are_sold_first_expiring_flagged_near_expiry_and_blocked_when_expired(
    aiohttp_client: Any, settings: Settings
) -> None:
    clock = FakeClock()
    clock.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    client: TestClient = await aiohttp_client(create_app(settings, clock=clock))
    await authorize(client, role="manager")
    await stock_up(client)
    milk = {
        "name_zh": "纯牛奶",
        "category": "dairy",
        "list_price": 650,
        "member_price": 590,
        "barcodes": ["6901234567816"],
        "tax_class": "reduced",
        "batch_tracked": True,
    }
    assert (await client.put("/api/v1/products/MILK", json=milk)).status == 200
    no_lot = {"id": new_id(), "items": [{"product": "MILK", "quantity": 5}]}
    refused = await post(client, "/api/v1/stock/receipts", no_lot)
    assert (refused[0], refused[1]["error"]["code"]) == (400, "lot_required")
    lot_on_cola = {"id": new_id(), "items": [{"product": "COKE", "quantity": 1, "lot": "X",
                                              "expires": "2027-01-01"}]}  # fmt: skip
    assert (await post(client, "/api/v1/stock/receipts", lot_on_cola))[1]["error"]["code"] == (
        "not_batch_tracked"
    )
    delivery = {
        "id": new_id(),
        "items": [
            {"product": "MILK", "quantity": 10, "lot": "L-1210", "expires": "2026-12-10"},
            {"product": "MILK", "quantity": 5, "lot": "L-1125", "expires": "2026-11-25"},
        ],
    }
    assert (await post(client, "/api/v1/stock/receipts", delivery))[0] == 201

    async def sell(quantity: int) -> tuple[int, Any]:
        sale = {
            "id": new_id(),
            "lines": [{"product": "MILK", "quantity": quantity}],
            "tenders": [{"kind": "cash", "amount": 100_000}],
        }
        return await post(client, "/api/v1/sales", sale)

    assert (await sell(3))[0] == 201
    stock = (await (await client.get("/api/v1/stock?product=MILK")).json())["stock"][0]
    assert [(lot["lot"], lot["on_hand"]) for lot in stock["lots"]] == [
        ("L-1125", 2),
        ("L-1210", 10),
    ]
    alerts = (await (await client.get("/api/v1/stock/alerts")).json())["alerts"]
    near = [a for a in alerts if a.get("lot") == "L-1125"]
    assert near and near[0]["alert"] == "near_expiry" and near[0]["suggested_price"] == 455

    clock.now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # L-1125 is past its date
    status, error = await sell(11)
    assert (status, error["error"]["code"]) == (409, "expired_stock")
    assert (await sell(10))[0] == 201  # all from the lot still good
    alerts = (await (await client.get("/api/v1/stock/alerts")).json())["alerts"]
    assert [(a["lot"], a["alert"]) for a in alerts if a.get("lot")] == [("L-1125", "expired")]
    write_off = {"id": new_id(), "reason": "expiry",
                 "items": [{"product": "MILK", "quantity": -2, "lot": "L-1125"}]}  # fmt: skip
    assert (await post(client, "/api/v1/stock/adjustments", write_off))[0] == 201
    stock = (await (await client.get("/api/v1/stock?product=MILK")).json())["stock"][0]
    assert stock["on_hand"] == 0 and "lots" not in stock


async def test_deliveries_against_a_purchase_order_record_under_and_over_delivery(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client, role="manager")
    await stock_up(client)
    po_id = new_id()
    po = {
        "id": po_id,
        "supplier": "华东饮料",
        "expected": "2026-11-25",
        "lines": [{"product": "COKE", "quantity": 48}, {"product": "CHIPS", "quantity": 20}],
    }
    status, created = await post(client, "/api/v1/purchase-orders", po)
    assert (status, created["status"]) == (201, "open")
    assert (await post(client, "/api/v1/purchase-orders", po))[1] == created  # a retry

    first = {"id": new_id(), "purchase_order": po_id, "document": "DN-1",
             "items": [{"product": "COKE", "quantity": 24}]}  # fmt: skip
    status, delivered = await post(client, "/api/v1/stock/receipts", first)
    assert status == 201
    by_product = {line["product"]: line for line in delivered["order"]}
    assert by_product["COKE"] == {"product": "COKE", "ordered": 48, "received": 24,
                                  "outstanding": 24, "over": 0}  # fmt: skip
    second = {
        "id": new_id(),
        "purchase_order": po_id,
        "document": "DN-2",
        "items": [{"product": "COKE", "quantity": 30}, {"product": "MILK", "quantity": 6}],
    }
    assert (await post(client, "/api/v1/stock/receipts", second))[0] == 201
    state = await (await client.get(f"/api/v1/purchase-orders/{po_id}")).json()
    lines = {line["product"]: line for line in state["lines"]}
    assert state["status"] == "partially_received"  # the chips never came
    assert (lines["COKE"]["over"], lines["MILK"]["ordered"], lines["MILK"]["over"]) == (6, 0, 6)
    assert lines["CHIPS"]["outstanding"] == 20

    status, closed = await post(client, f"/api/v1/purchase-orders/{po_id}/close", {})
    assert (status, closed["status"], closed["short"]) == (
        200,
        "closed",
        [{"product": "CHIPS", "quantity": 20}],
    )
    late = {
        "id": new_id(),
        "purchase_order": po_id,
        "items": [{"product": "CHIPS", "quantity": 20}],
    }
    refused = await post(client, "/api/v1/stock/receipts", late)
    assert (refused[0], refused[1]["error"]["code"]) == (409, "purchase_order_closed")
    unknown = late | {"id": new_id(), "purchase_order": new_id()}
    assert (await post(client, "/api/v1/stock/receipts", unknown))[0] == 404
    assert await on_hand(client, "COKE") == 54


async def test_transfers_leave_stock_travel_and_arrive_with_their_differences(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client, role="manager")
    await stock_up(client)
    receipt = {"id": new_id(), "items": [{"product": "COKE", "quantity": 30}]}
    assert (await post(client, "/api/v1/stock/receipts", receipt))[0] == 201
    out_id = new_id()
    out = {"id": out_id, "to_store": "SH-0043", "lines": [{"product": "COKE", "quantity": 12}]}
    status, sent = await post(client, "/api/v1/transfers/out", out)
    assert (status, sent["status"], sent["direction"]) == (201, "in_transit", "out")
    assert (await post(client, "/api/v1/transfers/out", out))[1] == sent  # a retry
    assert await on_hand(client, "COKE") == 18
    wrong_way = await post(client, f"/api/v1/transfers/{out_id}/receive", {"lines": []})
    assert (wrong_way[0], wrong_way[1]["error"]["code"]) == (409, "not_incoming")

    in_id = new_id()
    incoming = {
        "id": in_id,
        "from_store": "SH-0041",
        "lines": [{"product": "CHIPS", "quantity": 10}, {"product": "MILK", "quantity": 6}],
    }
    assert (await post(client, "/api/v1/transfers/in", incoming))[0] == 201
    arrived = {"lines": [{"product": "CHIPS", "quantity": 9}, {"product": "MILK", "quantity": 6}]}
    status, received = await post(client, f"/api/v1/transfers/{in_id}/receive", arrived)
    assert (status, received["status"]) == (200, "received")
    assert received["discrepancies"] == [
        {"product": "CHIPS", "sent": 10, "received": 9, "difference": -1}
    ]
    assert await on_hand(client, "CHIPS") == 9
    again = await post(client, f"/api/v1/transfers/{in_id}/receive", arrived)
    assert (again[0], again[1]["error"]["code"]) == (409, "transfer_closed")
    shown = await (await client.get(f"/api/v1/transfers/{in_id}")).json()
    assert shown["discrepancies"][0]["difference"] == -1
