"""Sales over HTTP: a full sale, idempotent retries, 409 on a reused id, returns, voids."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.ledger.projections.sales import OF_SALE
from edge.protocol.receipt import check_document
from edge.services.catalog import Actor
from edge.services.payments import APPROVE_CARD, DECLINE_CARD, SimulatedTerminal
from edge.settings import MemberSettings, PointsSettings, Settings
from edge.web import sales as sales_web
from edge.web.keys import AUTH, LEDGER
from tests.integration.checkout_store import (
    MEMBER,
    SPEND_SAVE,
    head,
    new_id,
    stock_up,
    weight_label,
)
from tests.integration.conftest import authorize


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, terminal: SimulatedTerminal
) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(settings, payments=terminal))
    await authorize(client)
    await stock_up(client)
    return client


def full_sale(sale_id: str) -> dict[str, Any]:
    """1.250 kg of apples from a scale label, 2 milk, 3 cola, member M1, card 10 + cash 50."""
    return {
        "id": sale_id,
        "member": "M1",
        "lines": [
            {"code": weight_label("4011", 1250)},
            {"code": "6901234567816", "quantity": 2},
            {"product": "COKE", "quantity": 3},
        ],
        "tenders": [
            {"kind": "card", "amount": 1000, "presented": APPROVE_CARD},
            {"kind": "cash", "amount": 5000},
        ],
    }


async def post_sale(client: TestClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/v1/sales", json=body)
    return response.status, await response.json()


async def test_full_sale_weighed_label_spend_save_member_price_split_payment(
    client: TestClient, terminal: SimulatedTerminal
) -> None:
    status, sale = await post_sale(client, full_sale(new_id()))
    assert status == 201, sale
    apple, milk, coke = sale["lines"]
    # gross from the label's weight; member prices shown as discounts that explain themselves
    assert (apple["grams"], apple["gross"]) == (1250, 1600)
    assert [d["kind"] for d in apple["discounts"]] == ["member_price"]
    assert apple["discounts"][0]["amount"] == 1600 - 1475
    assert (milk["quantity"], milk["gross"], milk["discounts"][0]["amount"]) == (2, 1300, 120)
    assert (coke["gross"], coke["discounts"][0]["amount"]) == (900, 60)
    # 满20减3 on 34.95 after member prices, named on the receipt
    assert [(d["promotion"], d["amount"]) for d in sale["basket_discounts"]] == [("SPEND20", 300)]
    assert sale["subtotal"] == 3800
    assert sale["discount_total"] == 125 + 120 + 60 + 300
    assert sale["total"] == 3195
    assert sum(line["amount"] for line in sale["lines"]) == 3195
    assert sum(line["basket_share"] for line in sale["lines"]) == 300
    # tax inclusive: 9% on apples and milk, 13% on cola, consistent to the fen
    rates = {t["rate_bp"]: t for t in sale["tax"]}
    assert set(rates) == {900, 1300}
    assert all(t["net"] + t["tax"] == t["gross"] for t in sale["tax"])
    assert rates[1300]["gross"] == coke["amount"]
    # split payment: card 10.00, cash pays 21.95 of the 50.00 handed over
    card, cash = sale["tenders"]
    assert (card["kind"], card["amount"], card["masked_pan"]) == ("card", 1000, "411111******1111")
    assert APPROVE_CARD not in str(sale)
    assert (cash["amount"], cash["tendered"], cash["change"]) == (2195, 5000, 2805)
    assert sale["change"] == 2805
    assert sale["receipt"] == "S-TEST-00000001"
    assert sale["member_display"] == "138****8000"
    assert sale["e_receipt_url"].endswith(sale["e_receipt_url"].split("/r/")[1])
    assert terminal.calls == 1
    # the answer (made from the event's canonical text) shows what reading the sale shows
    assert await (await client.get(f"/api/v1/sales/{sale['id']}")).json() == sale
    assert not {"token", "request_hash"} & set(sale)
    head = ["id", "receipt", "seq", "ts", "till", "staff", "e_receipt_url"]
    assert list(sale)[:7] == head
    shown = list(sale)[7:]
    assert shown == sorted(shown)  # made from the canonical text: the data's fields sorted
    # stock moved: grams for apples, pieces for the rest
    rows = await client.server.app[LEDGER].reader.fetch_all("SELECT product_id, on_hand FROM stock")
    assert dict(rows) == {"APPLE": -1250, "MILK": -2, "COKE": -3}


async def test_retry_returns_the_same_sale_and_charges_once(
    client: TestClient, terminal: SimulatedTerminal
) -> None:
    body = full_sale(new_id())
    status, first = await post_sale(client, body)
    assert status == 201
    length = head(client)
    for _ in range(5):
        response = await client.post("/api/v1/sales", json=body)
        assert response.status == 201
        assert response.headers["Idempotent-Replayed"] == "true"
        assert await response.json() == first
    assert head(client) == length
    assert terminal.calls == 1


async def test_a_sale_whose_answer_failed_is_kept_and_its_retry_answers(
    client: TestClient, terminal: SimulatedTerminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is built while the sale commits; if building it fails, the sale stands."""
    real = sales_web.sale_response
    calls: list[int] = []

    def broken_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("answer template broken")
        return real(*args, **kwargs)

    monkeypatch.setattr(sales_web, "sale_response", broken_once)
    body = full_sale(new_id())
    length = head(client)
    response = await client.post("/api/v1/sales", json=body)
    assert response.status == 500
    assert head(client) > length  # recorded, durable
    assert terminal.reversed == set()  # the card payment of a recorded sale is not reversed
    status, sale = await post_sale(client, body)
    assert status == 201 and sale["id"] == body["id"]
    assert terminal.calls == 1  # the retry is the recorded sale, charged once


