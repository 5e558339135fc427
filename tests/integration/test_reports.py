"""Back-office reports over two local days and several hours, checked against the journal.

The store is in Asia/Shanghai (UTC+8) and the clock is UTC, so a sale at 23:50 local and one
at 00:10 local the next day share a UTC date but not a local one. Every figure is recomputed
here with SQL straight from the journal's events, independently of the report code.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.services.catalog import Actor
from edge.settings import Settings
from edge.web.keys import AUTH, LEDGER
from tests.integration.checkout_store import PRODUCTS, new_id, stock_up, weight_label
from tests.integration.conftest import authorize

COKE, MILK, CHIPS = "6901234567892", "6901234567816", "6901234567823"
LOCAL = "+8 hours"  # Asia/Shanghai has no daylight saving time
COSTS = {"COKE": 180, "CHIPS": 400, "MILK": 420, "APPLE": 700}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # 09:30 local

    def __call__(self) -> datetime:
        return self.now

    def at(self, day: int, hour: int, minute: int = 0) -> None:
        """Move to a UTC time of November 2026."""
        self.now = datetime(2026, 11, day, hour, minute, tzinfo=UTC)


async def sell(client: TestClient, lines: list[dict[str, Any]], tenders: list[dict[str, Any]],
               **extra: Any) -> dict[str, Any]:  # fmt: skip
    response = await client.post(
        "/api/v1/sales", json={"id": new_id(), "lines": lines, "tenders": tenders} | extra
    )
    body = await response.json()
    assert response.status == 201, body
    return dict(body)


async def give_back(client: TestClient, sale_id: str, lines: list[dict[str, Any]]) -> None:
    response = await client.post(
        "/api/v1/returns", json={"id": new_id(), "sale": sale_id, "lines": lines}
    )
    assert response.status == 201, await response.text()


@pytest.fixture
async def store(aiohttp_client: Any, settings: Settings) -> tuple[TestClient, Clock]:
    """A store with sales on 23 and 24 November (local), returns, tenders, tax and a 满减."""
    clock = Clock()
    client: TestClient = await aiohttp_client(create_app(settings, clock=clock))
    await authorize(client, role="manager", till="T01")
    await stock_up(client)
    for pid, cost in COSTS.items():
        body = PRODUCTS[pid] | {"cost": cost}
        assert (await client.put(f"/api/v1/products/{pid}", json=body)).status == 200
    cash = [{"kind": "cash", "amount": 10_000}]
    # 23 Nov local: 09:30, 13:10, 13:40, 23:50
    first = await sell(client, [{"code": COKE, "quantity": 2}, {"code": MILK}], cash)
    clock.at(23, 5, 10)
    chips = await sell(
        client,
        [{"code": CHIPS, "quantity": 4}],
        [{"kind": "card", "amount": 2_300, "presented": "4111111111111111"}],
    )
    clock.at(23, 5, 40)
    await sell(
        client,
        [{"code": MILK, "quantity": 3}, {"code": weight_label("4011", 500)}],
        [{"kind": "qr", "amount": 1_000}, *cash],
        member="M1",
    )
    clock.at(23, 15, 50)
    await sell(client, [{"code": COKE}], cash)
    # 24 Nov local, 00:10 (still 23 Nov in UTC): a sale, and returns of two earlier sales
    clock.at(23, 16, 10)
    await sell(client, [{"code": CHIPS}, {"code": COKE, "quantity": 3}], cash)
    await give_back(client, first["id"], [{"index": 0, "quantity": 1}])
    clock.at(24, 3, 5)  # 11:05 local
    await give_back(client, chips["id"], [{"index": 0, "quantity": 1}])
    await sell(client, [{"code": MILK, "quantity": 2}], cash)
    clock.at(24, 4, 0)  # 12:00 local: "today" for the reports
    return client, clock


def journal(client: TestClient) -> sqlite3.Connection:
    return sqlite3.connect(str(client.server.app[LEDGER].path))


def local_day(column: str = "j.ts") -> str:
    return f"date({column}, '{LOCAL}')"


def truth_daily(client: TestClient) -> dict[str, tuple[int, int, int, int]]:
    """Per local day: (sales, returns, gross, returned) from the journal."""
    conn = journal(client)
    try:
        found: dict[str, list[int]] = {}
        for day, kind, n, amount in conn.execute(
            f"SELECT {local_day('ts')}, type, count(*), sum(CASE type"
            " WHEN 'sale.completed' THEN json_extract(data, '$.total')"
            " ELSE json_extract(data, '$.amount') - json_extract(data, '$.rounding') END)"
            " FROM journal WHERE type IN ('sale.completed', 'sale.returned') GROUP BY 1, 2"
        ):
            row = found.setdefault(day, [0, 0, 0, 0])
            if kind == "sale.completed":
                row[0], row[2] = n, amount
            else:
                row[1], row[3] = n, amount
    finally:
        conn.close()
    return {day: (r[0], r[1], r[2], r[3]) for day, r in found.items()}


def truth_net_by(client: TestClient, group: str, day: str | None = None) -> dict[Any, int]:
    """Net line amounts per a sold line's field (returns in the original line's group)."""
    where = f" AND {local_day()} = '{day}'" if day else ""
    conn = journal(client)
    try:
        sold = conn.execute(
            f"SELECT json_extract(l.value, '$.{group}'), sum(json_extract(l.value, '$.amount'))"
            " FROM journal j, json_each(j.data, '$.lines') l"
            f" WHERE j.type = 'sale.completed'{where} GROUP BY 1"
        ).fetchall()
        back = conn.execute(
            f"SELECT json_extract(sl.value, '$.{group}'), sum(json_extract(l.value, '$.amount'))"
            " FROM journal j, json_each(j.data, '$.lines') l, journal s,"
            " json_each(s.data, '$.lines') sl"
            " WHERE j.type = 'sale.returned' AND s.type = 'sale.completed'"
            " AND json_extract(s.data, '$.sale') = json_extract(j.data, '$.sale')"
            f" AND json_extract(sl.value, '$.index') = json_extract(l.value, '$.index'){where}"
            " GROUP BY 1"
        ).fetchall()
    finally:
        conn.close()
    net: dict[Any, int] = {}
    for key, amount in sold:
        net[key] = net.get(key, 0) + amount
    for key, amount in back:
        net[key] = net.get(key, 0) - amount
    return net


def truth_tenders(client: TestClient) -> dict[str, int]:
    conn = journal(client)
    try:
        rows = conn.execute(
            "SELECT json_extract(t.value, '$.kind'), sum(json_extract(t.value, '$.amount'))"
            " FROM journal j, json_each(j.data, '$.tenders') t"
            " WHERE j.type = 'sale.completed' GROUP BY 1"
            " UNION ALL SELECT json_extract(r.value, '$.kind'),"
            " -sum(json_extract(r.value, '$.amount'))"
            " FROM journal j, json_each(j.data, '$.refunds') r"
            " WHERE j.type = 'sale.returned' GROUP BY 1"
        ).fetchall()
    finally:
        conn.close()
    net: dict[str, int] = {}
    for kind, amount in rows:
        net[kind] = net.get(kind, 0) + amount
    return net


def truth_tax(client: TestClient) -> dict[int, int]:
    conn = journal(client)
    try:
        rows = conn.execute(
            "SELECT json_extract(t.value, '$.rate_bp'), sum(json_extract(t.value, '$.tax'))"
            " FROM journal j, json_each(j.data, '$.tax') t"
            " WHERE j.type = 'sale.completed' GROUP BY 1"
            " UNION ALL SELECT json_extract(l.value, '$.tax_rate_bp'),"
            " -sum(json_extract(l.value, '$.tax')) FROM journal j, json_each(j.data, '$.lines') l"
            " WHERE j.type = 'sale.returned' GROUP BY 1"
        ).fetchall()
    finally:
        conn.close()
    tax: dict[int, int] = {}
    for rate, amount in rows:
        tax[rate] = tax.get(rate, 0) + amount
    return tax


def truth_discounts(client: TestClient) -> dict[str, int]:
    conn = journal(client)
    try:
        rows = conn.execute(
            "SELECT coalesce(json_extract(d.value, '$.promotion'),"
            " json_extract(d.value, '$.kind')), sum(json_extract(d.value, '$.amount'))"
            " FROM journal j, json_each(j.data, '$.basket_discounts') d"
            " WHERE j.type = 'sale.completed' GROUP BY 1"
            " UNION ALL SELECT coalesce(json_extract(d.value, '$.promotion'),"
            " json_extract(d.value, '$.kind')), sum(json_extract(d.value, '$.amount'))"
            " FROM journal j, json_each(j.data, '$.lines') l, json_each(l.value, '$.discounts') d"
            " WHERE j.type = 'sale.completed' GROUP BY 1"
        ).fetchall()
    finally:
        conn.close()
    given: dict[str, int] = {}
    for promotion, amount in rows:
        given[promotion] = given.get(promotion, 0) + amount
    return given


async def report(client: TestClient, name: str, **query: Any) -> dict[str, Any]:
    response = await client.get(f"/api/v1/reports/{name}", params=query)
    body = await response.json()
    assert response.status == 200, body
    return dict(body)


RANGE = {"from": "2026-11-23", "to": "2026-11-24"}


async def test_daily_report_splits_local_days_and_nets_returns(
    store: tuple[TestClient, Clock],
) -> None:
    client, _ = store
    daily = await report(client, "daily", **RANGE)
    truth = truth_daily(client)
    assert set(truth) == {"2026-11-23", "2026-11-24"}
    for row in daily["rows"]:
        sales, returns, gross, returned = truth[row["date"]]
        assert (row["sales"], row["returns"], row["gross"], row["returned"]) == (
            sales,
            returns,
            gross,
            returned,
        )
        assert row["net"] == gross - returned
        assert row["average_ticket"] == round((gross - returned) / sales)
    assert [r["sales"] for r in daily["rows"]] == [4, 2]  # 23:50 local is the 23rd, 00:10 not
    assert daily["totals"]["net"] == sum(t[2] - t[3] for t in truth.values())
    one_day = await report(client, "daily", **{"from": "2026-11-24", "to": "2026-11-24"})
    assert one_day["rows"] == daily["rows"][1:]
    today = await report(client, "daily")  # no dates: today in the store's zone
    assert (today["from"], today["to"], today["rows"]) == (
        "2026-11-24",
        "2026-11-24",
        one_day["rows"],
    )


async def test_hourly_report_uses_the_store_time_zone(store: tuple[TestClient, Clock]) -> None:
    client, _ = store
    hourly = await report(client, "hourly", **RANGE)
    conn = journal(client)
    try:
        truth = dict(
            conn.execute(
                f"SELECT CAST(strftime('%H', ts, '{LOCAL}') AS INTEGER), count(*) FROM journal"
                " WHERE type = 'sale.completed' GROUP BY 1"
            ).fetchall()
        )
    finally:
        conn.close()
    assert len(hourly["rows"]) == 24
    assert {r["hour"]: r["sales"] for r in hourly["rows"] if r["sales"]} == truth
    assert truth == {9: 1, 13: 2, 23: 1, 0: 1, 11: 1}
    assert sum(r["net"] for r in hourly["rows"]) == hourly["totals"]["net"]
    daily = await report(client, "daily", **RANGE)
    assert hourly["totals"] == daily["totals"]


async def test_category_payment_tax_and_discounts_match_the_journal(
    store: tuple[TestClient, Clock],
) -> None:
    client, _ = store
    category = await report(client, "category", **RANGE)
    assert {r["category"]: r["net"] for r in category["rows"]} == truth_net_by(client, "category")
    daily = await report(client, "daily", **RANGE)
    assert category["totals"]["net"] == daily["totals"]["net"]  # lines add up to the tickets
    day2 = await report(client, "category", **{"from": "2026-11-24", "to": "2026-11-24"})
    assert {r["category"]: r["net"] for r in day2["rows"]} == truth_net_by(
        client, "category", "2026-11-24"
    )
    payment = await report(client, "payment", **RANGE)
    assert {r["kind"]: r["net"] for r in payment["rows"]} == truth_tenders(client)
    assert {"cash", "card", "qr"} <= {r["kind"] for r in payment["rows"]}
    tax = await report(client, "tax", **RANGE)
    assert {r["rate_bp"]: r["tax"] for r in tax["rows"]} == truth_tax(client)
    assert len(tax["rows"]) == 2  # standard and reduced
    discounts = await report(client, "discounts", **RANGE)
    assert {r["promotion"]: r["amount"] for r in discounts["rows"]} == truth_discounts(client)
    assert discounts["rows"][0]["promotion"] == "SPEND20"


async def test_products_margin_and_stock_value(store: tuple[TestClient, Clock]) -> None:
    client, _ = store
    products = await report(client, "products", limit=2, **RANGE)
    net = truth_net_by(client, "product")
    assert [r["net"] for r in products["rows"]] == sorted(net.values(), reverse=True)[:2]
    assert products["totals"]["net"] == sum(net.values())
    margin = await report(client, "margin", **RANGE)
    rows = {r["product"]: r for r in margin["rows"]}
    coke = rows["COKE"]
    assert coke["quantity"] == 2 + 1 + 3 - 1
    assert coke["cost"] == 5 * COSTS["COKE"]
    assert coke["margin"] == coke["revenue"] - coke["cost"]
    assert rows["APPLE"]["cost"] == COSTS["APPLE"] * 500 // 1000  # per kg, 500 g sold
    assert margin["totals"]["margin"] == sum(r["margin"] for r in margin["rows"])
    value = await report(client, "stock-value", **RANGE)
    stock = {r["product"]: r for r in value["rows"]}
    on_hand = await (await client.get("/api/v1/stock", params={"product": "COKE"})).json()
    assert stock["COKE"]["on_hand"] == on_hand["stock"][0]["on_hand"]
    assert stock["COKE"]["sold_cost"] == 5 * COSTS["COKE"]
    slow = await report(client, "slow-movers", **RANGE)
    assert slow["columns"][0] == "product"


async def test_csv_has_a_header_and_the_same_figures(store: tuple[TestClient, Clock]) -> None:
    client, _ = store
    for name in ("daily", "hourly", "category", "payment", "tax", "discounts", "margin"):
        data = await report(client, name, **RANGE)
        response = await client.get(f"/api/v1/reports/{name}", params=RANGE | {"format": "csv"})
        assert response.status == 200
        assert response.content_type == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        lines = list(csv.reader(io.StringIO(await response.text())))
        assert lines[0] == data["columns"]
        assert len(lines) == len(data["rows"]) + 1
        for line, row in zip(lines[1:], data["rows"], strict=True):
            assert line == ["" if row[c] is None else str(row[c]) for c in data["columns"]]


async def test_dashboard_is_today_at_a_glance(store: tuple[TestClient, Clock]) -> None:
    client, _ = store
    board = await report(client, "dashboard")
    sales, _returns, gross, returned = truth_daily(client)["2026-11-24"]
    assert (board["date"], board["sales"], board["net"]) == ("2026-11-24", sales, gross - returned)
    assert len(board["hourly"]) == 24 and board["top"]
    older = await report(client, "dashboard", date="2026-11-23")
    assert older["sales"] == 4


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"from": "2026-13-01"}, 400, "bad_date"),
        ({"from": "23/11/2026"}, 400, "bad_date"),
        ({"from": "2026-1-1"}, 400, "validation_failed"),
        ({"from": "2026-11-24", "to": "2026-11-23"}, 400, "bad_range"),
        ({"from": "2020-01-01", "to": "2026-11-24"}, 400, "range_too_large"),
        ({"format": "xml"}, 400, "validation_failed"),
        ({"limit": "0"}, 400, "validation_failed"),
        ({"limit": "many"}, 400, "validation_failed"),
    ],
)
async def test_bad_input_gets_a_json_4xx(
    store: tuple[TestClient, Clock], query: dict[str, str], status: int, code: str
) -> None:
    client, _ = store
    response = await client.get("/api/v1/reports/daily", params=query)
    body = await response.json()
    assert response.status == status, body
    assert body["error"]["code"] in (code, "invalid_input", "bad_request")
    if code != "validation_failed":
        assert body["error"]["code"] == code


async def test_unknown_reports_and_roles(store: tuple[TestClient, Clock]) -> None:
    client, _ = store
    response = await client.get("/api/v1/reports/nonsense")
    assert (response.status, (await response.json())["error"]["code"]) == (404, "unknown_report")
    auth = client.server.app[AUTH]
    for role, name, status in (
        ("cashier", "daily", 403),
        ("supervisor", "daily", 200),
        ("supervisor", "margin", 403),
        ("supervisor", "stock-value", 403),
        ("cashier", "dashboard", 403),
    ):
        token = await auth.create_token(f"r-{role[:3]}-{name[:6]}", role, None, Actor())
        answer = await client.get(
            f"/api/v1/reports/{name}", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status == status, (role, name)
        if status != 200:
            assert "error" in await answer.json()
    x = await client.get("/api/v1/reports/x")  # the day's X report still answers at its path
    assert x.status == 200
