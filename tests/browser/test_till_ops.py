"""The till's supervisor operations in Chromium, each checked through the API or the ledger.

A cashier changes a line's price with a supervisor's approval; takes a voucher and points as
tenders; puts cash in, takes cash out and opens the drawer without a sale (the drawer kicks);
types a weight while the scale is offline; and returns a sale in two goes, the till showing
what already came back and refusing more before the server would.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from typing import Any

from playwright.async_api import Page, expect

from edge.web.keys import LEDGER
from tests.browser.conftest import Pages, Store, shot
from tests.browser.test_till import COLA as COKE
from tests.browser.test_till import MILK, open_till, wedge

DRAWER_KICK = b"\x1bp\x00"  # ESC p 0: the printer pulses the drawer's pin 2


async def approve(page: Page, staff: str = "S01", pin: str = "2468") -> None:
    """A supervisor at the till types their id and PIN into the approval dialog."""
    approval = page.locator(".dlg-approval")
    await expect(approval).to_be_visible()
    await approval.locator("input[name=staff]").fill(staff)
    await approval.locator("input[name=pin]").fill(pin)
    await page.keyboard.press("Enter")
    await expect(approval).to_be_hidden()


async def pay_cash(page: Page, handed: str) -> str:
    """Pay the rest in cash (F8, the amount, Enter); return the receipt number shown."""
    await page.keyboard.press("F8")
    await page.locator(".dlg-pay input[name=amount]").fill(handed)
    await page.keyboard.press("Enter")
    done = page.locator(".dlg-done")
    await expect(done).to_be_visible()
    receipt = await done.locator(".receipt-no").inner_text()
    await page.keyboard.press("Enter")
    await expect(done).to_be_hidden()
    return receipt


def journal(store: Store, kind: str) -> list[dict[str, Any]]:
    """Return the data of every journal event of a type, oldest first."""
    conn = sqlite3.connect(str(store.app[LEDGER].path))
    try:
        rows = conn.execute("SELECT data FROM journal WHERE type = ? ORDER BY seq", (kind,))
        return [json.loads(row[0]) for row in rows.fetchall()]
    finally:
        conn.close()


async def english(page: Page) -> None:
    """Switch the till to English."""
    await page.select_option(".language", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.locator("#scan").focus()


async def test_a_supervisor_approves_a_price_override_on_a_line(store: Store, pages: Pages) -> None:
    page = await open_till(store, pages)
    await wedge(page, COKE)
    await wedge(page, MILK)
    rows = page.locator(".lines tr")
    await expect(rows).to_have_count(2)
    await rows.first.click()  # the cola line
    await page.locator("#scan").focus()
    await page.keyboard.press("F3")
    override = page.locator(".dlg-override")
    await expect(override.locator(".override-now")).to_contain_text("3.00")
    await override.locator("input[name=price]").fill("2")
    await page.keyboard.press("Enter")
    await expect(override.locator(".dlg-error")).to_have_text("请填写改价原因")
    await override.locator("input[name=reason]").fill("临期")
    await shot(page, "till-override-zh-CN")
    await page.keyboard.press("Enter")
    await approve(page)
    await expect(rows.first.locator(".discounts")).to_contain_text("改价: 临期 −¥1.00")
    await expect(page.locator(".total")).to_have_text(re.compile(r"11\.90"))
    # more of the same code is another line: the override stays on its own line
    await wedge(page, COKE)
    await expect(rows).to_have_count(3)
    await expect(page.locator(".total")).to_have_text(re.compile(r"14\.90"))
    receipt = await pay_cash(page, "20")
    sale = await store.api("GET", f"/api/v1/receipts/{receipt}")
    assert sale["total"] == 1490
    cola = sale["lines"][0]
    assert [(d["kind"], d["amount"], d.get("approved_by")) for d in cola["discounts"]] == [
        ("override", 100, "S01")
    ]
    assert [d["kind"] for d in sale["lines"][2]["discounts"]] == []
    approvals = journal(store, "auth.approved")
    assert approvals and approvals[-1]["permission"] == "price.override"

    await english(page)
    await wedge(page, MILK)
    await page.keyboard.press("F3")
    await expect(override.locator("h2")).to_have_text("Price override")
    await shot(page, "till-override-en")
    await page.keyboard.press("Escape")


async def test_a_voucher_and_points_pay_part_of_a_sale_once(store: Store, pages: Pages) -> None:
    pages.allow_http(404)  # an unknown voucher code
    issued = await store.api("POST", "/api/v1/vouchers", {"count": 1, "amount": 500})
    code = issued["vouchers"][0]["code"]
    member = await store.api("GET", "/api/v1/members/lookup?key=M0001")
    points_before = member["points"]
    assert points_before > 0  # earned on the demo's sale
    page = await open_till(store, pages)
    await page.keyboard.press("F4")
    await page.locator(".dlg-member input[name=key]").fill("13812348000")
    await page.keyboard.press("Enter")
    await expect(page.locator(".member-name")).to_have_text("王小明")
    await wedge(page, MILK)
    await expect(page.locator(".total")).to_have_text(re.compile(r"8\.90"))
    await page.keyboard.press("F8")
    pay = page.locator(".dlg-pay")
    await pay.locator("button[value=coupon]").click()
    voucher = pay.locator("input[name=voucher]")
    await expect(voucher).to_be_focused()
    await voucher.fill("NOSUCHCODE")
    await page.keyboard.press("Enter")
    await expect(pay.locator(".dlg-error")).to_have_text("没有该代金券")
    await voucher.fill(code.lower())
    await page.keyboard.press("Enter")
    await expect(pay.locator(".tenders li[data-kind=coupon]")).to_contain_text(code)
    await expect(pay.locator(".pay-remaining")).to_have_text(re.compile(r"3\.90"))
    redeem = min(points_before, 30)  # one point pays one fen in the demo
    await expect(pay.locator("button[value=points]")).to_be_visible()
    await pay.locator("input[name=amount]").fill(f"{redeem / 100:.2f}")
    await pay.locator("button[value=points]").click()
    await expect(pay.locator(".pay-remaining")).to_have_text(
        re.compile(rf"{(390 - redeem) / 100:.2f}")
    )
    await shot(page, "till-voucher-points-zh-CN")
    await pay.locator("input[name=amount]").fill("5")
    await page.keyboard.press("Enter")
    done = page.locator(".dlg-done")
    await expect(done).to_be_visible()
    receipt = await done.locator(".receipt-no").inner_text()
    sale = await store.api("GET", f"/api/v1/receipts/{receipt}")
    assert sorted((t["kind"], t["amount"]) for t in sale["tenders"]) == sorted(
        [("coupon", 500), ("points", redeem), ("cash", 390 - redeem)]
    )
    assert next(t for t in sale["tenders"] if t["kind"] == "coupon")["code"] == code
    assert (await store.api("GET", f"/api/v1/vouchers/{code}"))["used_by_sale"] == sale["id"]
    after = await store.api("GET", "/api/v1/members/lookup?key=M0001")
    assert after["points"] == points_before - redeem + sale["points"]["earned"]
    await page.keyboard.press("Enter")

    # the voucher does not pay twice
    await expect(done).to_be_hidden()
    await wedge(page, MILK)
    await expect(page.locator(".lines tr")).to_have_count(1)
    await page.keyboard.press("F8")
    await pay.locator("button[value=coupon]").click()
    await voucher.fill(code)
    await page.keyboard.press("Enter")
    await expect(pay.locator(".dlg-error")).to_have_text("该代金券已使用")
    await expect(pay.locator(".tenders li")).to_have_count(0)
    await english(page)
    await page.keyboard.press("F8")
    await pay.locator("button[value=coupon]").click()
    await expect(pay.locator(".voucher-row span")).to_have_text("Voucher code")
    await shot(page, "till-voucher-en")
    await page.keyboard.press("Escape")


async def kicks(store: Store) -> int:
    """Return how many drawer kicks the printer of T01 received."""
    return store.printer.data().count(DRAWER_KICK)


async def until_kicks(store: Store, count: int) -> None:
    """Wait (bounded) until the printer has received `count` drawer kicks."""
    for _ in range(100):
        if await kicks(store) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{await kicks(store)} drawer kicks, expected {count}")


async def test_cash_in_cash_out_and_no_sale_open_the_drawer(store: Store, pages: Pages) -> None:
    expected = (await store.api("GET", "/api/v1/reports/x?till=T01"))["drawers"]["T01"]["expected"]
    before = await kicks(store)
    page = await open_till(store, pages)
    await page.keyboard.press("F12")
    menu = page.locator(".dlg-tillmenu")
    await menu.locator("button[value=cash_in]").click()
    await expect(menu.locator("input[name=cash]")).to_be_focused()
    await page.keyboard.type("50")
    await menu.locator("input[name=reason]").fill("")
    await menu.locator("input[name=reason]").press("Enter")
    await expect(menu.locator(".dlg-error")).to_have_text("请填写原因")
    await menu.locator("input[name=reason]").fill("补充零钱")
    await page.keyboard.press("Enter")
    await approve(page)
    await expect(menu.locator(".cash-done")).to_have_text(re.compile(r"已存入 ¥50\.00 · 补充零钱"))
    await expect(menu.locator(".report .muted")).to_have_text("钱箱已打开")
    await shot(page, "till-cash-in-zh-CN")
    await until_kicks(store, before + 1)

    await menu.locator("button[value=cash_out]").click()
    await menu.locator("input[name=cash]").fill("120")
    await menu.locator("input[name=reason]").fill("存入保险柜")
    await page.keyboard.press("Enter")
    await approve(page)
    await expect(menu.locator(".cash-done")).to_contain_text("已取出 ¥120.00")
    await until_kicks(store, before + 2)

    await menu.locator("button[value=nosale]").click()
    await expect(menu.locator("input[name=cash]")).to_be_hidden()
    await menu.locator("input[name=reason]").fill("顾客换零钱")
    await page.keyboard.press("Enter")
    await approve(page)
    await expect(menu.locator(".cash-done")).to_contain_text("已无销售开钱箱")
    await until_kicks(store, before + 3)
    drawer = (await store.api("GET", "/api/v1/reports/x?till=T01"))["drawers"]["T01"]
    assert drawer["expected"] == expected + 5000 - 12000
    moved = journal(store, "cash.moved")
    assert [(m["direction"], m["amount"], m["reason"]) for m in moved[-2:]] == [
        ("in", 5000, "补充零钱"),
        ("out", 12000, "存入保险柜"),
    ]
    assert journal(store, "drawer.opened")[-1]["reason"] == "顾客换零钱"
    await page.keyboard.press("Escape")
    await english(page)
    await page.keyboard.press("F12")
    await menu.locator("button[value=cash_out]").click()
    await expect(menu.locator(".tillmenu-label")).to_have_text("Cash taken out")
    await shot(page, "till-cash-menu-en")
    await page.keyboard.press("Escape")


async def test_a_weight_is_typed_while_the_scale_is_offline(store: Store, pages: Pages) -> None:
    page = await open_till(store, pages)
    store.devices["scale"].set_weight(0)
    await expect(page.locator(".weight")).to_contain_text("秤")
    store.devices["scale"].silent(True)  # the scale stops answering its driver
    await expect(page.locator(".weight")).to_contain_text("故障 timeout", timeout=15_000)
    await wedge(page, "4011")
    weigh = page.locator(".dlg-weigh")
    await expect(weigh.locator(".weigh-offline")).to_contain_text("本台电子秤离线")
    grams = weigh.locator("input[name=grams]")
    await expect(grams).to_be_focused()
    await expect(weigh.locator(".weigh-ok")).to_be_disabled()
    await page.keyboard.type("750")
    await expect(weigh.locator(".weigh-ok")).to_be_enabled()
    await shot(page, "till-weigh-manual-zh-CN")
    await page.keyboard.press("Enter")
    rows = page.locator(".lines tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("0.750 kg")
    await expect(page.locator(".total")).to_have_text(re.compile(r"9\.60"))
    receipt = await pay_cash(page, "10")
    sale = await store.api("GET", f"/api/v1/receipts/{receipt}")
    assert [(line["product"], line["grams"], line["amount"]) for line in sale["lines"]] == [
        ("APPLE", 750, 960)
    ]

    # the scale answers again: its reading is used, nothing is typed
    store.devices["scale"].silent(False)
    store.devices["scale"].set_weight(400)
    await expect(page.locator(".weight")).to_contain_text("0.400", timeout=15_000)
    await english(page)
    await wedge(page, "4011")
    await expect(weigh.locator(".weigh-manual")).to_be_hidden()
    await expect(weigh.locator(".weigh-reading")).to_contain_text("0.400")
    await shot(page, "till-weigh-en")
    await page.keyboard.press("Enter")
    await expect(rows.first).to_contain_text("0.400 kg")


async def test_a_return_shows_what_came_back_and_refuses_more(store: Store, pages: Pages) -> None:
    page = await open_till(store, pages)
    await wedge(page, "3*" + COKE)
    await expect(page.locator(".lines .qty")).to_have_text("3")
    receipt = await pay_cash(page, "10")
    sale = await store.api("GET", f"/api/v1/receipts/{receipt}")
    paid = sale["lines"][0]["amount"]  # 3 drinks for 8.00: refunds are shared out exactly
    first, rest = (paid + 1) // 3, paid - (paid + 1) // 3
    returns = page.locator(".dlg-return")

    async def find() -> None:
        await page.keyboard.press("F9")
        await returns.locator("input[name=receipt]").fill(receipt)
        await page.keyboard.press("Enter")
        await expect(returns.locator(".return-lines tr")).to_have_count(1)

    await find()
    await expect(returns.locator(".return-lines .returned")).to_have_text("–")
    await returns.locator("input[name=back-0]").fill("1")
    await returns.locator("button[value=submit]").click()
    await approve(page)
    await expect(returns.locator(".return-result")).to_contain_text(f"{first / 100:.2f}")
    await expect(returns.locator(".return-lines .returned")).to_have_text("1")
    await page.keyboard.press("Escape")

    await find()
    line = returns.locator(".return-lines tr").first
    await expect(line.locator(".returned")).to_have_text("1")
    await expect(line.locator(".left")).to_have_text("最多 2")
    await returns.locator("input[name=back-0]").fill("3")
    await expect(returns.locator(".dlg-error")).to_have_text("可口可乐 330ml：最多还能退 2")
    await shot(page, "till-return-left-zh-CN")
    recorded = len(journal(store, "sale.returned"))
    await returns.locator("button[value=submit]").click()
    await expect(page.locator(".dlg-approval")).to_be_hidden()  # refused before asking anyone
    await expect(returns.locator("input[name=back-0]")).to_have_attribute("aria-invalid", "")
    assert len(journal(store, "sale.returned")) == recorded
    await returns.locator("input[name=back-0]").fill("2")
    await returns.locator("button[value=submit]").click()
    await approve(page)
    await expect(returns.locator(".return-result")).to_contain_text(f"{rest / 100:.2f}")
    back = await store.api("GET", f"/api/v1/sales/{sale['id']}/returns")
    assert [(x["returned_quantity"], x["left"]) for x in back["lines"]] == [(3, 0)]
    await page.keyboard.press("Escape")

    await english(page)
    await find()
    await expect(line.locator(".left")).to_have_text("all returned")
    await expect(returns.locator("input[name=back-0]")).to_be_disabled()
    await shot(page, "till-return-left-en")
    await page.keyboard.press("Escape")