async def test_concurrent_duplicates_record_one_sale(client: TestClient) -> None:
    body = full_sale(new_id())
    body["tenders"] = [{"kind": "cash", "amount": 5000}]
    results = await asyncio.gather(*(post_sale(client, body) for _ in range(8)))
    receipts = {sale["receipt"] for status, sale in results if status == 201}
    assert [status for status, _ in results] == [201] * 8
    assert receipts == {"S-TEST-00000001"}
    rows = await client.server.app[LEDGER].reader.fetch_all("SELECT count(*) FROM sales")
    assert rows == [(1,)]


async def test_same_id_different_body_is_409_and_changes_nothing(client: TestClient) -> None:
    body = full_sale(new_id())
    assert (await post_sale(client, body))[0] == 201
    length = head(client)
    changed = {**body, "lines": body["lines"][:2]}
    status, error = await post_sale(client, changed)
    assert (status, error["error"]["code"]) == (409, "id_reused")
    assert head(client) == length


async def test_receipt_numbers_are_gapless_across_failures(client: TestClient) -> None:
    numbers = []
    for index in range(6):
        body = full_sale(new_id())
        if index % 2:
            body["tenders"] = [{"kind": "card", "amount": 1000, "presented": DECLINE_CARD}]
            body["tenders"].append({"kind": "cash", "amount": 5000})
            status, error = await post_sale(client, body)
            assert (status, error["error"]["code"]) == (402, "payment_declined")
            continue
        status, sale = await post_sale(client, body)
        assert status == 201
        numbers.append(sale["receipt_no"])
    assert numbers == [1, 2, 3]


async def test_partial_return_refunds_the_card_and_restocks(client: TestClient) -> None:
    status, sale = await post_sale(client, full_sale(new_id()))
    assert status == 201
    milk = sale["lines"][1]
    return_id = new_id()
    body = {"id": return_id, "receipt": sale["receipt"], "lines": [{"index": 1, "quantity": 1}]}
    response = await client.post("/api/v1/returns", json=body)
    assert response.status == 201, await response.text()
    refund = await response.json()
    half = (milk["amount"] + 1) // 2
    assert refund["amount"] == half
    assert [(r["kind"], r["amount"]) for r in refund["refunds"]] == [("card", half)]
    assert refund["receipt"] == "S-TEST-00000002"
    assert refund["original_receipt"] == sale["receipt"]
    printed = await client.get(f"/api/v1/returns/{return_id}/receipt?locale=en")
    document = await printed.json()
    assert printed.status == 200 and check_document(document) == []
    texts = [b.get("text", "") + b.get("left", "") + b.get("right", "") for b in document["blocks"]]
    assert "REFUND" in texts and any(sale["receipt"] in t for t in texts)
    assert any(
        t.startswith("Card ") and t.endswith(f"-{half // 100}.{half % 100:02d}") for t in texts
    )
    assert "drawer" not in [b["kind"] for b in document["blocks"]]  # a card refund: no drawer
    missing = await client.get(f"/api/v1/returns/{new_id()}/receipt")
    assert missing.status == 404
    # the rest of the milk line can come back, but not a third bottle
    again = {"id": new_id(), "sale": sale["id"], "lines": [{"index": 1, "quantity": 2}]}
    response = await client.post("/api/v1/returns", json=again)
    assert (response.status, (await response.json())["error"]["code"]) == (
        409,
        "return_exceeds_sale",
    )
    rest = {"id": new_id(), "sale": sale["id"], "lines": [{"index": 1, "quantity": 1}]}
    response = await client.post("/api/v1/returns", json=rest)
    assert response.status == 201
    assert (await response.json())["amount"] == milk["amount"] - half
    # a retry of the first return is the same return
    response = await client.post("/api/v1/returns", json=body)
    assert response.status == 201
    assert (await response.json())["id"] == return_id


