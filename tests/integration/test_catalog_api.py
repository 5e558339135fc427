"""Catalog over HTTP: products, categories, CSV import, and the API's own description."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.settings import Settings
from edge.web.api import operation_of
from tests.conftest import raw
from tests.integration.conftest import authorize

COLA = {
    "name_zh": "可口可乐 330ml",
    "name_en": "Coca-Cola 330ml",
    "category": "drinks",
    "brand": "Coca-Cola",
    "tax_class": "standard",
    "cost": 150,
    "list_price": 300,
    "member_price": 280,
    "barcodes": ["6901234567892", "036000291452"],
}


async def client_for(aiohttp_client: Any, settings: Settings) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client)
    response = await client.put(
        "/api/v1/categories/drinks", json={"name_zh": "饮料", "name_en": "Drinks"}
    )
    assert response.status == 201, await response.text()
    return client


def journal_length(settings: Settings) -> int:
    return int(raw(settings.ledger_path).execute("SELECT count(*) FROM journal").fetchone()[0])


async def test_product_lifecycle(aiohttp_client: Any, settings: Settings) -> None:
    client = await client_for(aiohttp_client, settings)
    response = await client.put("/api/v1/products/COLA330", json=COLA)
    assert (response.status, await response.json()) == (201, {"outcome": "created"})
    before = journal_length(settings)
    response = await client.put("/api/v1/products/COLA330", json=COLA)
    assert (await response.json()) == {"outcome": "unchanged"}
    assert journal_length(settings) == before, "an unchanged product must not append an event"
    product = await (await client.get("/api/v1/products/COLA330")).json()
    assert product["barcodes"] == ["06901234567892", "00036000291452"]
    assert product["member_price"] == 280
    for query in ("可乐", "coca", "6901234567892", "0036000291452", "COLA330"):
        found = await (await client.get("/api/v1/products", params={"q": query})).json()
        assert [p["id"] for p in found["products"]] == ["COLA330"], query
    response = await client.put("/api/v1/products/COLA330", json={**COLA, "list_price": 350})
    assert (await response.json()) == {"outcome": "updated"}


async def test_conflicts_and_bad_products_change_nothing(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await client_for(aiohttp_client, settings)
    await client.put("/api/v1/products/COLA330", json={**COLA, "plu": "42"})
    before = journal_length(settings)
    clash = await client.put("/api/v1/products/OTHER", json={**COLA, "barcodes": ["036000291452"]})
    assert clash.status == 409
    assert "already belongs to COLA330" in (await clash.json())["error"]["message"]
    plu = await client.put("/api/v1/products/OTHER", json={**COLA, "barcodes": [], "plu": "042"})
    assert plu.status == 409
    cases = [
        {**COLA, "list_price": -1},
        {**COLA, "list_price": 2.5},
        {**COLA, "list_price": "3.00"},
        {**COLA, "barcodes": ["6901234567891"]},
        {**COLA, "member_price": 999},
        {**COLA, "category": "nope"},
        {**COLA, "colour": "red"},
        {"name_en": "no zh name"},
        {**COLA, "id": "DIFFERENT"},
    ]
    for body in cases:
        response = await client.put("/api/v1/products/NEW1", json=body)
        assert 400 <= response.status < 500, body
        assert "error" in await response.json()
    assert journal_length(settings) == before


async def test_csv_import_reports_rows_and_keeps_good_ones(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await client_for(aiohttp_client, settings)
    csv_text = (
        "id,name_zh,name_en,category,list_price,member_price,sold_by_weight,plu,barcodes\n"
        "APPLE,苹果,Apple,drinks,12.80,,yes,4011,\n"
        "MILK,牛奶,Milk,drinks,6.50,6.00,no,,6901234567892|4006381333931\n"
        "BAD1,坏,Bad,drinks,abc,,no,,\n"
        "BAD2,,NoName,drinks,1.00,,no,,\n"
        "BAD3,重复码,Dup,drinks,1.00,,no,,4006381333931\n"
        "MILK,牛奶,Milk again,drinks,6.50,,no,,\n"
    )
    response = await client.post(
        "/api/v1/catalog/import", data=csv_text.encode(), headers={"Content-Type": "text/csv"}
    )
    report = await response.json()
    assert response.status == 200, report
    assert (report["created"], report["rejected_rows"]) == (2, 4)
    rows = {(e["row"], e["field"]) for e in report["errors"]}
    assert (4, "list_price") in rows
    assert (5, "name_zh") in rows
    assert (6, "barcodes[0]") in rows
    assert (7, "id") in rows
    apple = await (await client.get("/api/v1/products/APPLE")).json()
    assert (apple["list_price"], apple["sold_by_weight"], apple["unit"]) == (1280, True, "kg")
    assert (await client.get("/api/v1/products/BAD3")).status == 404
    again = await client.post(
        "/api/v1/catalog/import", data=csv_text.encode(), headers={"Content-Type": "text/csv"}
    )
    assert (await again.json())["unchanged"] == 2


async def test_csv_import_refuses_bad_files(aiohttp_client: Any, settings: Settings) -> None:
    client = await client_for(aiohttp_client, settings)
    before = journal_length(settings)
    bad_header = await client.post(
        "/api/v1/catalog/import",
        data=b"id,name,price\n1,x,2\n",
        headers={"Content-Type": "text/csv"},
    )
    assert bad_header.status == 400
    assert (await bad_header.json())["error"]["code"] == "bad_csv_header"
    latin1 = await client.post(
        "/api/v1/catalog/import",
        data="id,name_zh,list_price\nX,caf\xe9,1\n".encode("latin-1"),
        headers={"Content-Type": "text/csv"},
    )
    assert latin1.status == 400
    wrong_type = await client.post("/api/v1/catalog/import", json={"id": 1})
    assert wrong_type.status == 415
    assert journal_length(settings) == before


async def test_every_route_is_documented_with_a_permission(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(settings)
    client: TestClient = await aiohttp_client(app)
    await authorize(client)
    document = await (await client.get("/api/v1/openapi.json")).json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    routed = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        operation = operation_of(route.handler)
        assert operation is not None, f"{route.method} {path} has no documented operation"
        assert operation.permission, f"{route.method} {path} declares no permission"
        routed.add((route.method, path))
    assert routed == documented
