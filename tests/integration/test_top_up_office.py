"""Stored-value top-ups from the back office: card and QR need no till, cash needs a drawer.

The office client holds a manager token without a till; a cashier's token on T01 opens the
till (and with it the business day). A card top-up from the office records
`till_session: null`, is counted by the X and Z reports as a card taking and a top-up, and
never as cash expected in a drawer. Cash without an open till is refused and nothing is
written; a retry with the same id answers the first result and records one event.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.services.catalog import Actor
from edge.services.payments import APPROVE_CARD, QR_APPROVE, SimulatedTerminal
from edge.settings import Settings
from edge.web.keys import AUTH, LEDGER
from tests.integration.checkout_store import head, new_id, stock_up
from tests.integration.conftest import authorize

FLOAT = 20_000


@pytest.fixture
async def office(
    aiohttp_client: Any, settings: Settings, terminal: SimulatedTerminal
) -> TestClient:
    """A manager's client without a till (the back office), with the catalog and member M1."""
    client: TestClient = await aiohttp_client(create_app(settings, payments=terminal))
    await authorize(client, role="manager", till=None, name="office")
    await stock_up(client, promotion=False, till_float=None)
    return client


async def till_token(client: TestClient, till: str = "T01") -> dict[str, str]:
    """Return the headers of a cashier's token on `till`."""
    token = await client.server.app[AUTH].create_token(f"c-{till}", "cashier", till, Actor())
    return {"Authorization": f"Bearer {token}"}


async def open_till(client: TestClient, who: dict[str, str]) -> None:
    """Open the till of `who` with the float (this opens the business day)."""
    opened = await client.post("/api/v1/till/open", json={"float": FLOAT}, headers=who)
    assert opened.status == 201, await opened.text()