async def test_stored_value_pays_and_a_void_gives_it_back(client: TestClient) -> None:
    top_up = {"id": new_id(), "amount": 5000, "bonus": 500}
    response = await client.post("/api/v1/members/M1/top-ups", json=top_up)
    assert (response.status, (await response.json())["balance"]) == (201, 5500)
    again = await client.post("/api/v1/members/M1/top-ups", json=top_up)
    assert (again.status, (await again.json())["balance"]) == (201, 5500)
    body = {
        "id": new_id(),
        "member": "M1",
        "lines": [{"product": "COKE", "quantity": 2}],
        "tenders": [{"kind": "stored_value", "amount": 560}],
    }
    status, sale = await post_sale(client, body)
    assert status == 201, sale
    lookup = await (await client.get("/api/v1/members/lookup?key=13812348000")).json()
    assert (lookup["stored_value"], lookup["phone"]) == (5500 - 560, "138****8000")
    response = await client.post(
        f"/api/v1/sales/{sale['id']}/void", json={"id": new_id(), "reason": "wrong member"}
    )
    assert response.status == 201, await response.text()
    void = await response.json()
    assert (void["void"], void["amount"]) == (True, 560)
    assert [r["kind"] for r in void["refunds"]] == ["stored_value"]
    lookup = await (await client.get("/api/v1/members/lookup?key=VIP-0001")).json()
    assert lookup["stored_value"] == 5500
    response = await client.post(
        f"/api/v1/sales/{sale['id']}/void", json={"id": new_id(), "reason": "twice"}
    )
    assert (response.status, (await response.json())["error"]["code"]) == (409, "already_returned")
    got = await (await client.get(f"/api/v1/sales/{sale['id']}")).json()
    assert got["receipt"] == sale["receipt"]


async def test_e_receipt_by_token_and_receipt_document(client: TestClient) -> None:
    status, sale = await post_sale(client, full_sale(new_id()))
    assert status == 201
    path = "/r/" + sale["e_receipt_url"].split("/r/")[1]
    token = path[len("/r/") :]
    second = (await post_sale(client, full_sale(new_id())))[1]
    later = second["e_receipt_url"].split("/r/")[1]
    for sold, its in ((sale, token), (second, later)):  # the receipt number, then 128 bits
        assert its[:8] == f"{int(sold['receipt'].rsplit('-', 1)[1]):08x}" and len(its) == 30
    assert token < later and token[8:] != later[8:]  # in receipt order, not a counter
    page = await client.get(path + "?lang=en")
    text = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert sale["receipt"] in text and "Spend 20 save 3" in text and "31.95" in text
    assert (await client.get("/r/" + "A" * 22)).status == 404
    assert (await client.get("/r/1")).status == 404
    document = await (await client.get(f"/api/v1/sales/{sale['id']}/receipt?reprint=true")).json()
    kinds = [block["kind"] for block in document["blocks"]]
    assert "drawer" not in kinds and kinds[-1] == "cut"
    by_number = await client.get(f"/api/v1/receipts/{sale['receipt']}")
    assert (await by_number.json())["id"] == sale["id"]


