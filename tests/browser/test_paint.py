"""First paint on the LAN: /till and /kiosk paint within a second of a cold load.

Each load is a new browser context (an empty HTTP cache) against the local store server: a
first visit (the pairing form) and a paired device coming back (cookies kept, cache empty: the
signed-in till, the kiosk's start screen). The browser's own paint timing
(`first-contentful-paint`) is read after the screen is up; every figure is printed and written
to test-output/paint.json.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.conftest import KIOSK_SIZE, REPO, TILL_SIZE, Pages, Store, sign_in

BUDGET_MS = 1000
RUNS = 3  # cold loads per case: the slowest must be within budget
TIMING = """() => {
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    fcp: paint ? paint.startTime : null,
    response_end: nav.responseEnd,
    dom_content_loaded: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
    transfer_bytes: performance.getEntriesByType("resource")
      .reduce((sum, r) => sum + r.transferSize, nav.transferSize),
  };
}"""


async def timing(page: Page) -> dict[str, Any]:
    """Return the page's paint and navigation timing in milliseconds.

    The paint entry is recorded a frame after the screen is up: ask again (bounded) until it is.
    """
    for _ in range(100):
        figures: dict[str, Any] = await page.evaluate(TIMING)
        if figures["fcp"] is not None:
            return figures
        await asyncio.sleep(0.02)
    raise AssertionError(f"no first-contentful-paint entry: {figures}")


async def cold_loads(pages: Pages, url: str, size: tuple[int, int], ready: str,
                     state: Any = None) -> list[dict[str, Any]]:  # fmt: skip
    """Load `url` RUNS times, each in a new context; return each load's timing."""
    runs = []
    for _ in range(RUNS):
        page = await (pages.open_as(url, state, size) if state else pages.open(url, size))
        await expect(page.locator(ready).first).to_be_visible()
        runs.append(await timing(page))
        await page.context.close()
        pages.opened.remove(page)
    return runs


async def test_till_and_kiosk_paint_within_a_second_of_a_cold_load(
    store: Store, pages: Pages
) -> None:
    figures: dict[str, list[dict[str, Any]]] = {}
    figures["till first visit"] = await cold_loads(
        pages, f"{store.base}/till", TILL_SIZE, "[data-gate=pair] h1"
    )
    figures["kiosk first visit"] = await cold_loads(
        pages, f"{store.base}/kiosk", KIOSK_SIZE, "[data-gate=pair] h1"
    )

    # paired devices coming back with an empty cache
    till = await pages.open(f"{store.base}/till", TILL_SIZE)
    await sign_in(till, store, "T01", "C01", "1470")
    await expect(till.locator("#scan")).to_be_focused()
    signed_in = await till.context.storage_state()
    kiosk = await pages.open(f"{store.base}/kiosk", KIOSK_SIZE)
    await sign_in(kiosk, store, "kiosk-01", "", "")
    await expect(kiosk.locator("[data-screen=start] .start-button")).to_be_visible()
    paired = await kiosk.context.storage_state()
    figures["till signed in"] = await cold_loads(
        pages, f"{store.base}/till", TILL_SIZE, "#scan", signed_in
    )
    figures["kiosk paired"] = await cold_loads(
        pages, f"{store.base}/kiosk", KIOSK_SIZE, ".start-button", paired
    )

    out = REPO / "test-output" / "paint.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"\nfirst-contentful-paint of a cold load (ms, {RUNS} runs each; budget {BUDGET_MS}):")
    for case, runs in figures.items():
        fcps = ", ".join(f"{r['fcp']:.0f}" for r in runs)
        loaded = max(r["load"] for r in runs)
        kib = max(r["transfer_bytes"] for r in runs) / 1024
        print(f"  {case:<18} FCP {fcps}  (load event ≤ {loaded:.0f} ms, {kib:.0f} KiB)")
    slowest = {case: max(r["fcp"] for r in runs) for case, runs in figures.items()}
    assert all(ms < BUDGET_MS for ms in slowest.values()), slowest
