"""Back office: time clock, rota, staff performance with commission, expenses, feedback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from edge.web.auth import CSRF_HEADER
from tests.integration.checkout_store import new_id
from tests.integration.conftest import FakeClock
from tests.integration.tills import as_manager, as_till, manager_client, open_till, pair, sign_in

COKE, CHIPS = "6901234567892", "6901234567823"


async def signed_in_till(
    make_client: Callable[..., Any],
) -> tuple[TestClient, dict[str, str]]:
    """A manager's client whose browser is till T01 with cashier C01 signed in."""
    client = await manager_client(make_client)
    commission = {"name": "C01", "role": "cashier", "commission_bp": 200}
    assert (await client.put("/api/v1/staff/C01", json=commission)).status == 200
    csrf = await pair(client, "T01")
    as_till(client)
    assert (await sign_in(client, csrf, "C01", "1470"))[0] == 200
    return client, {CSRF_HEADER: csrf}


async def test_clock_in_and_out_gives_worked_minutes(
    make_client: Callable[..., Any], clock: FakeClock
) -> None:
    client, headers = await signed_in_till(make_client)
    clocked = await client.post("/api/v1/staff/clock", json={"action": "in"}, headers=headers)
    assert clocked.status == 201, await clocked.text()
    twice = await client.post("/api/v1/staff/clock", json={"action": "in"}, headers=headers)
    assert (twice.status, (await twice.json())["error"]["code"]) == (409, "clocked_in")
    clock.advance(hours=8, minutes=5)
    out = await client.post("/api/v1/staff/clock", json={"action": "out"}, headers=headers)
    assert out.status == 201
    again = await client.post("/api/v1/staff/clock", json={"action": "out"}, headers=headers)
    assert (again.status, (await again.json())["error"]["code"]) == (409, "not_clocked_in")

    as_manager(client)
    token_clock = await client.post("/api/v1/staff/clock", json={"action": "in"})
    assert (token_clock.status, (await token_clock.json())["error"]["code"]) == (409, "not_staff")
    shifts = await (await client.get("/api/v1/staff/shifts?from=2026-11-23&to=2026-11-23")).json()
    assert [(s["staff"], s["minutes"], s["open"]) for s in shifts["shifts"]] == [
        ("C01", 485, False)
    ]
    none = await (await client.get("/api/v1/staff/shifts?from=2026-11-24&to=2026-11-30")).json()
    assert none["shifts"] == []
    bad = await client.get("/api/v1/staff/shifts?from=yesterday&to=2026-11-30")
    assert bad.status == 400


async def test_a_weeks_rota(make_client: Callable[..., Any]) -> None:
    client = await manager_client(make_client)
    shifts = [
        {"staff": "C01", "day": "mon", "start": "08:00", "end": "16:00"},
        {"staff": "C01", "day": "tue", "start": "22:00", "end": "06:00"},
        {"staff": "S01", "day": "mon", "start": "12:00", "end": "20:30"},
    ]
    saved = await client.put("/api/v1/rota/2026-11-23", json={"shifts": shifts})
    assert saved.status == 200, await saved.text()
    rota = await (await client.get("/api/v1/rota/2026-11-23")).json()
    assert rota["planned_minutes"] == {"C01": 960, "S01": 510}
    tuesday = await client.put("/api/v1/rota/2026-11-24", json={"shifts": shifts})
    assert (tuesday.status, (await tuesday.json())["error"]["code"]) == (400, "bad_rota")
    ghost = [{"staff": "NOBODY", "day": "mon", "start": "08:00", "end": "16:00"}]
    unknown = await client.put("/api/v1/rota/2026-11-30", json={"shifts": ghost})
    assert (unknown.status, (await unknown.json())["error"]["code"]) == (404, "unknown_staff")
    empty = await (await client.get("/api/v1/rota/2026-11-30")).json()
    assert empty["shifts"] == []