async def test_suspend_and_resume_once(client: TestClient) -> None:
    basket = {"lines": [{"code": "6901234567892", "quantity": 2}], "member": "M1"}
    basket_id = new_id()
    body = {"id": basket_id, "label": "green coat", "basket": basket}
    response = await client.post("/api/v1/baskets/suspended", json=body)
    assert response.status == 201, await response.text()
    listed = await (await client.get("/api/v1/baskets/suspended?till=T01")).json()
    assert [b["id"] for b in listed["baskets"]] == [basket_id]
    resumed = await client.post(f"/api/v1/baskets/suspended/{basket_id}/resume", json={})
    assert (resumed.status, (await resumed.json())["basket"]) == (200, basket)
    twice = await client.post(f"/api/v1/baskets/suspended/{basket_id}/resume", json={})
    assert (twice.status, (await twice.json())["error"]["code"]) == (409, "already_resumed")
    listed = await (await client.get("/api/v1/baskets/suspended")).json()
    assert listed["baskets"] == []


async def test_price_preview_records_nothing(client: TestClient) -> None:
    before = head(client)
    response = await client.post(
        "/api/v1/baskets/price", json={"lines": [{"product": "CHIPS", "quantity": 4}]}
    )
    priced = await response.json()
    assert (response.status, priced["subtotal"], priced["total"]) == (200, 2600, 2300)
    assert head(client) == before


async def test_exchanges_pay_or_refund_only_the_difference(client: TestClient) -> None:
    body = {
        "id": new_id(),
        "lines": [{"product": "MILK", "quantity": 2}, {"product": "CHIPS"}],
        "tenders": [{"kind": "cash", "amount": 2000}],
    }
    status, sale = await post_sale(client, body)
    assert (status, sale["total"], sale["change"]) == (201, 1950, 50)
    before = head(client)
    # one milk (6.50) for two colas (6.00): 0.50 back in cash
    cheaper = {
        "id": new_id(),
        "receipt": sale["receipt"],
        "lines": [{"index": 0, "quantity": 1}],
        "new": {"lines": [{"product": "COKE", "quantity": 2}]},
    }
    response = await client.post("/api/v1/exchanges", json=cheaper)
    assert response.status == 201, await response.text()
    result = await response.json()
    back, new = result["return"], result["sale"]
    assert back["amount"] == 650
    assert sorted((r["kind"], r["amount"]) for r in back["refunds"]) == [
        ("cash", 50),
        ("exchange", 600),
    ]
    assert (new["total"], [(t["kind"], t["amount"]) for t in new["tenders"]]) == (
        600,
        [("exchange", 600)],
    )
    assert new["receipt_no"] == back["receipt_no"] + 1
    assert head(client) == before + 4  # return, its restock, the sale, its stock movement
    replay = await client.post("/api/v1/exchanges", json=cheaper)
    assert (replay.status, await replay.json()) == (201, result)
    assert head(client) == before + 4
    # the chips (6.50) for two milks (13.00): 6.50 more by card
    dearer = {
        "id": new_id(),
        "sale": sale["id"],
        "lines": [{"index": 1}],
        "new": {
            "lines": [{"product": "MILK", "quantity": 2}],
            "tenders": [{"kind": "card", "amount": 650, "presented": APPROVE_CARD}],
        },
    }
    response = await client.post("/api/v1/exchanges", json=dearer)
    assert response.status == 201, await response.text()
    result = await response.json()
    assert [(r["kind"], r["amount"]) for r in result["return"]["refunds"]] == [("exchange", 650)]
    assert [(t["kind"], t["amount"]) for t in result["sale"]["tenders"]] == [
        ("exchange", 650),
        ("card", 650),
    ]
    rows = await client.server.app[LEDGER].reader.fetch_all("SELECT product_id, on_hand FROM stock")
    assert dict(rows) == {"MILK": -2 + 1 - 2, "CHIPS": -1 + 1, "COKE": -2}


