"""The back office's HQ link screen and its stored-value top-up, in Chromium.

Without HQ the screen says the link is off and why. With a link to an HQ that refuses every
batch (422), the screen shows the stopped link, its backlog and the refusal; a supervisor sees
no resume button; the manager presses it once HQ is fixed and the server's link leaves the
stopped state and catches up. A manager tops a member up by card from the members screen: a
declined card adds nothing, an answer lost on the way is retried as the same top-up, and the
balance shown is the ledger's.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, Route, expect

from edge.app import create_app
from edge.bus.bus import Bus
from edge.demo import make_demo_sales, prepare_demo
from edge.services.payments import APPROVE_CARD, DECLINE_CARD
from edge.settings import HqSettings
from edge.web.keys import BUS, LEDGER, UPLINK
from tests.browser.conftest import ADMIN_SIZE, Pages, Store, shot, sign_in

HQ_KEY = "a-store-key-that-is-long-enough"
REFUSAL = {"error": {"code": "chain_broken", "message": "seq 1 must follow the genesis hash"}}


@dataclass
class FakeHq:
    """An HQ that refuses every batch until told to accept them (then acks each one)."""

    accept: bool = False
    refused: int = 0
    acked: int = 0

    async def batches(self, request: web.Request) -> web.Response:
        """Answer a batch: 422 while refusing, else HQ's head after it."""
        body = await request.read()
        if not self.accept:
            self.refused += 1
            return web.json_response(REFUSAL, status=422)
        batch = json.loads(gzip.decompress(body))
        self.acked = int(batch["last_seq"])
        return web.json_response({"acked_seq": self.acked})

    async def catalog(self, _request: web.Request) -> web.Response:
        """Have no catalog changes for the store."""
        return web.json_response({"error": {"code": "not_found", "message": "none"}}, status=404)

    def app(self) -> web.Application:
        """Return HQ's web application."""
        app = web.Application()
        app.router.add_post("/v1/stores/{store}/batches", self.batches)
        app.router.add_get("/v1/stores/{store}/catalog", self.catalog)
        return app


@dataclass
class LinkedStore:
    """A demo store whose HQ link goes to a fake HQ."""

    store: Store
    hq: FakeHq

    def status(self) -> dict[str, Any]:
        """Return the server's HQ link status."""
        status: dict[str, Any] = self.store.app[UPLINK].status()
        return status


