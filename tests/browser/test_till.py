"""The web till: a cashier sells with a wedge scanner, the MQTT scanner and the scale, applies a
member, pays cash + card, gets the printed receipt; then returns part of the sale."""

from __future__ import annotations

import asyncio
import re
import time

from playwright.async_api import Page, expect

from drivers.sim import escpos_reader
from tests.browser.conftest import TILL_SIZE, Pages, Store, shot, sign_in

COLA = "6901234567892"
MILK = "6901234567816"
APPLE_PLU = "4011"


async def open_till(store: Store, pages: Pages) -> Page:
    """Open /till as T01 with the cashier C01 signed in and the live channel up."""
    page = await pages.open(f"{store.base}/till", TILL_SIZE)
    await sign_in(page, store, "T01", "C01", "1470")
    await expect(page.locator(".live")).to_have_class(re.compile(r"\bok\b"))
    await expect(page.locator("#scan")).to_be_focused()
    return page


async def wedge(page: Page, code: str) -> None:
    """Type a code into the focused scan field the way a keyboard-wedge scanner does."""
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")


async def sell_three_items(store: Store, page: Page) -> None:
    """Scan cola by wedge, milk on the MQTT scanner, and weigh 500 g of apples."""
    rows = page.locator(".lines tr")
    await wedge(page, COLA)
    await expect(rows).to_have_count(1)
    await asyncio.to_thread(store.devices["scanner"].scan, MILK)
    await expect(rows).to_have_count(2)
    await wedge(page, APPLE_PLU)
    weigh = page.locator(".dlg-weigh")
    await expect(weigh).to_be_visible()
    store.devices["scale"].set_weight(500)
    await expect(weigh.locator(".weigh-reading")).to_contain_text("0.500")
    await expect(weigh.locator(".weigh-ok")).to_be_enabled()
    await page.keyboard.press("Enter")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(2)).to_contain_text("0.500 kg")