async def test_a_catalog_change_prices_the_next_basket(client: TestClient) -> None:
    """Products are cached for pricing; a committed change must reach the very next basket."""
    new_code = "6901234567830"

    async def price(line: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = await client.post("/api/v1/baskets/price", json={"lines": [line]})
        return response.status, await response.json()

    status, priced = await price({"code": "6901234567823"})
    assert (status, priced["subtotal"]) == (200, 650)
    status, unknown = await price({"code": new_code})
    assert (status, unknown["error"]["code"]) == (404, "unknown_barcode")

    chips = {"name_zh": "薯片", "category": "snacks", "list_price": 700}
    changed = await client.put(
        "/api/v1/products/CHIPS", json=chips | {"barcodes": ["6901234567823", new_code]}
    )
    assert changed.status in (200, 201), await changed.text()
    for code in ("6901234567823", new_code):
        status, priced = await price({"code": code})
        assert (status, priced["subtotal"], priced["lines"][0]["product"]) == (200, 700, "CHIPS")

    four = await client.post(
        "/api/v1/baskets/price", json={"lines": [{"code": new_code, "quantity": 4}]}
    )
    assert (await four.json())["discount_total"] == 300  # spend 20 save 3
    ended = await client.put("/api/v1/promotions/SPEND20", json=SPEND_SAVE | {"active": False})
    assert ended.status in (200, 201), await ended.text()
    four = await client.post(
        "/api/v1/baskets/price", json={"lines": [{"code": new_code, "quantity": 4}]}
    )
    assert (await four.json())["discount_total"] == 0

    retired = await client.put(
        "/api/v1/products/CHIPS", json=chips | {"active": False, "barcodes": ["6901234567823"]}
    )
    assert retired.status in (200, 201), await retired.text()
    status, gone = await price({"code": "6901234567823"})
    assert (status, gone["error"]["code"]) == (404, "inactive_product")


async def test_card_and_qr_top_ups_are_charged_once_and_never_into_the_drawer(
    client: TestClient, terminal: SimulatedTerminal
) -> None:
    before = head(client)
    declined = {
        "id": new_id(),
        "amount": 10_000,
        "tender": "card",
        "presented": DECLINE_CARD,
    }
    refused = await client.post("/api/v1/members/M1/top-ups", json=declined)
    assert refused.status == 402, await refused.text()
    assert head(client) == before  # nothing recorded for a declined card

    card = {"id": new_id(), "amount": 10_000, "bonus": 1_000, "tender": "card"}
    card["presented"] = APPROVE_CARD
    first = await client.post("/api/v1/members/M1/top-ups", json=card)
    assert (first.status, (await first.json())["balance"]) == (201, 11_000)
    calls = terminal.calls
    retry = await client.post("/api/v1/members/M1/top-ups", json=card)
    assert (retry.status, (await retry.json())["balance"]) == (201, 11_000)
    assert terminal.calls == calls  # the retry was answered from the ledger, not charged
    qr = {"id": new_id(), "amount": 2_000, "tender": "qr"}
    assert (await client.post("/api/v1/members/M1/top-ups", json=qr)).status == 201

    conn = sqlite3.connect(client.server.app[LEDGER].path)
    try:
        tenders = [
            json.loads(row[0])["tender"]
            for row in conn.execute(
                "SELECT data FROM journal WHERE type = 'stored_value.topped_up' ORDER BY seq"
            )
        ]
    finally:
        conn.close()
    assert [t["kind"] for t in tenders] == ["card", "qr"]
    assert tenders[0]["masked_pan"].endswith(APPROVE_CARD[-4:])
    assert APPROVE_CARD not in json.dumps(tenders)
    x = await (await client.get("/api/v1/reports/x")).json()
    taken = {t["kind"]: t["taken"] for t in x["tenders"]}
    assert (taken["card"], taken["qr"]) == (10_000, 2_000)
    assert x["drawers"]["T01"]["top_ups"] == 0


async def test_returning_what_an_exchange_credit_paid_refunds_the_original_card(
    client: TestClient, terminal: SimulatedTerminal
) -> None:
    """Bought by card, exchanged, then returned: the money goes back to the card, not as cash."""
    body = {
        "id": new_id(),
        "lines": [{"product": "CHIPS", "quantity": 2}],
        "tenders": [{"kind": "card", "amount": 1300, "presented": APPROVE_CARD}],
    }
    status, sale = await post_sale(client, body)
    assert status == 201, sale
    swap = {
        "id": new_id(),
        "sale": sale["id"],
        "lines": [{"index": 0, "quantity": 1}],
        "new": {"lines": [{"product": "MILK"}]},  # chips 6.50 for milk 6.50
    }
    response = await client.post("/api/v1/exchanges", json=swap)
    assert response.status == 201, await response.text()
    exchanged = (await response.json())["sale"]
    assert [(t["kind"], t["amount"]) for t in exchanged["tenders"]] == [("exchange", 650)]

    back = {"id": new_id(), "sale": exchanged["id"], "lines": [{"index": 0}]}
    response = await client.post("/api/v1/returns", json=back)
    assert response.status == 201, await response.text()
    refund = await response.json()
    assert [(r["kind"], r["amount"], r.get("from_sale")) for r in refund["refunds"]] == [
        ("card", 650, sale["id"])
    ]
    assert refund["refunds"][0]["refund_reference"].startswith("SIMR-")
    assert not any(r.get("paid_as") == "cash" for r in refund["refunds"])
    # the original card has 6.50 left to refund: the other bag of chips, and no more
    rest = {"id": new_id(), "sale": sale["id"], "lines": [{"index": 0, "quantity": 1}]}
    response = await client.post("/api/v1/returns", json=rest)
    assert response.status == 201, await response.text()
    assert [(r["kind"], r["amount"]) for r in (await response.json())["refunds"]] == [("card", 650)]
    rows = await client.server.app[LEDGER].reader.fetch_all(
        f"SELECT amount, refunded FROM sale_tenders WHERE {OF_SALE}", (sale["id"],)
    )
    assert rows == [(1300, 1300)]
    x = await (await client.get("/api/v1/reports/x")).json()
    assert x["drawers"]["T01"]["refunds"] == 0  # no cash left the drawer


async def _second_till(client: TestClient) -> dict[str, str]:
    """A cashier token on till T02, with T02 open; returned as request headers."""
    token = await client.server.app[AUTH].create_token("t02", "cashier", "T02", Actor())
    headers = {"Authorization": f"Bearer {token}"}
    opened = await client.post("/api/v1/till/open", json={"float": 0}, headers=headers)
    assert opened.status == 201, await opened.text()
    return headers


async def test_two_tills_spending_more_than_the_balance_at_once_one_succeeds(
    client: TestClient,
) -> None:
    t02 = await _second_till(client)

    def spend() -> dict[str, Any]:
        return {
            "id": new_id(),
            "member": "M1",
            "lines": [{"product": "COKE", "quantity": 2}],  # 5.60 at the member price
            "tenders": [{"kind": "stored_value", "amount": 560}],
        }

    for _ in range(5):  # several rounds, each with 10.00 for two spends of 5.60
        lookup = await (await client.get("/api/v1/members/lookup?key=M1")).json()
        top = {"id": new_id(), "amount": 1_000 - lookup["stored_value"]}
        assert (await (await client.post("/api/v1/members/M1/top-ups", json=top)).json())[
            "balance"
        ] == 1_000
        answers = await asyncio.gather(
            client.post("/api/v1/sales", json=spend()),
            client.post("/api/v1/sales", json=spend(), headers=t02),
        )
        assert sorted(a.status for a in answers) == [201, 402]
        refused = next(a for a in answers if a.status == 402)
        assert (await refused.json())["error"]["code"] == "insufficient_stored_value"
        lookup = await (await client.get("/api/v1/members/lookup?key=M1")).json()
        assert lookup["stored_value"] == 1_000 - 560


async def test_a_voucher_redeemed_at_two_tills_at_once_pays_once(client: TestClient) -> None:
    t02 = await _second_till(client)
    codes = [f"GV-RACE{n}" for n in range(5)]
    issued = await client.post(
        "/api/v1/vouchers", json={"vouchers": [{"code": c, "amount": 600} for c in codes]}
    )
    assert issued.status == 201
    for code in codes:

        def pay(code: str = code) -> dict[str, Any]:
            return {
                "id": new_id(),
                "lines": [{"product": "COKE", "quantity": 2}],
                "tenders": [{"kind": "coupon", "amount": 600, "code": code}],
            }

        answers = await asyncio.gather(
            client.post("/api/v1/sales", json=pay()),
            client.post("/api/v1/sales", json=pay(), headers=t02),
        )
        assert sorted(a.status for a in answers) == [201, 409]
        used = await (await client.get(f"/api/v1/vouchers/{code}")).json()
        winner = next(a for a in answers if a.status == 201)
        assert used["used_by_sale"] == (await winner.json())["id"]


async def test_points_are_earned_redeemed_and_taken_back_by_returns(
    aiohttp_client: Any, settings: Settings
) -> None:
    rules = PointsSettings(earn_per=10, redeem_value=1)  # a point per 0.10, worth 0.01
    app = create_app(replace(settings, points=rules))
    client: TestClient = await aiohttp_client(app)
    await authorize(client)
    await stock_up(client)

    async def points() -> int:
        return int((await (await client.get("/api/v1/members/lookup?key=M1")).json())["points"])

    first = {
        "id": new_id(),
        "member": "M1",
        "lines": [{"product": "COKE", "quantity": 10}],
        "tenders": [{"kind": "cash", "amount": 5_000}],
    }
    status, sale1 = await post_sale(client, first)
    assert status == 201, sale1
    earned1 = sale1["points"]["earned"]
    assert earned1 == sale1["total"] // 10 and await points() == earned1

    too_many = {
        "id": new_id(),
        "member": "M1",
        "lines": [{"product": "MILK", "quantity": 2}],
        "tenders": [{"kind": "points", "amount": earned1 + 1}, {"kind": "cash", "amount": 5_000}],
    }
    before = head(client)
    status, refused = await post_sale(client, too_many)
    assert (status, refused["error"]["code"]) == (402, "insufficient_points")
    assert head(client) == before
    anonymous = too_many | {"id": new_id(), "member": None}
    assert (await post_sale(client, anonymous))[0] == 400

    second = too_many | {
        "id": new_id(),
        "tenders": [{"kind": "points", "amount": 200}, {"kind": "cash", "amount": 5_000}],
    }
    status, sale2 = await post_sale(client, second)
    assert status == 201, sale2
    assert sale2["points"]["redeemed"] == 200
    earned2 = sale2["points"]["earned"]
    assert earned2 == (sale2["total"] - 200) // 10  # points paid do not earn points
    assert await points() == earned1 - 200 + earned2

    # one of the two milks comes back: its share of the points earned is taken back, and the
    # points tender is refunded before cash
    back = {"id": new_id(), "sale": sale2["id"], "lines": [{"index": 0, "quantity": 1}]}
    response = await client.post("/api/v1/returns", json=back)
    assert response.status == 201, await response.text()
    returned = await response.json()
    refunds = {r["kind"]: r for r in returned["refunds"]}
    assert refunds["points"]["points"] == refunds["points"]["amount"] <= 200
    reversed_points = returned["points"]["reversed"]
    assert reversed_points == earned2 * returned["amount"] // sale2["total"]
    after_return = earned1 - 200 + earned2 + returned["points"]["refunded"] - reversed_points
    assert await points() == after_return

    void = await client.post(
        f"/api/v1/sales/{sale1['id']}/void", json={"id": new_id(), "reason": "wrong member"}
    )
    assert void.status == 201, await void.text()
    assert (await void.json())["points"]["reversed"] == earned1
    assert await points() == after_return - earned1
    history = await (await client.get("/api/v1/members/M1/purchases")).json()
    assert [(p["sale"], p["status"]) for p in history["purchases"]] == [
        (sale2["id"], "partially_returned"),
        (sale1["id"], "voided"),
    ]
    assert history["purchases"][1]["points"] == earned1
    page = await client.get(
        f"/api/v1/members/M1/purchases?before_seq={history['purchases'][0]['seq']}"
    )
    assert [p["sale"] for p in (await page.json())["purchases"]] == [sale1["id"]]
    assert (await client.get("/api/v1/members/NOBODY/purchases")).status == 404


async def test_members_move_up_a_tier_when_their_spend_reaches_it(
    aiohttp_client: Any, settings: Settings
) -> None:
    tiered = replace(
        settings,
        members=MemberSettings(tiers={"silver": 2_000, "gold": 5_000}),
        points=PointsSettings(earn_per=100, tiers={"gold": 200}),
    )
    client: TestClient = await aiohttp_client(create_app(tiered))
    await authorize(client)
    await stock_up(client)

    async def buy(quantity: int) -> dict[str, Any]:
        body = {
            "id": new_id(),
            "member": "M1",
            "lines": [{"product": "CHIPS", "quantity": quantity}],
            "tenders": [{"kind": "cash", "amount": 20_000}],
        }
        status, sale = await post_sale(client, body)
        assert status == 201, sale
        return sale

    async def tier() -> str:
        return str((await (await client.get("/api/v1/members/lookup?key=M1")).json())["tier"])

    first = await buy(2)  # 13.00, spend 13.00
    assert await tier() == "standard"
    await buy(2)  # spend 26.00: silver
    assert await tier() == "silver"
    big = await buy(6)  # spend 65.00 (less the spend-20-save-3): gold, skipping nothing
    assert await tier() == "gold"
    doubled = await buy(2)  # gold earns double points
    assert doubled["points"]["earned"] == 2 * (doubled["total"] // 100)
    # a return lowers the spend but never the tier
    back = {"id": new_id(), "sale": big["id"], "lines": [{"index": 0}]}
    assert (await client.post("/api/v1/returns", json=back)).status == 201
    assert await tier() == "gold"
    conn = sqlite3.connect(client.server.app[LEDGER].path)
    try:
        changes = [
            json.loads(row[0])
            for row in conn.execute(
                "SELECT data FROM journal WHERE type = 'member.tier_changed' ORDER BY seq"
            )
        ]
    finally:
        conn.close()
    assert [(c["from"], c["to"]) for c in changes] == [("standard", "silver"), ("silver", "gold")]
    edited = await client.put("/api/v1/members/M1", json=MEMBER | {"name": "王小明 (new)"})
    assert edited.status == 200, await edited.text()
    assert await tier() == "gold"  # editing the record keeps the tier earned
    assert first["points"]["earned"] == first["total"] // 100


async def test_a_tier_discount_is_a_promotion_for_some_tiers_only(client: TestClient) -> None:
    gold = {
        "name_zh": "金卡95折",
        "name_en": "Gold 5% off",
        "kind": "basket_percent",
        "percent_bp": 500,
        "members_only": True,
        "tiers": ["gold"],
    }
    saved = await client.put("/api/v1/promotions/GOLD5", json=gold)
    assert saved.status == 201, await saved.text()
    basket = {"member": "M1", "lines": [{"product": "CHIPS", "quantity": 2}]}

    async def names() -> list[str]:
        priced = await (await client.post("/api/v1/baskets/price", json=basket)).json()
        return [d["promotion"] for d in priced["basket_discounts"]]

    assert "GOLD5" not in await names()  # M1 is a standard member
    promoted = await client.put("/api/v1/members/M1", json=MEMBER | {"tier": "gold"})
    assert promoted.status == 200, await promoted.text()
    assert "GOLD5" in await names()
    anonymous = await (
        await client.post("/api/v1/baskets/price", json={"lines": basket["lines"]})
    ).json()
    assert "GOLD5" not in [d["promotion"] for d in anonymous["basket_discounts"]]


async def test_a_birthday_offer_applies_on_the_members_birthday_only(
    aiohttp_client: Any, settings: Settings
) -> None:
    now = [datetime(2026, 11, 23, 15, 30, tzinfo=UTC)]  # 23:30 on 23 Nov in Shanghai
    client: TestClient = await aiohttp_client(create_app(settings, clock=lambda: now[0]))
    await authorize(client)
    await stock_up(client)
    offer = {
        "name_zh": "生日九折",
        "name_en": "Birthday 10% off",
        "kind": "basket_percent",
        "percent_bp": 1000,
        "members_only": True,
        "birthday_only": True,
    }
    assert (await client.put("/api/v1/promotions/BDAY", json=offer)).status == 201
    saved = await client.put("/api/v1/members/M1", json=MEMBER | {"birthday": "11-23"})
    assert saved.status == 200, await saved.text()
    bad = await client.put("/api/v1/members/M1", json=MEMBER | {"birthday": "13-40"})
    assert bad.status == 400
    basket = {"member": "M1", "lines": [{"product": "CHIPS"}]}

    async def offers() -> list[str]:
        priced = await (await client.post("/api/v1/baskets/price", json=basket)).json()
        return [d["promotion"] for d in priced["basket_discounts"]]

    assert "BDAY" in await offers()
    now[0] += timedelta(hours=1)  # 00:30 on 24 Nov in Shanghai: the birthday is over
    assert "BDAY" not in await offers()
    lookup = await (await client.get("/api/v1/members/lookup?key=M1")).json()
    assert lookup["birthday"] == "11-23"