def top_up_events(client: TestClient) -> list[tuple[str | None, dict[str, Any]]]:
    """Return (till, data) of every stored_value.topped_up event, oldest first."""
    conn = sqlite3.connect(client.server.app[LEDGER].path)
    try:
        rows = conn.execute(
            "SELECT till, data FROM journal WHERE type = 'stored_value.topped_up' ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    return [(row[0], json.loads(row[1])) for row in rows]


async def balance(client: TestClient, member: str = "M1") -> int:
    """Return a member's stored-value balance as the API shows it."""
    found = await (await client.get(f"/api/v1/members/lookup?key={member}")).json()
    return int(found["stored_value"])


async def test_a_card_top_up_needs_no_till_and_a_retry_is_the_same_top_up(
    office: TestClient, terminal: SimulatedTerminal
) -> None:
    await open_till(office, await till_token(office))
    body = {
        "id": new_id(),
        "amount": 10_000,
        "bonus": 500,
        "tender": "card",
        "presented": APPROVE_CARD,
    }
    first = await office.post("/api/v1/members/M1/top-ups", json=body)
    assert first.status == 201, await first.text()
    answer = await first.json()
    assert answer == {"top_up": body["id"], "member": "M1", "balance": 10_500}
    assert await balance(office) == 10_500
    calls, length = terminal.calls, head(office)

    again = await office.post("/api/v1/members/M1/top-ups", json=body)
    assert (again.status, await again.json()) == (201, answer)
    assert (terminal.calls, head(office)) == (calls, length)  # not charged, not recorded again
    assert await balance(office) == 10_500

    ((till, event),) = top_up_events(office)
    assert till is None
    assert event["till_session"] is None
    assert (event["amount"], event["bonus"], event["balance"]) == (10_000, 500, 10_500)
    assert event["tender"]["kind"] == "card"
    assert event["tender"]["masked_pan"].endswith("1111")
    assert APPROVE_CARD not in json.dumps(event)  # the card number is never stored


async def test_cash_without_an_open_till_is_refused_and_nothing_is_written(
    office: TestClient,
) -> None:
    await open_till(office, await till_token(office))  # a day is open, but not at this desk
    before = head(office)
    body = {"id": new_id(), "amount": 5_000, "tender": "cash"}
    refused = await office.post("/api/v1/members/M1/top-ups", json=body)
    assert refused.status == 409
    error = (await refused.json())["error"]
    assert error["code"] == "no_till"
    assert "cash" in error["message"] and "open till" in error["message"]
    assert head(office) == before
    assert await balance(office) == 0

    # a paired screen whose till is not open (the office's own pairing) is refused the same way
    desk = await till_token(office, "OFFICE")
    before = head(office)  # (the token is an event of its own)
    closed = await office.post("/api/v1/members/M1/top-ups", json=body, headers=desk)
    assert closed.status == 409
    assert (await closed.json())["error"]["code"] == "till_closed"
    assert head(office) == before

    # the same screen takes a QR top-up: no drawer, no session
    qr = {"id": new_id(), "amount": 3_000, "tender": "qr", "presented": QR_APPROVE}
    taken = await office.post("/api/v1/members/M1/top-ups", json=qr, headers=desk)
    assert (taken.status, (await taken.json())["balance"]) == (201, 3_000)
    ((till, event),) = top_up_events(office)
    assert (till, event["till_session"], event["tender"]["kind"]) == ("OFFICE", None, "qr")


async def test_a_till_less_top_up_waits_for_an_open_business_day(
    office: TestClient, terminal: SimulatedTerminal
) -> None:
    before = head(office)
    body = {"id": new_id(), "amount": 2_000, "tender": "card", "presented": APPROVE_CARD}
    refused = await office.post("/api/v1/members/M1/top-ups", json=body)
    assert refused.status == 409
    assert (await refused.json())["error"]["code"] == "no_open_day"
    assert (head(office), terminal.calls) == (before, 0)  # refused before charging the card
    await open_till(office, await till_token(office))
    taken = await office.post("/api/v1/members/M1/top-ups", json=body)
    assert (taken.status, (await taken.json())["balance"]) == (201, 2_000)


async def test_reports_count_an_office_card_top_up_but_not_in_any_drawer(
    office: TestClient,
) -> None:
    cashier = await till_token(office)
    await open_till(office, cashier)
    at_till = {"id": new_id(), "amount": 1_000}
    cash = await office.post("/api/v1/members/M1/top-ups", json=at_till, headers=cashier)
    assert cash.status == 201, await cash.text()
    card = {"id": new_id(), "amount": 4_000, "bonus": 400, "tender": "card"}
    assert (await office.post("/api/v1/members/M1/top-ups", json=card)).status == 201
    assert await balance(office) == 5_400
    (_, at_desk), (_, at_office) = top_up_events(office)
    assert at_desk["till_session"] is not None and at_office["till_session"] is None

    x = await (await office.get("/api/v1/reports/x")).json()
    assert x["top_ups"] == 5_000
    tenders = {t["kind"]: t["taken"] for t in x["tenders"]}
    assert (tenders["cash"], tenders["card"]) == (1_000, 4_000)
    assert set(x["drawers"]) == {"T01"}
    assert x["drawers"]["T01"]["top_ups"] == 1_000
    assert x["drawers"]["T01"]["expected"] == FLOAT + 1_000
    till_x = await (await office.get("/api/v1/reports/x?till=T01")).json()
    assert (till_x["top_ups"], till_x["drawers"]["T01"]["expected"]) == (1_000, FLOAT + 1_000)

    closed = await office.post(
        "/api/v1/till/close", json={"counted": FLOAT + 1_000}, headers=cashier
    )
    assert closed.status == 200, await closed.text()
    assert (await closed.json())["over_short"] == 0  # the card top-up is no cash at T01
    z = await office.post("/api/v1/reports/z", json={})
    assert z.status == 201, await z.text()
    report = (await z.json())["report"]
    assert report["top_ups"] == 5_000
    assert {t["kind"]: t["taken"] for t in report["tenders"]}["card"] == 4_000
    assert (report["over_short"], set(report["drawers"])) == (0, {"T01"})
