"""The three UIs load, pair, sign in and switch language with no console error."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import (
    ADMIN_SIZE,
    KIOSK_SIZE,
    TILL_SIZE,
    Pages,
    Store,
    shot,
    sign_in,
)


@pytest.mark.parametrize(
    ("ui", "till", "staff", "pin", "size"),
    [
        ("till", "T02", "C01", "1470", TILL_SIZE),
        ("admin", "OFFICE", "M01", "1357", ADMIN_SIZE),
        ("kiosk", "kiosk-01", "", "", KIOSK_SIZE),
    ],
)
async def test_a_ui_pairs_signs_in_and_speaks_both_languages(
    store: Store, pages: Pages, ui: str, till: str, staff: str, pin: str, size: tuple[int, int]
) -> None:
    page = await pages.open(f"{store.base}/{ui}", size)
    await page.wait_for_selector("[data-gate=pair]")
    assert await page.locator("[data-gate=pair] h1").inner_text() == "配对此设备"
    await sign_in(page, store, till, staff, pin)
    await page.wait_for_selector(".live.ok")
    await expect(page.locator(".live")).to_have_text("在线")
    await page.select_option(".language", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator(".live")).to_have_text("Online")
    await shot(page, f"shell-{ui}-en")
    # the choice is kept for this user on this browser
    await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", "en")


async def test_a_wrong_pin_is_refused_in_the_users_language(store: Store, pages: Pages) -> None:
    pages.allow_http(401)
    page = await pages.open(f"{store.base}/till")
    await page.fill("[data-gate=pair] input[name=code]", await store.pairing("T02"))
    await page.keyboard.press("Enter")
    await page.fill("[data-gate=signin] input[name=staff]", "C01")
    await page.fill("[data-gate=signin] input[name=pin]", "9999")
    await page.keyboard.press("Enter")
    error = page.locator("[data-gate=signin] .gate-error")
    await expect(error).to_contain_text("操作未完成")
    assert await page.locator("[data-gate=signin] input[name=pin]").input_value() == ""


async def test_ui_files_stay_inside_their_folder(store: Store, pages: Pages) -> None:
    pages.allow_http(404)
    page = await pages.open(f"{store.base}/ui/common/api.js")
    assert "ApiError" in await page.content()
    for path in ("/ui/../settings.py", "/ui/common/../../ui.py", "/ui/.hidden", "/ui/common/"):
        response = await page.request.get(store.base + path)
        assert response.status == 404, path
