"""A store's day: two tills open with floats, sell, move cash, close blind, Z once, next day."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.services.catalog import Actor
from edge.settings import HoursSettings, Settings
from edge.web.keys import AUTH, LEDGER
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import authorize


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now


async def tokens(client: TestClient, *tills: str) -> dict[str, dict[str, str]]:
    """A cashier and a supervisor token per till, as request headers."""
    auth = client.server.app[AUTH]
    made: dict[str, dict[str, str]] = {}
    for till in tills:
        for role in ("cashier", "supervisor"):
            token = await auth.create_token(f"{role[0]}-{till}", role, till, Actor())
            made[f"{role}@{till}"] = {"Authorization": f"Bearer {token}"}
    return made


async def call(
    client: TestClient, method: str, path: str, who: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    response = await client.request(method, path, json=body, headers=who)
    return response.status, await response.json()


def sale(lines: list[dict[str, Any]], tenders: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": new_id(), "lines": lines, "tenders": tenders}


COKE, MILK, CHIPS = "6901234567892", "6901234567816", "6901234567823"


def recompute(path: str, after: int, upto: int) -> dict[str, Any]:
    """The day's sums straight from the journal with SQL, independently of the report code."""
    conn = sqlite3.connect(path)
    window = (after, upto)
    try:

        def one(sql: str) -> int:
            return int(conn.execute(sql, window).fetchone()[0] or 0)

        sales = "FROM journal WHERE type = 'sale.completed' AND seq > ? AND seq < ?"
        returns = "FROM journal WHERE type = 'sale.returned' AND seq > ? AND seq < ?"
        gross = one(f"SELECT sum(json_extract(data, '$.total')) {sales}")
        returned = one(
            "SELECT sum(json_extract(data, '$.amount') - json_extract(data, '$.rounding'))"
            f" {returns}"
        )
        taken = dict(
            conn.execute(
                "SELECT json_extract(t.value, '$.kind'), sum(json_extract(t.value, '$.amount'))"
                " FROM journal j, json_each(j.data, '$.tenders') t"
                " WHERE j.type = 'sale.completed' AND j.seq > ? AND j.seq < ? GROUP BY 1",
                window,
            ).fetchall()
        )
        refunded = dict(
            conn.execute(
                "SELECT json_extract(r.value, '$.kind'), sum(json_extract(r.value, '$.amount'))"
                " FROM journal j, json_each(j.data, '$.refunds') r"
                " WHERE j.type = 'sale.returned' AND j.seq > ? AND j.seq < ? GROUP BY 1",
                window,
            ).fetchall()
        )
        tax: dict[int, int] = {}
        for rate, amount in conn.execute(
            "SELECT json_extract(t.value, '$.rate_bp'), sum(json_extract(t.value, '$.tax'))"
            " FROM journal j, json_each(j.data, '$.tax') t"
            " WHERE j.type = 'sale.completed' AND j.seq > ? AND j.seq < ? GROUP BY 1",
            window,
        ):
            tax[rate] = tax.get(rate, 0) + amount
        for rate, amount in conn.execute(
            "SELECT json_extract(l.value, '$.tax_rate_bp'), sum(json_extract(l.value, '$.tax'))"
            " FROM journal j, json_each(j.data, '$.lines') l"
            " WHERE j.type = 'sale.returned' AND j.seq > ? AND j.seq < ? GROUP BY 1",
            window,
        ):
            tax[rate] = tax.get(rate, 0) - amount
        drawers: dict[str, int] = {}
        for till, _kind, data_amount in conn.execute(
            "SELECT till, type, CASE type"
            " WHEN 'till.opened' THEN json_extract(data, '$.float')"
            " WHEN 'cash.moved' THEN json_extract(data, '$.amount')"
            "  * (CASE json_extract(data, '$.direction') WHEN 'in' THEN 1 ELSE -1 END)"
            " ELSE 0 END FROM journal WHERE type IN ('till.opened', 'cash.moved')"
            " AND seq > ? AND seq < ?",
            window,
        ):
            drawers[till] = drawers.get(till, 0) + data_amount
        for till, amount in conn.execute(
            "SELECT j.till, sum(json_extract(t.value, '$.amount'))"
            " FROM journal j, json_each(j.data, '$.tenders') t"
            " WHERE j.type = 'sale.completed' AND json_extract(t.value, '$.kind') = 'cash'"
            " AND j.seq > ? AND j.seq < ? GROUP BY 1",
            window,
        ):
            drawers[till] += amount
        for till, amount in conn.execute(
            "SELECT j.till, sum(json_extract(r.value, '$.amount'))"
            " FROM journal j, json_each(j.data, '$.refunds') r"
            " WHERE j.type = 'sale.returned' AND json_extract(r.value, '$.kind') = 'cash'"
            " AND j.seq > ? AND j.seq < ? GROUP BY 1",
            window,
        ):
            drawers[till] -= amount
        head = conn.execute("SELECT seq, hash FROM journal WHERE seq = ? - 1", (upto,)).fetchone()
    finally:
        conn.close()
    return {
        "gross": gross,
        "returned": returned,
        "tenders": {k: taken.get(k, 0) - refunded.get(k, 0) for k in set(taken) | set(refunded)},
        "tax": {rate: amount for rate, amount in tax.items() if amount},
        "drawers": drawers,
        "head": tuple(head),
    }


