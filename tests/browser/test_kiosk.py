"""The self-checkout kiosk and its attendant screen in Chromium against the demo store.

A shopper at kiosk-01 scans with the kiosk's scanner, weighs apples on the kiosk's scale,
puts something unexpected in the bagging area, waits for the attendant (a second browser at
/attendant) to approve, then pays by card; the sale is in the ledger and the kiosk goes back
to its start screen when left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from playwright.async_api import Page, expect

from edge.domain.errors import Conflict
from edge.services.catalog import Actor
from edge.web.keys import DAYS
from tests.browser.conftest import KIOSK_SIZE, TILL_SIZE, Pages, Store, shot, sign_in

COKE = "6901234567892"  # 350 g a can in the demo catalog
BEER = "6901234567830"  # age restricted, 800 g
SETTINGS = "idle=12&grace=1500"


async def open_kiosk(store: Store) -> None:
    """A member of staff opens kiosk-01 for trading (float 0: it takes no cash)."""
    with contextlib.suppress(Conflict):
        await store.app[DAYS].open_till(Actor(staff="C01", till="kiosk-01"), 0)


async def kiosk_page(store: Store, pages: Pages) -> Page:
    """Open /kiosk at the kiosk's screen size and pair it as kiosk-01."""
    page = await pages.open(f"{store.base}/kiosk?{SETTINGS}", KIOSK_SIZE)
    await sign_in(page, store, "kiosk-01", "", "")
    await expect(page.locator("[data-screen=start]")).to_be_visible()
    await expect(page.locator(".live")).to_have_class("live badge ok")
    return page


async def scan(store: Store, code: str) -> None:
    """The kiosk's scanner reads a code (serial simulator → gateway → MQTT → server)."""
    await asyncio.to_thread(store.devices["kiosk_scanner"].scan, code)


def bag(store: Store, grams: int) -> None:
    """What the kiosk's bagging scale now carries."""
    store.devices["kiosk_scale"].set_weight(grams)


