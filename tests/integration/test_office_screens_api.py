"""What the back office and till screens need from the API beyond the basics.

A catalog clash names its fields; open stock counts can be listed; a member edit that does not
resend the (masked) phone keeps it; a sale says what came back of each line; the e-receipt QR
is drawn by its unguessable token for anyone holding it; cash movements and no-sales open the
till's drawer when one is bound.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.settings import Settings
from edge.web.keys import DEVICES
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import authorize


async def make(aiohttp_client: Any, settings: Settings) -> TestClient:
    """Return a manager's client on a stocked store with till T01 open."""
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client)
    await stock_up(client)
    return client


async def answer(client: TestClient, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the API and return (status, JSON)."""
    response = await client.request(method, path, json=body)
    return response.status, await response.json(content_type=None)


async def test_a_barcode_or_plu_clash_names_each_field(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await make(aiohttp_client, settings)
    status, body = await answer(client, "PUT", "/api/v1/products/COLA2", {
        "name_zh": "可乐二", "list_price": 350, "plu": "4011",
        "barcodes": ["6901234567809", "6901234567892"],
    })  # fmt: skip
    assert status == 409, body
    error = body["error"]
    assert error["code"] == "catalog_conflict"
    fields = {f["path"]: f["problem"] for f in error["fields"]}
    assert set(fields) == {"barcodes[1]", "plu"}
    assert "COKE" in fields["barcodes[1]"] and "APPLE" in fields["plu"]
    assert (await answer(client, "GET", "/api/v1/products/COLA2"))[0] == 404


async def test_open_counts_are_listed_until_posted(aiohttp_client: Any, settings: Settings) -> None:
    client = await make(aiohttp_client, settings)
    first, second = new_id(), new_id()
    for count_id, category in ((first, "drinks"), (second, None)):
        status, _ = await answer(client, "POST", "/api/v1/counts", {
            "id": count_id, "category": category, "note": "月末盘点"})  # fmt: skip
        assert status == 201
    status, _ = await answer(client, "POST", f"/api/v1/counts/{first}/entries", {
        "items": [{"code": "6901234567892", "quantity": 4}]})  # fmt: skip
    assert status == 201
    status, listed = await answer(client, "GET", "/api/v1/counts?status=open")
    assert status == 200
    assert [c["count"] for c in listed["counts"]] == [second, first]  # newest first
    drinks = listed["counts"][1]
    assert drinks["scope"] == {"category": "drinks"} and drinks["products"] == 1
    assert (drinks["counted"], drinks["note"]) == (1, "月末盘点")
    assert drinks["opened_by"] == "token:tests"
    assert (await answer(client, "POST", f"/api/v1/counts/{first}/post", {}))[0] == 201
    _, still = await answer(client, "GET", "/api/v1/counts?status=open")
    assert [c["count"] for c in still["counts"]] == [second]
    _, every = await answer(client, "GET", "/api/v1/counts")
    assert {c["count"]: c["status"] for c in every["counts"]} == {first: "posted", second: "open"}
    status, bad = await answer(client, "GET", "/api/v1/counts?status=lost")
    assert status == 400, bad


async def test_a_member_edit_without_the_phone_keeps_it(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await make(aiohttp_client, settings)
    status, _ = await answer(client, "PUT", "/api/v1/members/M1", {
        "name": "王小明 Wang", "card_no": "VIP-0001", "birthday": "05-01"})  # fmt: skip
    assert status == 200
    _, found = await answer(client, "GET", "/api/v1/members/lookup?key=13812348000")
    assert (found["id"], found["name"], found["birthday"]) == ("M1", "王小明 Wang", "05-01")
    assert found["phone"] == "138****8000"
    # null clears it (the card number still finds the member)
    status, _ = await answer(client, "PUT", "/api/v1/members/M1", {
        "name": "王小明 Wang", "card_no": "VIP-0001", "phone": None})  # fmt: skip
    assert status == 200
    assert (await answer(client, "GET", "/api/v1/members/lookup?key=13812348000"))[0] == 404
    _, by_card = await answer(client, "GET", "/api/v1/members/lookup?key=VIP-0001")
    assert by_card["phone"] is None


async def test_a_sale_says_what_came_back_of_each_line(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await make(aiohttp_client, settings)
    sale_id = new_id()
    status, sale = await answer(client, "POST", "/api/v1/sales", {
        "id": sale_id,
        "lines": [{"product": "COKE", "quantity": 3}, {"product": "APPLE", "grams": 800}],
        "tenders": [{"kind": "cash", "amount": 5000}],
    })  # fmt: skip
    assert status == 201, sale
    _, before = await answer(client, "GET", f"/api/v1/sales/{sale_id}/returns")
    lines = before["lines"]
    assert [(line["index"], line["returned_quantity"], line["left"]) for line in lines] == [
        (0, 0, 3),
        (1, 0, 800),
    ]
    status, _ = await answer(client, "POST", "/api/v1/returns", {
        "id": new_id(), "sale": sale_id,
        "lines": [{"index": 0, "quantity": 2}, {"index": 1, "grams": 300}]})  # fmt: skip
    assert status == 201
    _, after = await answer(client, "GET", f"/api/v1/sales/{sale_id}/returns")
    coke, apple = after["lines"]
    assert (coke["product"], coke["returned_quantity"], coke["left"]) == ("COKE", 2, 1)
    assert (apple["grams"], apple["returned_grams"], apple["left"]) == (800, 300, 500)
    assert coke["returned_amount"] == 2 * sale["lines"][0]["amount"] // 3
    status, missing = await answer(client, "GET", f"/api/v1/sales/{new_id()}/returns")
    assert (status, missing["error"]["code"]) == (404, "unknown_sale")


async def test_the_e_receipt_qr_is_drawn_by_its_token_for_anyone(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await make(aiohttp_client, settings)
    status, sale = await answer(client, "POST", "/api/v1/sales", {
        "id": new_id(), "lines": [{"product": "COKE"}],
        "tenders": [{"kind": "cash", "amount": 300}]})  # fmt: skip
    assert status == 201
    token = re.fullmatch(r".*/r/([A-Za-z0-9_-]{16,64})", sale["e_receipt_url"])
    assert token is not None
    staff_view = await client.get(f"/api/v1/sales/{sale['id']}/qr.svg")
    assert staff_view.status == 200
    del client.session.headers["Authorization"]  # nobody signed in: a shopper's phone
    response = await client.get(f"/r/{token.group(1)}/qr.svg")
    assert response.status == 200
    assert response.content_type == "image/svg+xml"
    assert response.headers["Cache-Control"] == "private, no-store"
    drawn = await response.text()
    assert drawn.startswith("<svg") and drawn == await staff_view.text()  # the same URL
    by_id = await client.get(f"/api/v1/sales/{sale['id']}/qr.svg")
    assert by_id.status == 401  # the sale id alone shows nothing
    for wrong in ("A" * 22, "short", "bad!token!0123456789"):
        assert (await client.get(f"/r/{wrong}/qr.svg")).status == 404, wrong


async def test_cash_movements_and_a_no_sale_open_the_bound_drawer(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await make(aiohttp_client, settings)
    # no drawer bound to T01 yet: the movement is recorded and says so
    status, moved = await answer(client, "POST", "/api/v1/till/cash", {
        "direction": "in", "amount": 5000, "reason": "零钱"})  # fmt: skip
    assert (status, moved["drawer"]) == (201, "none")
    status, _ = await answer(client, "POST", "/api/v1/devices", {
        "id": "drawer-9", "type": "drawer", "till": "T01"})  # fmt: skip
    assert status == 201
    sent: list[tuple[str, str, dict[str, Any]]] = []

    async def sender(device: Any, verb: str, payload: dict[str, Any]) -> None:
        sent.append((device.id, verb, payload))

    center = client.server.app[DEVICES]
    center.sender = None  # the bus is down: still recorded, the drawer is unreachable
    status, opened = await answer(client, "POST", "/api/v1/till/drawer", {"reason": "换零钱"})
    assert (status, opened["drawer"]) == (201, "unreachable")
    center.sender = sender
    status, opened = await answer(client, "POST", "/api/v1/till/drawer", {"reason": "换零钱"})
    assert (status, opened["drawer"]) == (201, "opened")
    status, moved = await answer(client, "POST", "/api/v1/till/cash", {
        "direction": "out", "amount": 2000, "reason": "存入保险柜"})  # fmt: skip
    assert (status, moved["drawer"]) == (201, "opened")
    assert [(device, verb) for device, verb, _ in sent] == [
        ("drawer-9", "open"),
        ("drawer-9", "open"),
    ]
    _, report = await answer(client, "GET", "/api/v1/reports/x?till=T01")
    assert report["drawers"]["T01"]["expected"] == 10_000 + 5000 - 2000


async def test_a_staff_edit_without_the_badge_keeps_it(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await make(aiohttp_client, settings)
    status, _ = await answer(client, "PUT", "/api/v1/staff/C07", {
        "name": "赵收银", "role": "cashier", "pin": "2580", "badge": "QR-7731-0077"})  # fmt: skip
    assert status == 201
    # a role change and a new PIN from the back office, which never sees the badge
    status, saved = await answer(client, "PUT", "/api/v1/staff/C07", {
        "name": "赵收银", "role": "supervisor", "pin": "3691"})  # fmt: skip
    assert (status, saved["outcome"]) == (200, "updated")
    listed = (await answer(client, "GET", "/api/v1/staff"))[1]["staff"]
    zhao = next(s for s in listed if s["id"] == "C07")
    assert (zhao["role"], zhao["badge"]) == ("supervisor", True)
    # an explicit null removes it
    status, _ = await answer(client, "PUT", "/api/v1/staff/C07", {
        "name": "赵收银", "role": "supervisor", "badge": None})  # fmt: skip
    assert status == 200
    listed = (await answer(client, "GET", "/api/v1/staff"))[1]["staff"]
    assert next(s for s in listed if s["id"] == "C07")["badge"] is False
