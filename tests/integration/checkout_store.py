"""A small store for checkout tests: catalog, a 满减 promotion, a member, helpers."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from edge.domain.barcode import gtin_check_digit, measure_check_digit
from edge.web.keys import LEDGER

PRODUCTS: dict[str, dict[str, Any]] = {
    "APPLE": {
        "name_zh": "富士苹果",
        "name_en": "Fuji apple",
        "category": "produce",
        "list_price": 1280,
        "member_price": 1180,
        "sold_by_weight": True,
        "plu": "4011",
        "tax_class": "reduced",
    },
    "MILK": {
        "name_zh": "纯牛奶",
        "name_en": "Milk",
        "category": "dairy",
        "list_price": 650,
        "member_price": 590,
        "barcodes": ["6901234567816"],
        "tax_class": "reduced",
    },
    "COKE": {
        "name_zh": "可乐",
        "name_en": "Cola",
        "category": "drinks",
        "list_price": 300,
        "member_price": 280,
        "barcodes": ["6901234567892"],
    },
    "CHIPS": {
        "name_zh": "薯片",
        "name_en": "Chips",
        "category": "snacks",
        "list_price": 650,
        "barcodes": ["6901234567823"],
    },
}
CATEGORIES = ("produce", "dairy", "drinks", "snacks")
SPEND_SAVE = {
    "name_zh": "满20减3",
    "name_en": "Spend 20 save 3",
    "kind": "spend_save",
    "threshold": 2000,
    "amount": 300,
}
MEMBER = {"name": "王小明", "phone": "13812348000", "card_no": "VIP-0001"}


def ean13(body12: str) -> str:
    return body12 + str(gtin_check_digit(body12))


def weight_label(plu: str, grams: int) -> str:
    value = f"{grams:04d}"
    return ean13("28" + plu.zfill(5) + str(measure_check_digit(value)) + value)


def new_id() -> str:
    return str(uuid.uuid4())


async def stock_up(
    client: TestClient,
    *,
    promotion: bool = True,
    member: bool = True,
    till_float: int | None = 10_000,
) -> None:
    """Load the catalog (and the promotion and member) and open the client's till."""
    for category in CATEGORIES:
        response = await client.put(f"/api/v1/categories/{category}", json={"name_zh": category})
        assert response.status == 201, await response.text()
    for pid, body in PRODUCTS.items():
        response = await client.put(f"/api/v1/products/{pid}", json=body)
        assert response.status == 201, await response.text()
    if promotion:
        response = await client.put("/api/v1/promotions/SPEND20", json=SPEND_SAVE)
        assert response.status == 201, await response.text()
    if member:
        response = await client.put("/api/v1/members/M1", json=MEMBER)
        assert response.status == 201, await response.text()
    if till_float is not None:
        response = await client.post("/api/v1/till/open", json={"float": till_float})
        assert response.status == 201, await response.text()


def head(client: TestClient) -> int:
    """Return the ledger's head seq (the journal length)."""
    return client.server.app[LEDGER].head[0]
