"""Scanning: GTINs, GS1 variable-measure labels with the store's layouts, PLUs, bad codes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.domain.barcode import gtin_check_digit, measure_check_digit
from edge.settings import Settings
from tests.integration.conftest import authorize

APPLE = {
    "name_zh": "富士苹果",
    "name_en": "Fuji apple",
    "list_price": 1280,
    "sold_by_weight": True,
    "plu": "4011",
}
MILK = {"name_zh": "牛奶", "name_en": "Milk", "list_price": 650, "barcodes": ["036000291452"]}
GONE = {"name_zh": "停售", "list_price": 100, "barcodes": ["4006381333931"], "active": False}


def ean13(body12: str) -> str:
    return body12 + str(gtin_check_digit(body12))


def weight_label(plu: str, grams: int) -> str:
    value = f"{grams:04d}"
    return ean13("28" + plu.zfill(5) + str(measure_check_digit(value)) + value)


def price_label(plu: str, price: int) -> str:
    return ean13("20" + plu.zfill(5) + f"{price:05d}")


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client)
    for pid, body in (("APPLE", APPLE), ("MILK", MILK), ("GONE", GONE)):
        response = await client.put(f"/api/v1/products/{pid}", json=body)
        assert response.status == 201, await response.text()
    return client


async def scan(client: TestClient, code: str) -> tuple[int, dict[str, Any]]:
    response = await client.get(f"/api/v1/scan/{code}")
    return response.status, await response.json()


async def test_gtin_in_any_length_finds_the_product(client: TestClient) -> None:
    for code in ("036000291452", "0036000291452", "00036000291452"):
        status, body = await scan(client, code)
        assert (status, body["kind"], body["product"]["id"]) == (200, "gtin", "MILK"), code


async def test_weight_and_price_labels_use_the_store_layouts(client: TestClient) -> None:
    status, body = await scan(client, weight_label("4011", 1250))
    assert status == 200, body
    assert (body["kind"], body["product"]["id"], body["grams"]) == (
        "variable_measure",
        "APPLE",
        1250,
    )
    status, body = await scan(client, price_label("4011", 1600))
    assert (status, body["embedded_price"], body["grams"]) == (200, 1600, None)
    status, body = await scan(client, "4011")
    assert (status, body["kind"], body["product"]["id"]) == (200, "plu", "APPLE")


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("6901234567892", 404, "unknown_barcode"),
        ("4006381333932", 400, "bad_check_digit"),
        ("4006381333931", 404, "inactive_product"),
        ("1234567890", 400, "bad_barcode_length"),
        ("9999", 404, "unknown_barcode"),
        ("x" * 60, 400, "bad_barcode"),
        ("%E4%B8%AD%E6%96%87", 400, "bad_barcode"),
        ("400638l333931", 400, "bad_barcode"),
    ],
)
async def test_bad_and_unknown_codes(
    client: TestClient, code: str, status: int, error: str
) -> None:
    got, body = await scan(client, code)
    assert (got, body["error"]["code"]) == (status, error)


async def test_wrong_weight_verifier_and_weight_on_piece_item(client: TestClient) -> None:
    good = weight_label("4011", 1250)
    bad_verifier = good[:7] + str((int(good[7]) + 1) % 10) + good[8:12]
    got, body = await scan(client, ean13(bad_verifier))
    assert (got, body["error"]["code"]) == (400, "bad_measure_check_digit")
    await client.put(
        "/api/v1/products/EGG", json={"name_zh": "鸡蛋", "list_price": 100, "plu": "77"}
    )
    got, body = await scan(client, weight_label("77", 500))
    assert (got, body["error"]["code"]) == (409, "not_weighed")