def day_window(path: str, day: int) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT opened_seq, closed_seq FROM business_days WHERE day_no = ?", (day,)
        ).fetchone()
    finally:
        conn.close()
    return int(row[0]) - 1, int(row[1])


async def test_a_day_with_two_tills_closes_once_and_the_z_matches_the_journal(
    aiohttp_client: Any, settings: Settings
) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 1, 30, tzinfo=UTC))  # 09:30 in Shanghai
    client: TestClient = await aiohttp_client(create_app(settings, clock=clock))
    await authorize(client, role="manager", till=None, name="office")
    await stock_up(client, till_float=None)
    who = await tokens(client, "T01", "T02")
    c1, c2, s1, s2 = (
        who[k] for k in ("cashier@T01", "cashier@T02", "supervisor@T01", "supervisor@T02")
    )

    nothing = await call(
        client,
        "POST",
        "/api/v1/sales",
        c1,
        sale([{"code": COKE}], [{"kind": "cash", "amount": 300}]),
    )
    assert (nothing[0], nothing[1]["error"]["code"]) == (409, "till_closed")
    assert (await call(client, "POST", "/api/v1/till/open", c1, {"float": 20_000}))[0] == 201
    assert (await call(client, "POST", "/api/v1/till/open", c2, {"float": 10_000}))[0] == 201
    twice = await call(client, "POST", "/api/v1/till/open", c2, {"float": 10_000})
    assert (twice[0], twice[1]["error"]["code"]) == (409, "till_open")

    # T01: cash with change, then card; T02: a member's basket paid by QR and cash
    cash50 = [{"kind": "cash", "amount": 5_000}]
    body = sale([{"code": COKE, "quantity": 2}, {"code": MILK}], cash50)
    status, first = await call(client, "POST", "/api/v1/sales", c1, body)
    assert status == 201, first
    assert first["day"] == 1 and first["change"] == 5_000 - first["total"]
    card = [{"kind": "card", "amount": 2_300, "presented": "4111111111111111"}]
    body = sale([{"code": CHIPS, "quantity": 4}], card)
    status, second = await call(client, "POST", "/api/v1/sales", c1, body)
    assert status == 201, second
    split = [{"kind": "qr", "amount": 1_000}, *cash50]
    body = sale([{"code": MILK, "quantity": 3}, {"code": COKE}], split) | {"member": "M1"}
    status, third = await call(client, "POST", "/api/v1/sales", c2, body)
    assert status == 201, third

    # a cashier cannot take cash out alone; the supervisor can, and can open the drawer
    refused = await call(
        client,
        "POST",
        "/api/v1/till/cash",
        c1,
        {"direction": "out", "amount": 10_000, "reason": "safe"},
    )
    assert (refused[0], refused[1]["error"]["code"]) == (403, "approval_required")
    assert (
        await call(
            client,
            "POST",
            "/api/v1/till/cash",
            s1,
            {"direction": "out", "amount": 10_000, "reason": "safe drop"},
        )
    )[0] == 201
    assert (
        await call(
            client,
            "POST",
            "/api/v1/till/cash",
            s2,
            {"direction": "in", "amount": 2_000, "reason": "coins"},
        )
    )[0] == 201
    assert (await call(client, "POST", "/api/v1/till/drawer", s2, {"reason": "give change"}))[
        0
    ] == 201

    # a partial return to cash on T01 (a supervisor's refund)
    status, returned = await call(client, "POST", "/api/v1/returns", s1, {
        "id": new_id(), "sale": first["id"], "lines": [{"index": 0, "quantity": 1}]})  # fmt: skip
    assert status == 201, returned

    status, x = await call(client, "GET", "/api/v1/reports/x", s1)
    assert (status, x["kind"], x["sales"], x["returns"]) == (200, "X", 3, 1)
    assert (await call(client, "GET", "/api/v1/reports/x", c1))[0] == 403

    early = await call(client, "POST", "/api/v1/reports/z", {})
    assert (early[0], early[1]["error"]["code"]) == (409, "tills_open")

    expected_t1 = x["drawers"]["T01"]["expected"]
    status, closed1 = await call(client, "POST", "/api/v1/till/close", c1, {"counted": expected_t1})
    assert (status, closed1["over_short"]) == (200, 0)
    expected_t2 = x["drawers"]["T02"]["expected"]
    status, closed2 = await call(
        client, "POST", "/api/v1/till/close", c2, {"counted": expected_t2 - 150}
    )
    assert (status, closed2["expected"], closed2["over_short"]) == (200, expected_t2, -150)

    status, z = await call(client, "POST", "/api/v1/reports/z", {})
    assert status == 201, z
    assert (z["z_no"], z["day"], z["date"]) == (1, 1, "2026-11-23")
    path = str(client.server.app[LEDGER].path)
    truth = recompute(path, *day_window(path, 1))
    report = z["report"]
    assert (
        report["gross_sales"] == truth["gross"] == first["total"] + second["total"] + third["total"]
    )
    assert report["returned"] == truth["returned"] > 0
    assert report["net_sales"] == truth["gross"] - truth["returned"]
    assert {t["kind"]: t["net"] for t in report["tenders"]} == truth["tenders"]
    assert {t["rate_bp"]: t["tax"] for t in report["tax"] if t["tax"]} == truth["tax"]
    assert {till: d["expected"] for till, d in report["drawers"].items()} == truth["drawers"]
    assert report["drawers"]["T02"]["no_sale_opens"] == 1
    assert report["over_short"] == -150
    assert (z["head_seq"], z["head_hash"]) == truth["head"]
    assert z["grand_total"] == report["net_sales"]

    again = await call(client, "POST", "/api/v1/reports/z", {})
    assert (again[0], again[1]["error"]["code"]) == (409, "day_closed")
    after = await call(
        client,
        "POST",
        "/api/v1/sales",
        c1,
        sale([{"code": COKE}], [{"kind": "cash", "amount": 300}]),
    )
    assert (after[0], after[1]["error"]["code"]) == (409, "till_closed")

    # the next business day: opening a till opens day 2 (dated tomorrow: the Z closed today)
    status, opened = await call(client, "POST", "/api/v1/till/open", c1, {"float": 20_000})
    assert (status, opened["day"]) == (201, 2)
    status, late = await call(
        client,
        "POST",
        "/api/v1/sales",
        c1,
        sale([{"code": COKE}], [{"kind": "cash", "amount": 300}]),
    )
    assert (status, late["day"]) == (201, 2)
    assert (await call(client, "POST", "/api/v1/till/close", c1, {"counted": 20_300}))[1][
        "over_short"
    ] == 0
    status, z2 = await call(client, "POST", "/api/v1/reports/z", {})
    assert (status, z2["z_no"], z2["date"]) == (201, 2, "2026-11-24")
    assert z2["grand_total"] == z["grand_total"] + 300
    listed = await call(client, "GET", "/api/v1/reports/z", {})
    assert [r["z_no"] for r in listed[1]["reports"]] == [2, 1]
    assert (await call(client, "GET", "/api/v1/reports/z/1", {}))[1]["report"] == report


