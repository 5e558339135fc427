"""Paying at the self-checkout: a declined wallet payment, paid again once, and the e-receipt QR.

The shopper holds a wallet's payment code under the kiosk's scanner (simulator -> gateway ->
MQTT -> server -> kiosk); the payment simulator declines that code. The kiosk says so plainly,
nothing is sold or charged, and the shopper pays again with another code typed by a USB
(keyboard-wedge) scanner: exactly one sale is recorded. The receipt screen shows the QR code of
the e-receipt, fetched by its unguessable token: the kiosk itself may not read sales by id.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from playwright.async_api import Page, expect

from edge.services.payments import QR_APPROVE, QR_DECLINE
from edge.web.keys import CHECKOUT, LEDGER
from tests.browser.conftest import Pages, Store, shot
from tests.browser.test_kiosk import COKE, bag, kiosk_page, open_kiosk, scan


def kiosk_sales(store: Store) -> list[dict[str, Any]]:
    """Return the data of every sale recorded at kiosk-01, oldest first."""
    conn = sqlite3.connect(str(store.app[LEDGER].path))
    try:
        rows = conn.execute(
            "SELECT data FROM journal WHERE type = 'sale.completed' AND till = 'kiosk-01'"
            " ORDER BY seq"
        ).fetchall()
        return [json.loads(row[0]) for row in rows]
    finally:
        conn.close()


async def on_hand(store: Store, product: str) -> int:
    """Return a product's stock on hand."""
    levels = await store.api("GET", f"/api/v1/stock?product={product}")
    return int(levels["stock"][0]["on_hand"])


async def in_both_languages(page: Page, name: str) -> None:
    """Screenshot the kiosk in Chinese and in English, and come back to Chinese."""
    for locale in ("zh-CN", "en"):
        await page.select_option(".language", locale)
        await expect(page.locator("html")).to_have_attribute("lang", locale)
        await shot(page, f"kiosk-{name}-{locale}")
    await page.select_option(".language", "zh-CN")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


async def test_a_declined_payment_is_explained_and_paid_again_once(
    store: Store, pages: Pages
) -> None:
    pages.allow_http(402)  # the declined payment's answer
    await open_kiosk(store)
    bag(store, 0)
    kiosk = await kiosk_page(store, pages)
    await kiosk.click(".start-button")
    await scan(store, COKE)
    await expect(kiosk.locator(".lines .line")).to_have_count(1)
    bag(store, 350)
    await expect(kiosk.locator(".bagging")).to_have_attribute("data-state", "ok")
    sold_before, cans_before = len(kiosk_sales(store)), await on_hand(store, "COKE330")
    terminal = store.app[CHECKOUT].payments
    calls_before = terminal.calls

    await kiosk.click(".pay-button")
    await expect(kiosk.locator("[data-screen=pay] .due")).to_have_text("¥3.00")
    await expect(kiosk.locator(".pay-code-hint")).to_contain_text("付款码")
    await scan(store, QR_DECLINE)  # the wallet says no
    declined = kiosk.locator(".pay-declined")
    await expect(declined).to_be_visible()
    await expect(declined.locator(".declined-title")).to_have_text("支付未成功")
    await expect(declined.locator(".declined-reason")).to_have_text(
        "您的银行或钱包拒绝了此次支付。"
    )
    await expect(declined.locator(".declined-help")).to_contain_text("未扣款")
    await expect(kiosk.locator(".tender[data-tender=card]")).to_be_enabled()
    await expect(kiosk.locator("[data-screen=pay]")).to_be_visible()
    assert terminal.calls == calls_before + 1
    assert len(kiosk_sales(store)) == sold_before  # nothing sold
    assert await on_hand(store, "COKE330") == cans_before
    await in_both_languages(kiosk, "declined")
    await expect(declined.locator(".declined-reason")).to_have_text(
        "您的银行或钱包拒绝了此次支付。"
    )

    # not a payment code: said so, nothing is tried
    await kiosk.keyboard.type("6901234567892", delay=5)
    await kiosk.keyboard.press("Enter")
    await expect(kiosk.locator(".toast")).to_contain_text("这不是付款码")
    assert terminal.calls == calls_before + 1

    # paying again with another code, from a USB scanner typing it: one sale
    await kiosk.keyboard.type(QR_APPROVE, delay=5)
    await kiosk.keyboard.press("Enter")
    await expect(kiosk.locator("[data-screen=receipt]")).to_be_visible()
    sales = kiosk_sales(store)
    assert len(sales) == sold_before + 1
    sale = sales[-1]
    assert (sale["total"], [(t["kind"], t["amount"]) for t in sale["tenders"]]) == (
        300,
        [("qr", 300)],
    )
    assert await on_hand(store, "COKE330") == cans_before - 1
    receipt = (await kiosk.locator(".receipt-no").inner_text()).strip()
    assert (await store.api("GET", f"/api/v1/receipts/{receipt}"))["id"] == sale["sale"]

    # the e-receipt's QR code, drawn from the receipt's token
    link = await kiosk.locator(".e-receipt-link").get_attribute("href") or ""
    token = re.fullmatch(r".*/r/([A-Za-z0-9_-]{16,64})", link)
    assert token is not None and token.group(1) == sale["token"]
    qr = kiosk.locator(".e-receipt-qr")
    await expect(qr).to_have_attribute("src", f"/r/{token.group(1)}/qr.svg")
    await expect(qr).to_have_js_property("complete", True)
    assert await qr.evaluate("img => img.naturalWidth") > 0
    drawn = await kiosk.request.get(f"{store.base}/r/{token.group(1)}/qr.svg")
    assert (drawn.status, drawn.headers["content-type"]) == (200, "image/svg+xml")
    by_id = await kiosk.request.get(f"{store.base}/api/v1/sales/{sale['sale']}/qr.svg")
    assert by_id.status == 403  # the kiosk role has no sale.read: the token is the only key
    await in_both_languages(kiosk, "receipt-qr")
    await kiosk.click("[data-action=done]")
    await expect(kiosk.locator("[data-screen=start]")).to_be_visible()
