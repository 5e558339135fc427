"""Browser tests: Debian's Chromium driven by Playwright against a real demo store.

The `store` fixture prepares the demo store in a temp directory (catalog, staff, promotions,
a member, device records) and serves it on 127.0.0.1 with its private Mosquitto, the demo
gateway and the simulated scale, scanner, printer and drawer of till T01. `browser` opens
Chromium; `pages.open(url, size)` opens a page whose console is watched: any console error or
uncaught exception fails the test at teardown, except HTTP error answers the test declared it
provokes (`pages.allow_http(401)` for a wrong PIN). `shot(page, name)` saves a screenshot under
`test-output/screenshots/`.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from edge.app import create_app
from edge.bus.bus import Bus
from edge.demo import DemoStore, make_demo_sales, prepare_demo
from edge.demo_devices import running_demo_devices
from edge.services.catalog import Actor
from edge.web.keys import AUTH, BUS

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TILL_SIZE = (1024, 768)
KIOSK_SIZE = (1080, 1920)
ADMIN_SIZE = (1366, 900)
HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")

pytestmark = pytest.mark.timeout(180)


@dataclass
class Store:
    """A running demo store and what tests need to drive it."""

    base: str
    app: web.Application
    demo: DemoStore
    devices: dict[str, Any]
    token: str

    @property
    def printer(self) -> Any:
        """Return the simulated receipt printer of till T01."""
        return self.devices["printer"]

    async def pairing(self, till: str) -> str:
        """Return a fresh one-time code that pairs a browser as `till`."""
        code, _ = await self.app[AUTH].create_pairing(till, till, Actor(staff="tests"))
        return code

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the store's API as the demo manager's token; return the JSON answer."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base + path, json=body, headers=headers) as response,
        ):
            data = await response.json(content_type=None)
            assert response.status < 400, (method, path, response.status, data)
            return data

    async def text(self, path: str) -> str:
        """GET a non-JSON answer (CSV) as the demo manager."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.base + path, headers=headers) as response,
        ):
            assert response.status == 200, (path, response.status)
            return await response.text()


@pytest.fixture
async def store(tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[Store]:
    """Serve the demo store with its broker, gateway and simulated devices."""
    demo = await prepare_demo(tmp_path / "demo", "127.0.0.1", 0)
    app = create_app(demo.settings)
    server = await aiohttp_server(app)
    bus = app[BUS]
    assert isinstance(bus, Bus)
    await asyncio.wait_for(bus.session.ever_connected.wait(), 10)
    port = bus.broker_port
    assert port is not None
    async with running_demo_devices(demo.settings, port, demo.passwords) as devices:
        await make_demo_sales(app)
        store = Store(
            str(server.make_url("")).rstrip("/"), app, demo, devices, demo.catalog["api_token"]
        )
        await until_online(store, ("printer-01", "scale-01", "scanner-01"))
        yield store


async def until_online(store: Store, devices: tuple[str, ...], within: float = 20) -> None:
    """Wait until the named devices are online."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        listed = await store.api("GET", "/api/v1/devices")
        states = {d["id"]: d["state"] for d in listed["devices"]}
        if all(states.get(d) == "online" for d in devices):
            return
        assert loop.time() < deadline, states
        await asyncio.sleep(0.1)


@dataclass
class Pages:
    """Pages opened in one test, with their console watched."""

    browser: Browser
    problems: list[str] = field(default_factory=list)
    allowed: set[int] = field(default_factory=set)
    opened: list[Page] = field(default_factory=list)

    def allow_http(self, *statuses: int) -> None:
        """Accept the console's report of these HTTP error answers (the test provokes them)."""
        self.allowed.update(statuses)

    def _console(self, message: ConsoleMessage) -> None:
        """Record console errors (and warnings about missing messages)."""
        text = message.text
        if message.type == "error":
            status = HTTP_ERROR.search(text)
            if status is not None and int(status.group(1)) in self.allowed:
                return
            self.problems.append(f"console error: {text} at {message.location}")
        elif message.type == "warning" and text.startswith("missing message"):
            self.problems.append(f"console warning: {text}")

    async def open(
        self, url: str, size: tuple[int, int] = TILL_SIZE, locale: str = "zh-CN"
    ) -> Page:
        """Open `url` in a fresh browser context (its own cookies) at a screen size."""
        context = await self.browser.new_context(
            viewport={"width": size[0], "height": size[1]}, locale=locale
        )
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.problems.append(f"page error: {err}"))
        self.opened.append(page)
        await page.goto(url)
        return page

    async def open_as(
        self, url: str, state: Any, size: tuple[int, int] = TILL_SIZE, locale: str = "zh-CN"
    ) -> Page:
        """Open `url` in a fresh context (an empty cache) holding another's cookies and storage."""
        context = await self.browser.new_context(
            viewport={"width": size[0], "height": size[1]}, locale=locale, storage_state=state
        )
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.problems.append(f"page error: {err}"))
        self.opened.append(page)
        await page.goto(url)
        return page


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Launch Debian's Chromium headless."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs the chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def pages(browser: Browser) -> AsyncIterator[Pages]:
    """Open watched pages; fail the test on any console error they logged."""
    watched = Pages(browser)
    yield watched
    for page in watched.opened:
        await page.context.close()
    assert not watched.problems, "\n".join(watched.problems)


async def shot(page: Page, name: str) -> Path:
    """Save a screenshot of the page as test-output/screenshots/{name}.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path


async def sign_in(page: Page, store: Store, till: str, staff: str, pin: str) -> None:
    """Pair the page's browser as `till` and sign `staff` in through the UI's forms."""
    await page.fill("[data-gate=pair] input[name=code]", await store.pairing(till))
    await page.keyboard.press("Enter")
    if staff:
        await page.fill("[data-gate=signin] input[name=staff]", staff)
        await page.fill("[data-gate=signin] input[name=pin]", pin)
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".gate", state="detached")