async def test_staff_performance_counts_returns_against_the_seller(
    make_client: Callable[..., Any],
) -> None:
    client, headers = await signed_in_till(make_client)
    await open_till(client, headers[CSRF_HEADER])
    sold = []
    for code, quantity in ((COKE, 2), (CHIPS, 1)):
        body = {
            "id": new_id(),
            "lines": [{"code": code, "quantity": quantity}],
            "tenders": [{"kind": "cash", "amount": 5_000}],
        }
        response = await client.post("/api/v1/sales", json=body, headers=headers)
        assert response.status == 201, await response.text()
        sold.append(await response.json())
    # the supervisor takes over the till and refunds part of C01's sale
    assert (await client.delete("/api/v1/session", headers=headers)).status == 200
    assert (await sign_in(client, headers[CSRF_HEADER], "S01", "2468"))[0] == 200
    approved = await client.post(
        "/api/v1/returns",
        json={"id": new_id(), "sale": sold[0]["id"], "lines": [{"index": 0, "quantity": 1}]},
        headers=headers,
    )
    assert approved.status == 201, await approved.text()
    assert (await approved.json())["staff"] == "S01"
    refund = (await approved.json())["amount"]
    as_manager(client)
    report = await (await client.get("/api/v1/reports/staff?from=2026-11-23&to=2026-11-23")).json()
    (c01,) = report["staff"]
    gross = sold[0]["total"] + sold[1]["total"]
    assert (c01["staff"], c01["tickets"], c01["items"], c01["gross"]) == ("C01", 2, 3, gross)
    assert c01["returned"] == refund and c01["net"] == gross - refund
    assert c01["average_ticket"] == gross // 2
    assert c01["commission"] == (gross - refund) * 200 // 10_000


async def test_expenses_once_per_id_with_totals(make_client: Callable[..., Any]) -> None:
    client = await manager_client(make_client)
    power = {
        "id": new_id(),
        "category": "utility",
        "amount": 123_400,
        "date": "2026-11-20",
        "note": "电费 November",
        "photo": "photos/2026-11/power.jpg",
    }
    first = await client.post("/api/v1/expenses", json=power)
    assert first.status == 201, await first.text()
    retry = await client.post("/api/v1/expenses", json=power)
    assert (retry.status, await retry.json()) == (201, await first.json())
    reused = await client.post("/api/v1/expenses", json=power | {"amount": 1})
    assert (reused.status, (await reused.json())["error"]["code"]) == (409, "id_reused")
    tea = {"id": new_id(), "category": "sundries", "amount": 3_500, "date": "2026-11-21"}
    assert (await client.post("/api/v1/expenses", json=tea)).status == 201
    bad = await client.post("/api/v1/expenses", json=tea | {"id": new_id(), "category": "fun"})
    assert bad.status == 400
    listed = await (await client.get("/api/v1/expenses?from=2026-11-01&to=2026-11-30")).json()
    assert listed["totals"] == {"utility": 123_400, "sundries": 3_500}
    assert listed["total"] == 126_900
    assert listed["expenses"][0]["photo"] == "photos/2026-11/power.jpg"


async def test_feedback_is_followed_up_to_a_resolution(make_client: Callable[..., Any]) -> None:
    client, headers = await signed_in_till(make_client)
    complaint = {
        "id": new_id(),
        "kind": "complaint",
        "text": "牛奶过期了 the milk was past its date",
        "contact": "138****8000",
    }
    taken = await client.post("/api/v1/feedback", json=complaint, headers=headers)
    assert taken.status == 201, await taken.text()
    cashier_list = await client.get("/api/v1/feedback")
    assert cashier_list.status == 403
    as_manager(client)
    url = f"/api/v1/feedback/{complaint['id']}"
    unresolved = await client.patch(url, json={"status": "resolved"})
    assert (unresolved.status, (await unresolved.json())["error"]["code"]) == (
        400,
        "resolution_required",
    )
    assigned = await client.patch(url, json={"owner": "S01", "status": "in_progress"})
    assert assigned.status == 200
    done = await client.patch(
        url, json={"status": "resolved", "resolution": "refunded and shelf checked"}
    )
    assert (await done.json())["owner"] == "S01"
    listed = await (await client.get("/api/v1/feedback?status=resolved")).json()
    assert [(f["id"], f["status"], f["owner"]) for f in listed["feedback"]] == [
        (complaint["id"], "resolved", "S01")
    ]
    missing = await client.patch(f"/api/v1/feedback/{new_id()}", json={"status": "open"})
    assert missing.status == 404