async def test_a_cashier_sells_pays_split_and_returns_part(store: Store, pages: Pages) -> None:
    page = await open_till(store, pages)
    await sell_three_items(store, page)
    # list prices: 3.00 + 9.90 + 0.5 kg × 12.80
    await expect(page.locator(".total")).to_have_text(re.compile(r"19\.30"))

    await page.keyboard.press("F4")
    await page.locator(".dlg-member input[name=key]").fill("13812348000")
    await page.keyboard.press("Enter")
    await expect(page.locator(".member-name")).to_have_text("王小明")
    # member prices: 2.80 + 8.90 + 0.5 kg × 11.80 = 17.60, each explained on its line
    await expect(page.locator(".total")).to_have_text(re.compile(r"17\.60"))
    await expect(page.locator(".lines .discounts").first).to_contain_text("会员价")
    await expect(page.locator(".lines .discounts")).to_have_count(3)
    await shot(page, "till-basket-zh-CN")

    # 10.00 by card, then 10.00 cash handed over for the 7.60 left: 2.40 change
    await page.keyboard.press("F8")
    pay = page.locator(".dlg-pay")
    await expect(pay.locator(".pay-total")).to_have_text(re.compile(r"17\.60"))
    await pay.locator("input[name=amount]").fill("10")
    await pay.locator("button[value=card]").click()
    await expect(pay.locator(".pay-remaining")).to_have_text(re.compile(r"7\.60"))
    await pay.locator("input[name=amount]").fill("10")
    await shot(page, "till-payment-zh-CN")
    await page.keyboard.press("Enter")

    done = page.locator(".dlg-done")
    await expect(done).to_be_visible()
    await expect(done.locator(".change")).to_have_text(re.compile(r"2\.40"))
    receipt = await done.locator(".receipt-no").inner_text()
    assert re.fullmatch(r"DEMO-001-\d{8}", receipt), receipt
    await expect(done.locator(".print-state")).to_have_text("已打印")
    qr = done.locator(".qr-img")
    await expect(qr).to_have_js_property("complete", True)
    assert await qr.evaluate("img => img.naturalWidth") > 0
    await shot(page, "till-done-zh-CN")

    # the printer got the receipt: its number and total are in the printed lines
    data = await asyncio.to_thread(store.printer.wait_data, receipt.encode(), 10)
    printed = next(job for job in store.printer.jobs() if receipt.encode() in job)
    text = "\n".join(escpos_reader.lines(escpos_reader.read(printed)))
    assert receipt in text and "17.60" in text, text
    assert data

    # the ledger has the same sale
    sale = await store.api("GET", f"/api/v1/receipts/{receipt}")
    assert sale["total"] == 1760 and sale["change"] == 240 and sale["member"] == "M0001"
    assert sale["till"] == "T01" and sale["staff"] == "C01"
    # the till made the sale's id: a UUID version 7 of about now (it sorts after earlier ones)
    made = int(sale["id"].replace("-", "")[:12], 16) / 1000
    assert sale["id"][14] == "7" and sale["id"][19] in "89ab", sale["id"]
    assert abs(made - time.time()) < 600, sale["id"]
    assert [(line["product"], line["quantity"], line["grams"]) for line in sale["lines"]] == [
        ("COKE330", 1, None),
        ("MILK1L", 1, None),
        ("APPLE", 1, 500),
    ]
    assert sorted((t["kind"], t["amount"]) for t in sale["tenders"]) == [
        ("card", 1000),
        ("cash", 760),
    ]
    await page.keyboard.press("Enter")
    await expect(done).to_be_hidden()
    await expect(page.locator(".lines tr")).to_have_count(0)

    # return the milk: the cashier lacks sale.return, so a supervisor approves
    await page.keyboard.press("F9")
    returns = page.locator(".dlg-return")
    await returns.locator("input[name=receipt]").fill(receipt)
    await page.keyboard.press("Enter")
    await expect(returns.locator(".return-lines tr")).to_have_count(3)
    await returns.locator("input[name=back-1]").fill("1")
    await returns.locator("input[name=reason]").fill("破损")
    await shot(page, "till-return-zh-CN")
    await returns.locator("button[value=submit]").click()
    approval = page.locator(".dlg-approval")
    await expect(approval).to_be_visible()
    await approval.locator("input[name=staff]").fill("S01")
    await approval.locator("input[name=pin]").fill("2468")
    await page.keyboard.press("Enter")
    await expect(returns.locator(".return-result")).to_contain_text("8.90")
    await shot(page, "till-return-done-zh-CN")
    report = await store.api("GET", "/api/v1/reports/x?till=T01")
    assert (report["returns"], report["returned"]) == (1, 890)
    await page.keyboard.press("Escape")
    await expect(returns).to_be_hidden()
    await expect(page.locator("#scan")).to_be_focused()

    # the same screens in English
    await page.select_option(".language", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.locator("#scan").focus()
    await wedge(page, COLA)
    await wedge(page, "2*" + MILK)
    await expect(page.locator(".lines tr")).to_have_count(2)
    await expect(page.locator(".lines tr").nth(1)).to_contain_text("Whole milk 1L")
    await expect(page.locator(".total")).to_have_text(re.compile(r"22\.80"))
    await shot(page, "till-basket-en")
    await page.keyboard.press("F8")
    await expect(pay.locator(".pay-total")).to_have_text(re.compile(r"22\.80"))
    await pay.locator("input[name=amount]").fill("50")
    await shot(page, "till-payment-en")
    await page.keyboard.press("Enter")
    await expect(done.locator(".change")).to_have_text(re.compile(r"27\.20"))
    await expect(done.locator(".print-state")).to_have_text("Printed")
    await shot(page, "till-done-en")
    await page.keyboard.press("Enter")
    await page.keyboard.press("F9")
    await returns.locator("input[name=receipt]").fill(receipt)
    await page.keyboard.press("Enter")
    await expect(returns.locator(".return-lines tr")).to_have_count(3)
    await expect(returns.locator(".return-head")).to_contain_text("Receipt")
    await shot(page, "till-return-en")
    await page.keyboard.press("Escape")


async def test_search_discount_suspend_resume_x_and_blind_close(store: Store, pages: Pages) -> None:
    page = await open_till(store, pages)
    rows = page.locator(".lines tr")
    # F2: search by name, Enter takes the first product found
    await page.keyboard.press("F2")
    await page.locator(".dlg-search input").fill("milk")
    await expect(page.locator(".dlg-search .results li")).to_have_count(1)
    await page.keyboard.press("Enter")
    await expect(rows).to_have_count(1)
    await page.keyboard.press("+")
    await expect(rows.first.locator(".qty")).to_have_text("2")
    await expect(page.locator(".total")).to_have_text(re.compile(r"19\.80"))
    # F7: the welcome coupon (10 off 30) is kept but not met by 19.80
    await page.keyboard.press("F7")
    await page.locator(".dlg-coupon input[name=code]").fill("welcome10")
    await page.keyboard.press("Enter")
    await expect(page.locator(".coupons")).to_contain_text("WELCOME10 未满足条件")
    await expect(page.locator(".total")).to_have_text(re.compile(r"19\.80"))

    # F6: 10 % off the basket; the cashier lacks discount.manual, a supervisor approves
    await page.keyboard.press("F6")
    discount = page.locator(".dlg-discount")
    await discount.locator("input[name=value]").fill("10")
    await discount.locator("input[name=reason]").fill("老顾客")
    await page.keyboard.press("Enter")
    approval = page.locator(".dlg-approval")
    await approval.locator("input[name=staff]").fill("S01")
    await approval.locator("input[name=pin]").fill("2468")
    await page.keyboard.press("Enter")
    await expect(page.locator(".total")).to_have_text(re.compile(r"17\.82"))

    # F10 parks the basket, F11 brings it back
    await page.keyboard.press("F10")
    await expect(rows).to_have_count(0)
    await page.keyboard.press("F11")
    await page.locator(".dlg-suspended .parked button").first.click()
    await expect(rows).to_have_count(1)
    await expect(page.locator(".total")).to_have_text(re.compile(r"17\.82"))

    # the approval stays with the till only in memory: paying the resumed basket asks again
    await page.keyboard.press("F8")
    await approval.locator("input[name=staff]").fill("S01")
    await approval.locator("input[name=pin]").fill("2468")
    await page.keyboard.press("Enter")
    await page.locator(".dlg-pay input[name=amount]").fill("20")
    await page.keyboard.press("Enter")
    done = page.locator(".dlg-done")
    await expect(done.locator(".change")).to_have_text(re.compile(r"2\.18"))
    receipt = await done.locator(".receipt-no").inner_text()
    await page.keyboard.press("Enter")
    sale = await store.api("GET", f"/api/v1/receipts/{receipt}")
    assert sale["total"] == 1782
    assert [(d["kind"], d["amount"], d["name_zh"]) for d in sale["basket_discounts"]] == [
        ("manual", 198, "手工折扣: 老顾客")
    ], sale

    # F12: the X report (a supervisor approves), then the blind close
    await page.keyboard.press("F12")
    menu = page.locator(".dlg-tillmenu")
    await menu.locator("button[value=x]").click()
    await approval.locator("input[name=staff]").fill("S01")
    await approval.locator("input[name=pin]").fill("2468")
    await page.keyboard.press("Enter")
    x = await store.api("GET", "/api/v1/reports/x?till=T01")
    await expect(menu.locator(".report")).to_contain_text(f"{x['net_sales'] / 100:.2f}")
    await shot(page, "till-x-report-zh-CN")
    await menu.locator("button[value=close]").click()
    await menu.locator("input[name=cash]").fill("200")
    await page.keyboard.press("Enter")
    await expect(menu.locator(".report")).to_contain_text("长短款")
    report = await store.api("GET", "/api/v1/reports/x")
    assert report["drawers"]["T01"]["counted"] == 20000