async def both_languages(page: Page, name: str) -> None:
    """Screenshot the page in Chinese and in English, and come back to Chinese."""
    await page.select_option(".language", "zh-CN")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await shot(page, f"kiosk-{name}-zh-CN")
    await page.select_option(".language", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await shot(page, f"kiosk-{name}-en")
    await page.select_option(".language", "zh-CN")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


async def test_a_shopper_checks_out_with_an_attendant_approving_the_bag(
    store: Store, pages: Pages
) -> None:
    await open_kiosk(store)
    bag(store, 0)
    kiosk = await kiosk_page(store, pages)
    # the start screen, with its own language buttons
    await kiosk.click(".lang[data-locale=en]")
    await expect(kiosk.locator(".start-button")).to_have_text("Tap to start")
    await kiosk.click(".lang[data-locale=zh-CN]")
    await expect(kiosk.locator(".start-button")).to_have_text("轻触开始")
    await both_languages(kiosk, "start")
    await kiosk.click(".start-button")
    await expect(kiosk.locator("[data-screen=shop]")).to_be_visible()

    # a can of cola from the kiosk's scanner, then into the bag
    await scan(store, COKE)
    lines = kiosk.locator(".lines .line")
    await expect(lines).to_have_count(1)
    await expect(lines.first).to_contain_text("可口可乐")
    bag(store, 350)
    await expect(kiosk.locator(".bagging")).to_have_attribute("data-state", "ok")
    await expect(kiosk.locator(".total")).to_have_text("¥3.00")

    # apples weighed on the kiosk's scale through the PLU picker
    await kiosk.click("[data-action=weigh]")
    tile = kiosk.locator(".tile", has_text="富士苹果")
    await expect(tile).to_be_visible()
    await tile.click()
    await expect(kiosk.locator(".weigh-name")).to_have_text("富士苹果")
    bag(store, 350 + 1250)
    await expect(kiosk.locator(".weigh-grams")).to_have_text("1.250 kg")
    await kiosk.click("[data-action=weigh-add]")
    await expect(lines).to_have_count(2)
    await expect(lines.nth(1)).to_contain_text("1.250 kg")
    await expect(kiosk.locator(".total")).to_have_text("¥19.00")  # 3.00 + 1.25 kg × 12.80
    await expect(kiosk.locator(".bagging")).to_have_attribute("data-state", "ok")
    await expect(kiosk.locator(".pay-button")).to_be_enabled()
    await both_languages(kiosk, "basket")

    # something unscanned lands in the bag: the kiosk stops and calls an attendant
    bag(store, 350 + 1250 + 400)
    blocked = kiosk.locator("[data-overlay=blocked]")
    await expect(blocked).to_be_visible()
    await expect(blocked).to_have_attribute("data-reason", "weight_mismatch")
    await expect(kiosk.locator(".blocked-title")).to_have_text("装袋区重量不符")
    await expect(kiosk.locator(".pay-button")).to_be_disabled()
    await both_languages(kiosk, "call")

    # the attendant sees the call live on a second screen and approves it
    attendant = await pages.open(f"{store.base}/attendant", TILL_SIZE)
    await sign_in(attendant, store, "T02", "C01", "1470")
    card = attendant.locator(".kiosk-card[data-kiosk=kiosk-01]")
    await expect(card.locator(".call-reason")).to_have_text("重量不符")
    await expect(card.locator(".bagging")).to_have_class("bagging bad")
    await shot(attendant, "kiosk-attendant-zh-CN")
    await attendant.select_option(".language", "en")
    await expect(card.locator(".call-reason")).to_have_text("Weight mismatch")
    await shot(attendant, "kiosk-attendant-en")
    await card.locator("button.approve").click()
    await expect(card.locator(".call")).to_have_count(0)
    await expect(card.locator(".no-calls")).to_be_visible()

    # the kiosk carries on with the bag as the attendant accepted it, and the shopper pays
    await expect(blocked).to_be_hidden()
    await expect(kiosk.locator(".bagging")).to_have_attribute("data-state", "ok")
    await expect(card.locator(".bagging")).to_have_class("bagging ok")
    await kiosk.click(".pay-button")
    await expect(kiosk.locator("[data-screen=pay] .due")).to_have_text("¥19.00")
    await kiosk.click(".tender[data-tender=card]")
    await expect(kiosk.locator("[data-screen=receipt]")).to_be_visible()
    receipt = (await kiosk.locator(".receipt-no").inner_text()).strip()
    assert receipt.startswith("DEMO-001-")
    link = kiosk.locator(".e-receipt-link")
    assert "/r/" in (await link.get_attribute("href") or "")
    await both_languages(kiosk, "receipt")

    sale: dict[str, Any] = await store.api("GET", f"/api/v1/receipts/{receipt}")
    assert sale["till"] == "kiosk-01"
    assert sale["total"] == 1900
    assert [(line["product"], line["quantity"], line["grams"]) for line in sale["lines"]] == [
        ("COKE330", 1, None),
        ("APPLE", 1, 1250),
    ]
    assert [t["kind"] for t in sale["tenders"]] == ["card"]
    e_receipt = await kiosk.request.get(await link.get_attribute("href") or "")
    assert e_receipt.status == 200

    # left alone, the kiosk goes back to its start screen for the next shopper
    await expect(kiosk.locator("[data-screen=start]")).to_be_visible(timeout=25_000)
    await expect(kiosk.locator(".lines .line")).to_have_count(0)


async def test_age_restricted_items_and_voids_wait_for_the_attendant(
    store: Store, pages: Pages
) -> None:
    await open_kiosk(store)
    bag(store, 0)
    kiosk = await kiosk_page(store, pages)
    await kiosk.click(".start-button")
    await scan(store, BEER)
    blocked = kiosk.locator("[data-overlay=blocked]")
    await expect(blocked).to_have_attribute("data-reason", "age_restricted")
    await expect(blocked).to_be_visible()
    bag(store, 800)
    calls = await store.api("GET", "/api/v1/kiosks")
    shown = {k["kiosk"]: k for k in calls["kiosks"]}["kiosk-01"]
    assert [c["reason"] for c in shown["calls"]] == ["age_check"]
    approved = await store.api(
        "POST", f"/api/v1/kiosks/kiosk-01/calls/{shown['calls'][0]['id']}/approve"
    )
    assert approved["kiosk"] == "kiosk-01"
    await expect(blocked).to_be_hidden()
    await expect(kiosk.locator(".bagging")).to_have_attribute("data-state", "ok")
    # a typed code (or a keyboard-wedge scanner) adds a second beer: no second age check
    await kiosk.fill(".code-input", BEER)
    await kiosk.press(".code-input", "Enter")
    await expect(kiosk.locator(".lines .line")).to_contain_text("× 2")
    await expect(blocked).to_be_hidden()
    bag(store, 1600)
    await expect(kiosk.locator(".bagging")).to_have_attribute("data-state", "ok")
    # taking one off the basket needs an attendant too
    await kiosk.click(".line-void")
    await expect(blocked).to_have_attribute("data-reason", "void")
    calls = await store.api("GET", "/api/v1/kiosks/kiosk-01/calls")
    assert [c["reason"] for c in calls["calls"]] == ["void"]
    await store.api("POST", f"/api/v1/kiosks/kiosk-01/calls/{calls['calls'][0]['id']}/approve")
    await expect(blocked).to_be_hidden()
    await expect(kiosk.locator(".lines .line")).to_contain_text("× 1")
    bag(store, 800)
    await expect(kiosk.locator(".bagging")).to_have_attribute("data-state", "ok")
    await expect(kiosk.locator(".total")).to_have_text("¥7.50")
