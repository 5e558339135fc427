"""The back office in Chromium: a manager's dashboard, hourly report and CSV; a cashier's menu."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from datetime import datetime
from pathlib import Path

from playwright.async_api import Page, expect

from edge.web.keys import LEDGER, SETTINGS
from tests.browser.conftest import ADMIN_SIZE, Pages, Store, shot, sign_in


def ledger_hours(store: Store, day: str) -> dict[int, tuple[int, int]]:
    """Per local hour of `day`: (tickets, net) straight from the journal's events."""
    tz = store.app[SETTINGS].tz
    conn = sqlite3.connect(str(store.app[LEDGER].path))
    try:
        rows = conn.execute(
            "SELECT type, ts, data FROM journal WHERE type IN ('sale.completed', 'sale.returned')"
        ).fetchall()
    finally:
        conn.close()
    hours: dict[int, tuple[int, int]] = {}
    for kind, ts, text in rows:
        at = datetime.fromisoformat(ts).astimezone(tz)
        if at.date().isoformat() != day:
            continue
        data = json.loads(text)
        tickets, net = hours.get(at.hour, (0, 0))
        if kind == "sale.completed":
            hours[at.hour] = (tickets + 1, net + data["total"])
        else:
            hours[at.hour] = (tickets, net - (data["amount"] - data["rounding"]))
    return hours


async def open_screen(page: Page, nav: str, screen: str) -> None:
    await page.click(f"nav [data-nav='{nav}']")
    await expect(page.locator(f"[data-screen='{screen}']")).to_be_visible()


async def test_a_manager_sees_the_dashboard_reports_devices_and_exports_csv(
    store: Store, pages: Pages
) -> None:
    page = await pages.open(f"{store.base}/admin", ADMIN_SIZE)
    await sign_in(page, store, "OFFICE", "M01", "1357")
    board = await store.api("GET", "/api/v1/reports/dashboard")
    assert board["sales"] >= 3  # the demo's sales
    await expect(page.locator("[data-screen=dashboard]")).to_be_visible()
    await expect(page.locator("[data-tile=sales] strong")).to_have_text(str(board["sales"]))
    await expect(page.locator("[data-screen=dashboard] svg.chart rect.bar")).to_have_count(24)
    await expect(page.locator("[data-screen=dashboard] tbody tr")).to_have_count(len(board["top"]))
    await expect(page.locator(".live.ok")).to_be_visible()
    await shot(page, "admin-dashboard-zh-CN")

    # the hourly report for today, and its CSV against the ledger
    await open_screen(page, "report/hourly", "report")
    today = board["date"]
    report = page.locator("[data-report=hourly]")
    await expect(report).to_have_attribute("data-loaded", f"{today}..{today}")
    await expect(report.locator("tbody tr")).to_have_count(24)
    await shot(page, "admin-hourly-zh-CN")
    async with page.expect_download() as info:
        await page.click("[data-report=hourly] .export")
    download = await info.value
    assert download.suggested_filename == f"hourly-{today}-{today}.csv"
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == 24
    from_csv = {
        int(line["hour"]): (int(line["sales"]), int(line["net"]))
        for line in lines
        if line["sales"] != "0" or line["returns"] != "0"
    }
    assert from_csv == ledger_hours(store, today)
    assert sum(n for _, n in from_csv.values()) == board["net"]

    # managers see the manager-only reports
    await expect(page.locator("nav [data-nav='report/margin']")).to_be_visible()

    await open_screen(page, "devices", "devices")
    printer = page.locator("[data-screen=devices] tr[data-device='printer-01']")
    await expect(printer.locator("[data-col=state]")).to_have_text("在线")
    await shot(page, "admin-devices-zh-CN")

    await page.select_option(".language", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(printer.locator("[data-col=state]")).to_have_text("online")
    await shot(page, "admin-devices-en")
    await open_screen(page, "report/hourly", "report")
    await expect(page.locator("[data-report=hourly] h1")).to_have_text("Sales by hour")
    await expect(page.locator("[data-report=hourly] tbody tr")).to_have_count(24)
    await shot(page, "admin-hourly-en")
    await open_screen(page, "dashboard", "dashboard")
    await expect(page.locator("[data-tile=sales] span")).to_have_text("Tickets")
    await shot(page, "admin-dashboard-en")


async def test_a_cashier_does_not_see_manager_reports(store: Store, pages: Pages) -> None:
    page = await pages.open(f"{store.base}/admin", ADMIN_SIZE)
    await sign_in(page, store, "OFFICE2", "C01", "1470")
    await expect(page.locator("[data-screen=devices]")).to_be_visible()
    await expect(page.locator("nav [data-nav='devices']")).to_be_visible()
    await expect(page.locator("nav [data-nav^='report/']")).to_have_count(1)  # near expiry
    await expect(page.locator("nav [data-nav='report/near-expiry']")).to_be_visible()
    for hidden in ("dashboard", "report/margin", "report/daily", "staff", "expenses"):
        await expect(page.locator(f"nav [data-nav='{hidden}']")).to_have_count(0)
    # asking for a manager's screen by address falls back to what the role may use
    await page.goto(f"{store.base}/admin#report/margin")
    await page.reload()
    await expect(page.locator("[data-screen=devices]")).to_be_visible()


async def test_every_screen_a_manager_may_use_opens_without_an_error(
    store: Store, pages: Pages
) -> None:
    page = await pages.open(f"{store.base}/admin", ADMIN_SIZE)
    await sign_in(page, store, "OFFICE", "M01", "1357")
    await expect(page.locator("[data-screen=dashboard]")).to_be_visible()
    links = [await a.get_attribute("data-nav") for a in await page.locator("nav a").all()]
    assert len(links) >= 20
    for nav in links:
        await page.click(f"nav [data-nav='{nav}']")
        await expect(page.locator("nav a.current")).to_have_attribute("data-nav", nav)
        await expect(page.locator("#main section.screen")).to_be_visible()
    await page.click("nav [data-nav='products']")
    await expect(page.locator("[data-screen=products] tbody tr").first).to_be_visible()
    await page.click("nav [data-nav='hq']")
    await expect(page.locator("[data-hq=state]")).to_have_text("未配置")