@pytest.fixture
async def linked(tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[LinkedStore]:
    """Serve the demo store (no simulated devices) with its HQ link to a refusing HQ."""
    hq = FakeHq()
    hq_server: TestServer = await aiohttp_server(hq.app(), auto_decompress=False)
    demo = await prepare_demo(tmp_path / "demo", "127.0.0.1", 0)
    link = HqSettings(
        url=str(hq_server.make_url("")).rstrip("/"),
        timeout_s=1,
        backoff_max_s=1,
        idle_s=1,
        catalog_interval_s=0,
    )
    settings = replace(
        demo.settings, hq=link, secrets=replace(demo.settings.secrets, hq_key=HQ_KEY)
    )
    app = create_app(settings)
    server = await aiohttp_server(app)
    bus = app[BUS]
    assert isinstance(bus, Bus)
    await asyncio.wait_for(bus.session.ever_connected.wait(), 10)
    await make_demo_sales(app)
    base = str(server.make_url("")).rstrip("/")
    yield LinkedStore(Store(base, app, replace(demo, settings=settings), {}, ""), hq)


async def until(check: Any, within: float = 20.0) -> Any:
    """Wait until `check()` returns something true; return it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (result := check()):
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.1)
    return result


async def office(store: Store, pages: Pages, staff: str, pin: str, screen: str = "OFFICE") -> Page:
    """Open /admin as an office screen (its own pairing) with `staff` signed in."""
    page = await pages.open(f"{store.base}/admin", ADMIN_SIZE)
    await sign_in(page, store, screen, staff, pin)
    await expect(page.locator("#main section.screen")).to_be_visible()
    return page


async def open_hq(page: Page) -> None:
    """Go to the HQ link screen."""
    await page.click("nav [data-nav='hq']")
    await expect(page.locator("[data-screen='hq']")).to_be_visible()


async def english(page: Page) -> None:
    """Switch the back office to English."""
    await page.select_option(".language", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")


def top_ups(store: Store, member: str) -> list[tuple[str | None, dict[str, Any]]]:
    """Return (till, data) of a member's stored_value.topped_up events, oldest first."""
    conn = sqlite3.connect(str(store.app[LEDGER].path))
    try:
        rows = conn.execute(
            "SELECT till, data FROM journal WHERE type = 'stored_value.topped_up'"
            " AND json_extract(data, '$.member') = ? ORDER BY seq",
            (member,),
        ).fetchall()
    finally:
        conn.close()
    return [(row[0], json.loads(row[1])) for row in rows]


async def test_without_hq_the_screen_says_the_link_is_off_and_why(
    store: Store, pages: Pages
) -> None:
    page = await office(store, pages, "M01", "1357")
    await open_hq(page)
    badge = page.locator("[data-hq=state]")
    await expect(badge).to_have_attribute("data-state", "off")
    await expect(badge).to_have_text("未配置")
    await expect(page.locator("[data-hq=reason]")).to_have_text(
        "转发已关闭：未配置总部地址（edge.toml 中的 [hq] url）。"
    )
    await expect(page.locator(".resume-hq")).to_have_count(0)
    await shot(page, "admin-hq-off-zh-CN")
    await english(page)
    await expect(badge).to_have_text("Not configured")
    await expect(page.locator("[data-hq=reason]")).to_have_text(
        "Forwarding is off: no HQ address is configured ([hq] url in edge.toml)."
    )
    await shot(page, "admin-hq-off-en")

    # cashiers do not see the HQ link at all
    cashier = await office(store, pages, "C01", "1470", "OFFICE2")
    await expect(cashier.locator("nav [data-nav='members']")).to_be_visible()
    await expect(cashier.locator("nav [data-nav='hq']")).to_have_count(0)


async def test_a_stopped_link_is_shown_and_the_manager_resumes_it(
    linked: LinkedStore, pages: Pages
) -> None:
    store = linked.store
    stopped = await until(lambda: (s := linked.status())["state"] == "stopped" and s)
    assert stopped["stopped"]["code"] == "chain_broken" and linked.hq.refused == 1

    page = await office(store, pages, "M01", "1357")
    await open_hq(page)
    badge = page.locator("[data-hq=state]")
    await expect(badge).to_have_attribute("data-state", "stopped")
    await expect(badge).to_have_text("已停止")
    await expect(badge).to_have_class("badge bad")
    alarm = page.locator("[data-hq=stopped]")
    await expect(alarm).to_have_attribute("data-seq", "1")
    await expect(alarm.locator("h2")).to_have_text("转发已在第 1 号事件处停止")
    await expect(alarm).to_contain_text("总部发现事件链断裂")
    await expect(alarm).to_contain_text("HTTP 422")
    await expect(page.locator("[data-hq=last-error]")).to_have_count(0)  # the stop says it
    # the backlog and cursor as the server has them once the sign-in's events are in
    status = linked.status()
    assert status["backlog_events"] == status["head_seq"] > 0 and status["acked_seq"] == 0
    await expect(page.locator("[data-hq=backlog]")).to_have_text(f"{status['backlog_events']:,}")
    await expect(page.locator("[data-hq=cursor]")).to_have_text(f"0 / {status['head_seq']:,}")
    await expect(page.locator("[data-hq=oldest]")).to_have_text(re.compile(r"^\d+\S*前$|^现在$"))
    await expect(page.locator("[data-hq=skew]")).to_have_text("与总部时钟一致")
    resume = page.locator(".resume-hq")
    await expect(resume).to_have_text("恢复转发")
    await shot(page, "admin-hq-stopped-zh-CN")

    # a supervisor reads the link but may not resume it
    supervisor = await office(store, pages, "S01", "2468", "OFFICE2")
    await open_hq(supervisor)
    await expect(supervisor.locator("[data-hq=stopped]")).to_contain_text("由店长或技术员恢复转发")
    await expect(supervisor.locator(".resume-hq")).to_have_count(0)
    await shot(supervisor, "admin-hq-stopped-supervisor-zh-CN")
    await supervisor.context.close()
    pages.opened.remove(supervisor)

    # HQ is fixed; the manager resumes and the link catches up
    linked.hq.accept = True
    await resume.click()
    await expect(page.locator(".toast")).to_have_text("转发已恢复")
    caught_up = await until(
        lambda: (s := linked.status())["state"] == "idle" and s["backlog_events"] == 0 and s
    )
    assert caught_up["stopped"] is None and caught_up["acked_seq"] == caught_up["head_seq"]
    assert linked.hq.acked == caught_up["head_seq"]
    await expect(badge).to_have_attribute("data-state", "idle", timeout=15_000)
    await expect(badge).to_have_text("已同步")
    await expect(badge).to_have_class("badge ok")
    await expect(alarm).to_have_count(0)
    head = f"{caught_up['head_seq']:,}"
    await expect(page.locator("[data-hq=cursor]")).to_have_text(f"{head} / {head}")
    await expect(page.locator("[data-hq=backlog]")).to_have_text("0")
    await expect(page.locator("[data-hq=oldest]")).to_have_text("无")
    error = page.locator("[data-hq=last-error]")
    await expect(error).to_contain_text("总部发现事件链断裂")
    await expect(error.locator(".hq-error-past")).to_have_text("此后总部已确认过事件。")
    await shot(page, "admin-hq-idle-zh-CN")
    await english(page)
    await expect(badge).to_have_text("Up to date")
    await expect(page.locator("[data-tile=backlog] .muted")).to_have_text("Events waiting for HQ")
    await shot(page, "admin-hq-idle-en")

    # leaving the screen ends its refreshing: no more status requests
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/api/v1/hq") else None)
    await page.click("nav [data-nav='members']")
    await expect(page.locator("[data-screen='members']")).to_be_visible()
    asked.clear()
    await asyncio.sleep(4)
    assert asked == []


async def test_a_manager_tops_up_a_member_by_card_in_the_back_office(
    store: Store, pages: Pages
) -> None:
    pages.allow_http(402, 503)  # a declined card; an answer lost on the way (provoked)
    before = (await store.api("GET", "/api/v1/members/lookup?key=M0001"))["stored_value"]
    events_before = len(top_ups(store, "M0001"))
    page = await office(store, pages, "M01", "1357")
    await page.click("nav [data-nav='members']")
    await page.fill("[name=key]", "M0001")
    await page.keyboard.press("Enter")
    row = page.locator("[data-screen=members] tr[data-key='M0001']")
    await row.locator(".top-up").click()
    dialog = page.locator("[data-dialog=top-up]")
    await expect(dialog.locator("h2")).to_have_text("为 王小明（M0001）充值")
    await expect(dialog.locator("select[name=tender] option")).to_have_count(2)  # no cash here
    await dialog.locator("input[name=amount]").fill("100")
    await dialog.locator("input[name=bonus]").fill("120")
    await dialog.locator("input[name=presented]").fill(DECLINE_CARD)
    await page.keyboard.press("Enter")
    await expect(dialog.locator("[data-field=bonus] .field-error")).to_have_text(
        "赠送金额不能超过充值金额。"
    )
    await dialog.locator("input[name=bonus]").fill("10")
    await page.keyboard.press("Enter")
    await expect(dialog.locator(".form-error")).to_have_text("支付被拒绝：未扣款，也未充值。")
    await shot(page, "admin-top-up-declined-zh-CN")
    assert len(top_ups(store, "M0001")) == events_before

    # the server records the top-up but its answer is lost: the same dialog retries the same id
    lost: list[str] = []

    async def lose_answer(route: Route) -> None:
        answer = await route.fetch()  # the server answers...
        assert answer.status == 201
        lost.append((route.request.post_data_json or {}).get("id", ""))
        await route.fulfill(  # ...but the browser never hears it
            status=503, json={"error": {"code": "unavailable", "message": "gateway timeout"}}
        )

    await page.route("**/api/v1/members/M0001/top-ups", lose_answer)
    await dialog.locator("input[name=presented]").fill(APPROVE_CARD)
    await page.keyboard.press("Enter")
    await expect(dialog.locator(".form-error")).to_contain_text("gateway timeout")
    assert len(lost) == 1 and len(top_ups(store, "M0001")) == events_before + 1
    await page.unroute("**/api/v1/members/M0001/top-ups")
    sent: list[str] = []
    page.on(
        "request",
        lambda r: (
            sent.append((r.post_data_json or {}).get("id", ""))
            if r.url.endswith("/top-ups")
            else None
        ),
    )
    await page.keyboard.press("Enter")
    await expect(dialog).to_have_count(0)
    assert sent == lost  # the retry carried the first attempt's id

    ledger = await store.api("GET", "/api/v1/members/lookup?key=M0001")
    assert ledger["stored_value"] == before + 11_000
    events = top_ups(store, "M0001")[events_before:]
    assert len(events) == 1  # one top-up for the three presses
    ((till, event),) = events
    assert (till, event["till_session"], event["tender"]["kind"]) == ("OFFICE", None, "card")
    assert (event["amount"], event["bonus"], event["balance"]) == (10_000, 1_000, before + 11_000)
    balance = f"{ledger['stored_value'] / 100:,.2f}"
    await expect(row.locator("[data-col=stored_value]")).to_contain_text(balance)
    done = page.locator(".top-up-done")
    await expect(done).to_have_attribute("data-balance", str(ledger["stored_value"]))
    await expect(done).to_contain_text(f"当前储值余额 ¥{balance}")
    await shot(page, "admin-top-up-done-zh-CN")
    await english(page)
    await page.fill("[name=key]", "M0001")
    await page.keyboard.press("Enter")
    await row.locator(".top-up").click()
    await expect(dialog.locator("h2")).to_have_text("Top up 王小明 (M0001)")
    await shot(page, "admin-top-up-en")
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
