"""The kiosk routes: attendant calls from a kiosk's browser, and the bagging-area check."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from edge.services.catalog import Actor
from edge.settings import Settings
from edge.web.keys import AUTH, DEVICES
from tests.integration.bus_store import add_device, bus_client, connect, until
from tests.integration.conftest import FakeClock, authorize

pytestmark = pytest.mark.timeout(60)

CSV = (
    "id,name_zh,name_en,list_price,sold_by_weight,plu,barcodes,unit_grams\n"
    "COLA,可乐,Cola,3.00,no,,6901234567892,350\n"
    "CHIPS,薯片,Chips,6.50,no,,6901234567823,\n"
    "APPLE,苹果,Apples,12.80,yes,4011,,\n"
)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, clock: FakeClock) -> TestClient:
    client = await bus_client(aiohttp_client, settings, clock)
    await authorize(client, role="manager", till="OFFICE")
    imported = await client.post(
        "/api/v1/catalog/import", data=CSV.encode(), headers={"Content-Type": "text/csv"}
    )
    assert imported.status == 200, await imported.text()
    await add_device(client, "kiosk-01", "kiosk")
    await add_device(client, "kiosk-02", "kiosk")
    return client


async def token(client: TestClient, role: str, till: str, name: str) -> dict[str, str]:
    """Return the headers of a request from `till`: a paired kiosk, else a staff token."""
    app = client.server.app
    if role != "kiosk":
        made = await app[AUTH].create_token(name, role, till, Actor())
        return {"Authorization": f"Bearer {made}"}
    code, _ = await app[AUTH].create_pairing(till, till, Actor(staff="tests"))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        paired = await browser.post(client.make_url("/api/v1/tills/pair"), json={"code": code})
        assert paired.status == 201, await paired.text()
        csrf = (await paired.json())["csrf"]
        cookies = "; ".join(f"{c.key}={c.value}" for c in browser.cookie_jar)
    # the manager's token is the client's default: a kiosk request replaces it by nothing
    return {"Cookie": cookies, "X-Edge-CSRF": csrf, "Authorization": ""}


async def error_of(response: Any, status: int) -> str:
    """Check a JSON error answer and return its code."""
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body["error"]) >= {"code", "message"}
    return str(body["error"]["code"])


async def test_a_kiosk_call_reaches_the_attendant_and_is_approved(client: TestClient) -> None:
    kiosk = await token(client, "kiosk", "kiosk-01", "k1")
    attendant = await token(client, "cashier", "T01", "c1")
    live = await client.ws_connect("/api/v1/live?channels=attendant", headers=attendant)
    assert (await live.receive_json(timeout=5))["channels"] == ["attendant"]

    made = await client.post(
        "/api/v1/kiosks/kiosk-01/calls",
        json={"reason": "age_restricted", "detail": "BEER500"},
        headers=kiosk,
    )
    assert made.status == 201, await made.text()
    call = (await made.json())["call"]
    assert call["reason"] == "age_restricted" and call["kiosk"] == "kiosk-01"
    message = await live.receive_json(timeout=5)
    assert message["kiosk"] == "kiosk-01"
    assert [(c["id"], c["reason"]) for c in message["calls"]] == [(call["id"], "age_check")]

    listed = await client.get("/api/v1/kiosks/kiosk-01/calls", headers=kiosk)
    assert [c["id"] for c in (await listed.json())["calls"]] == [call["id"]]
    seen = await client.get("/api/v1/kiosks/kiosk-01/calls", headers=attendant)
    assert [c["reason"] for c in (await seen.json())["calls"]] == ["age_restricted"]

    approved = await client.post(
        f"/api/v1/kiosks/kiosk-01/calls/{call['id']}/approve", headers=attendant
    )
    assert approved.status == 200, await approved.text()
    listed = await client.get("/api/v1/kiosks/kiosk-01/calls", headers=kiosk)
    assert (await listed.json())["calls"] == []
    await live.close()


async def test_a_kiosk_withdraws_its_own_call(client: TestClient) -> None:
    kiosk = await token(client, "kiosk", "kiosk-01", "k1")
    made = await client.post("/api/v1/kiosks/kiosk-01/calls", json={"reason": "help"},
                             headers=kiosk)  # fmt: skip
    call = (await made.json())["call"]["id"]
    gone = await client.delete(f"/api/v1/kiosks/kiosk-01/calls/{call}", headers=kiosk)
    assert gone.status == 200
    again = await client.delete(f"/api/v1/kiosks/kiosk-01/calls/{call}", headers=kiosk)
    assert await error_of(again, 404) == "unknown_call"


async def test_bad_input_gets_a_json_4xx(client: TestClient) -> None:
    kiosk = await token(client, "kiosk", "kiosk-01", "k1")
    cashier = await token(client, "cashier", "T01", "c1")
    url = "/api/v1/kiosks/kiosk-01/calls"
    malformed = await client.post(
        url, data=b"{not json", headers={**kiosk, "Content-Type": "application/json"}
    )
    assert await error_of(malformed, 400) == "malformed_json"
    for body in ({"reason": 3}, {"reason": "dance"}, {}, {"reason": "help", "detail": ["x"]},
                 {"reason": "help", "extra": 1}):  # fmt: skip
        wrong = await client.post(url, json=body, headers=kiosk)
        assert await error_of(wrong, 400) == "validation_failed", body
    not_array = await client.post(url, json=["help"], headers=kiosk)
    assert await error_of(not_array, 400) == "malformed_json"
    unknown = await client.post("/api/v1/kiosks/kiosk-99/calls", json={"reason": "help"},
                                headers=kiosk)  # fmt: skip
    assert await error_of(unknown, 404) == "unknown_kiosk"
    not_a_kiosk = await client.post("/api/v1/kiosks/T01/calls", json={"reason": "help"},
                                    headers=cashier)  # fmt: skip
    assert await error_of(not_a_kiosk, 404) == "unknown_kiosk"
    # a kiosk calls only for itself, and a till is no kiosk
    other = await client.post("/api/v1/kiosks/kiosk-02/calls", json={"reason": "help"},
                              headers=kiosk)  # fmt: skip
    assert await error_of(other, 403) == "not_this_kiosk"
    till = await client.post(url, json={"reason": "help"}, headers=cashier)
    assert await error_of(till, 403) == "not_this_kiosk"
    peek = await client.get("/api/v1/kiosks/kiosk-02/calls", headers=kiosk)
    assert await error_of(peek, 403) == "not_this_kiosk"
    # a cashier approving a call nobody made, or at a kiosk that does not exist
    bogus = await client.post(f"{url}/{'0' * 32}/approve", headers=cashier)
    assert await error_of(bogus, 404) == "unknown_call"
    nowhere = await client.post(f"/api/v1/kiosks/kiosk-99/calls/{'0' * 32}/approve",
                                headers=cashier)  # fmt: skip
    assert nowhere.status == 404
    # a kiosk may not approve its own call
    made = await client.post(url, json={"reason": "void"}, headers=kiosk)
    call = (await made.json())["call"]["id"]
    self_approved = await client.post(f"{url}/{call}/approve", headers=kiosk)
    assert self_approved.status == 403
    # nobody paired
    anonymous = await client.post(url, json={"reason": "help"},
                                  headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert anonymous.status == 401
    bag = "/api/v1/kiosks/kiosk-01/bagging"
    for body in ({"lines": "x"}, {"lines": [{"quantity": 1}]},
                 {"lines": [{"product": "COLA", "quantity": 0}]},
                 {"lines": [{"product": "COLA", "grams": -5}]}):  # fmt: skip
        wrong = await client.post(bag, json=body, headers=kiosk)
        assert await error_of(wrong, 400) == "validation_failed", body
    no_scale = await client.post(bag, json={"lines": []}, headers=kiosk)
    assert await error_of(no_scale, 409) == "no_bagging_scale"


async def test_the_bagging_area_is_checked_against_the_kiosk_scale(client: TestClient) -> None:
    kiosk = await token(client, "kiosk", "kiosk-01", "k1")
    scale = await connect(client, "scale-k1", "scale", till="kiosk-01")
    bag = "/api/v1/kiosks/kiosk-01/bagging"
    lines = [{"product": "COLA", "quantity": 2}, {"product": "APPLE", "grams": 1000}]
    waiting = await client.post(bag, json={"lines": lines}, headers=kiosk)
    assert (await waiting.json())["settled"] is False  # no weight yet

    async def check(grams: int) -> dict[str, Any]:
        await scale.event("weight", grams=grams, stable=True, tare_grams=0)
        app = client.server.app
        await until(lambda: _weight(app) == grams)
        response = await client.post(bag, json={"lines": lines}, headers=kiosk)
        assert response.status == 200, await response.text()
        return dict(await response.json())

    good = await check(1720)
    assert good["expected_grams"] == 1700 and good["ok"] and good["tolerance_grams"] == 30 + 85
    short = await check(1500)
    assert not short["ok"]
    kiosks = await (await client.get("/api/v1/kiosks")).json()
    shown = {k["kiosk"]: k for k in kiosks["kiosks"]}["kiosk-01"]
    assert shown["bagging"] == {"expected_grams": 1700, "actual_grams": 1500, "ok": False}
    unknown = await client.post(bag, json={"lines": [{"product": "NOPE"}]}, headers=kiosk)
    assert await error_of(unknown, 404) == "unknown_product"
    # chips have no unit weight: more weight is fine, less is not
    chips = await client.post(bag, json={"lines": [{"product": "CHIPS"}]}, headers=kiosk)
    assert (await chips.json())["ok"] is True
    await scale.stop()


def _weight(app: Any) -> int | None:
    reading = app[DEVICES].weights.get("scale-k1")
    return None if reading is None else int(reading["grams"])