@pytest.fixture
def hours_settings(settings: Settings) -> Settings:
    week = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "09:00-21:00")
    return Settings(
        store=settings.store,
        paths=settings.paths,
        hours=HoursSettings(**week, holidays="2026-11-25"),
    )


async def test_tills_are_locked_outside_business_hours_unless_a_manager_overrides(
    aiohttp_client: Any, hours_settings: Settings
) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 0, 0, tzinfo=UTC))  # 08:00 in Shanghai, closed
    client: TestClient = await aiohttp_client(create_app(hours_settings, clock=clock))
    await authorize(client, role="manager", till=None, name="office")
    await stock_up(client, till_float=None)
    who = await tokens(client, "T01")
    cashier = who["cashier@T01"]

    locked = await call(client, "POST", "/api/v1/till/open", cashier, {"float": 0})
    assert (locked[0], locked[1]["error"]["code"]) == (423, "outside_business_hours")
    refused = await call(
        client,
        "POST",
        "/api/v1/hours/override",
        cashier,
        {"minutes": 30, "reason": "early delivery"},
    )
    assert refused[0] == 403
    status, override = await call(
        client, "POST", "/api/v1/hours/override", {}, {"minutes": 30, "reason": "early delivery"}
    )
    assert (status, override["until"]) == (201, "2026-11-23T00:30:00.000+00:00")
    assert (await call(client, "POST", "/api/v1/till/open", cashier, {"float": 0}))[0] == 201
    body = sale([{"code": COKE}], [{"kind": "cash", "amount": 300}])
    assert (await call(client, "POST", "/api/v1/sales", cashier, body))[0] == 201

    clock.now += timedelta(minutes=31)  # 08:31: the override ran out
    late = await call(
        client,
        "POST",
        "/api/v1/sales",
        cashier,
        sale([{"code": COKE}], [{"kind": "cash", "amount": 300}]),
    )
    assert (late[0], late[1]["error"]["code"]) == (423, "outside_business_hours")
    clock.now += timedelta(minutes=30)  # 09:01: open
    assert (
        await call(
            client,
            "POST",
            "/api/v1/sales",
            cashier,
            sale([{"code": COKE}], [{"kind": "cash", "amount": 300}]),
        )
    )[0] == 201
    clock.now = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # noon on a holiday
    holiday = await call(
        client,
        "POST",
        "/api/v1/sales",
        cashier,
        sale([{"code": COKE}], [{"kind": "cash", "amount": 300}]),
    )
    assert (holiday[0], holiday[1]["error"]["code"]) == (423, "outside_business_hours")
    conn = sqlite3.connect(str(client.server.app[LEDGER].path))
    try:
        overrides = conn.execute(
            "SELECT staff, json_extract(data, '$.reason') FROM journal"
            " WHERE type = 'hours.overridden'"
        ).fetchall()
    finally:
        conn.close()
    assert overrides == [("token:office", "early delivery")]
