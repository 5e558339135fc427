"""Bad input at the checkout: each a 4xx JSON error, and the journal does not move."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.services.payments import APPROVE_CARD, TIMEOUT_CARD, SimulatedTerminal
from edge.settings import CheckoutSettings, Settings
from tests.integration.checkout_store import head, new_id, stock_up, weight_label
from tests.integration.conftest import authorize


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    terminal = SimulatedTerminal()
    quick = replace(settings, checkout=CheckoutSettings(payment_timeout_ms=200))
    client: TestClient = await aiohttp_client(create_app(quick, payments=terminal))
    await authorize(client)
    await stock_up(client)
    return client


def sale(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": new_id(),
        "lines": [{"code": "6901234567892", "quantity": 2}],
        "tenders": [{"kind": "cash", "amount": 1000}],
    }
    body.update(changes)
    return body


BAD_SALES: list[tuple[str, Any, int, str]] = [
    ("not json", b"{lines: [", 400, "malformed_json"),
    ("empty", b"", 400, "empty_body"),
    ("array", b"[]", 400, "malformed_json"),
    ("nan", b'{"id": NaN}', 400, "malformed_json"),
    (
        "infinity",
        b'{"id": "x", "lines": [{"code": "1", "quantity": Infinity}]}',
        400,
        "malformed_json",
    ),
    ("not utf-8", '{"id": "é"}'.encode("latin-1"), 400, "malformed_json"),
    ("lone surrogate", b'{"id": "x", "member": "\\ud800"}', 400, "malformed_json"),
    ("no id", {"lines": [{"code": "6901234567892"}], "tenders": []}, 400, "validation_failed"),
    ("id not uuid", sale(id="sale-1"), 400, "validation_failed"),
    (
        "quantity text",
        sale(lines=[{"code": "6901234567892", "quantity": "2"}]),
        400,
        "validation_failed",
    ),
    (
        "quantity float",
        sale(lines=[{"code": "6901234567892", "quantity": 2.0}]),
        400,
        "validation_failed",
    ),
    (
        "negative quantity",
        sale(lines=[{"code": "6901234567892", "quantity": -1}]),
        400,
        "validation_failed",
    ),
    (
        "zero quantity",
        sale(lines=[{"code": "6901234567892", "quantity": 0}]),
        400,
        "validation_failed",
    ),
    (
        "absurd quantity",
        sale(lines=[{"code": "6901234567892", "quantity": 10**9}]),
        400,
        "validation_failed",
    ),
    ("absurd weight", sale(lines=[{"product": "APPLE", "grams": 10**7}]), 400, "validation_failed"),
    ("no lines", sale(lines=[]), 400, "validation_failed"),
    (
        "code and product",
        sale(lines=[{"code": "6901234567892", "product": "COKE"}]),
        400,
        "bad_line",
    ),
    ("neither", sale(lines=[{"quantity": 1}]), 400, "bad_line"),
    ("unknown field", sale(total=1), 400, "validation_failed"),
    ("client price", sale(lines=[{"code": "6901234567892", "price": 1}]), 400, "validation_failed"),
    ("unknown barcode", sale(lines=[{"code": "6901234567885"}]), 404, "unknown_barcode"),
    ("bad check digit", sale(lines=[{"code": "6901234567893"}]), 400, "bad_check_digit"),
    ("unknown product", sale(lines=[{"product": "NOPE"}]), 404, "unknown_product"),
    ("weighed without weight", sale(lines=[{"product": "APPLE"}]), 409, "weight_required"),
    ("piece with weight", sale(lines=[{"product": "COKE", "grams": 500}]), 409, "not_weighed"),
    (
        "label plus weight",
        sale(lines=[{"code": weight_label("4011", 500), "grams": 500}]),
        400,
        "bad_line",
    ),
    ("tender short", sale(tenders=[{"kind": "cash", "amount": 599}]), 422, "tender_short"),
    ("no tender", sale(tenders=[]), 422, "tender_short"),
    (
        "card overpays",
        sale(tenders=[{"kind": "card", "amount": 700, "presented": APPROVE_CARD}]),
        422,
        "overpaid",
    ),
    ("negative tender", sale(tenders=[{"kind": "cash", "amount": -600}]), 400, "validation_failed"),
    ("unknown tender", sale(tenders=[{"kind": "iou", "amount": 600}]), 400, "validation_failed"),
    (
        "two cash",
        sale(tenders=[{"kind": "cash", "amount": 300}, {"kind": "cash", "amount": 300}]),
        400,
        "bad_tender",
    ),
    ("unknown member", sale(member="M404"), 404, "unknown_member"),
    (
        "stored value without member",
        sale(tenders=[{"kind": "stored_value", "amount": 600}]),
        400,
        "no_member",
    ),
    (
        "stored value short",
        sale(member="M1", tenders=[{"kind": "stored_value", "amount": 560}]),
        402,
        "insufficient_stored_value",
    ),
    ("invalid coupon", sale(coupons=["NOPE"]), 422, "invalid_coupon"),
    (
        "card times out",
        sale(tenders=[{"kind": "card", "amount": 600, "presented": TIMEOUT_CARD}]),
        402,
        "payment_timeout",
    ),
    ("discount both", sale(discount={"percent_bp": 100, "amount": 1}), 400, "bad_discount"),
]


@pytest.mark.parametrize(
    ("name", "body", "status", "code"), BAD_SALES, ids=[b[0] for b in BAD_SALES]
)
async def test_bad_sale_is_a_json_4xx_and_the_journal_is_unchanged(
    client: TestClient, name: str, body: Any, status: int, code: str
) -> None:
    before = head(client)
    if isinstance(body, bytes):
        response = await client.post(
            "/api/v1/sales", data=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = await client.post("/api/v1/sales", json=body)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    error = (await response.json())["error"]
    assert error["code"] == code
    assert error["message"]
    assert head(client) == before


async def test_a_10_mb_body_is_refused_with_413(client: TestClient) -> None:
    before = head(client)
    body = b'{"id": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/v1/sales", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "body_too_large"
    assert head(client) == before


async def test_only_issued_vouchers_pay_once_within_their_value_and_dates(
    client: TestClient,
) -> None:
    before = head(client)
    forged = sale(tenders=[{"kind": "coupon", "amount": 600, "code": "GV-FORGED"}])
    response = await client.post("/api/v1/sales", json=forged)
    assert (response.status, (await response.json())["error"]["code"]) == (422, "unknown_voucher")
    assert head(client) == before
    vouchers = {
        "vouchers": [
            {"code": "GV-1", "amount": 600},
            {"code": "GV-SMALL", "amount": 500},
            {"code": "GV-OLD", "amount": 600, "valid_to": "2020-12-31"},
            {"code": "GV-M1", "amount": 600, "member": "M1"},
        ]
    }
    issued = await client.post("/api/v1/vouchers", json=vouchers)
    assert issued.status == 201, await issued.text()
    twice = await client.post(
        "/api/v1/vouchers", json={"vouchers": [{"code": "GV-1", "amount": 1}]}
    )
    assert (twice.status, (await twice.json())["error"]["code"]) == (409, "voucher_exists")
    before = head(client)
    for code, member, expected in (
        ("GV-SMALL", None, "voucher_value"),
        ("GV-OLD", None, "voucher_expired"),
        ("GV-M1", None, "voucher_not_yours"),
    ):
        body = sale(tenders=[{"kind": "coupon", "amount": 600, "code": code}], member=member)
        response = await client.post("/api/v1/sales", json=body)
        assert (response.status, (await response.json())["error"]["code"]) == (422, expected)
    assert head(client) == before
    mine = sale(tenders=[{"kind": "coupon", "amount": 560, "code": "GV-M1"}], member="M1")
    response = await client.post("/api/v1/sales", json=mine)
    assert response.status == 201, await response.text()
    batch = await client.post("/api/v1/vouchers", json={"count": 3, "amount": 1000})
    codes = [v["code"] for v in (await batch.json())["vouchers"]]
    assert len(set(codes)) == 3 and all(c.startswith("GV-") and len(c) == 15 for c in codes)
    body = sale(tenders=[{"kind": "coupon", "amount": 600, "code": "GV-1"}])
    response = await client.post("/api/v1/sales", json=body)
    assert response.status == 201, await response.text()
    before = head(client)
    again = sale(tenders=[{"kind": "coupon", "amount": 600, "code": "GV-1"}])
    response = await client.post("/api/v1/sales", json=again)
    assert (response.status, (await response.json())["error"]["code"]) == (409, "voucher_used")
    assert head(client) == before
    used = await (await client.get("/api/v1/vouchers/GV-1")).json()
    assert used["used_by_sale"] == body["id"]
