"""Who may do what: deny by default, tills by pairing, PIN sign-in with lockout, approvals."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.domain.staff import PERMISSIONS, PUBLIC, ROLES, TILL, may
from edge.services.auth import SIGN_IN_REFUSED
from edge.services.catalog import Actor
from edge.settings import Settings
from edge.web.api import operation_of
from edge.web.auth import APPROVAL_HEADER, CSRF_HEADER, TILL_COOKIE
from edge.web.keys import AUTH, LEDGER
from tests.integration.checkout_store import new_id
from tests.integration.conftest import FakeClock, authorize
from tests.integration.tills import (
    as_manager,
    as_till,
    events,
    manager_client,
    open_till,
    pair,
    sign_in,
)

SALE_LINES = [{"code": "6901234567892", "quantity": 1}]


async def test_every_route_declares_a_known_permission(settings: Settings) -> None:
    app = create_app(settings)
    routes = [r for r in app.router.routes() if r.method != "HEAD"]
    assert len(routes) > 30
    undeclared = []
    for route in routes:
        operation = operation_of(route.handler)
        if operation is None:
            undeclared.append(
                f"{route.method} {route.resource.canonical if route.resource else ''}"
            )
            continue
        assert operation.permission in (*PERMISSIONS, PUBLIC, TILL), operation
    assert undeclared == []


async def test_an_undeclared_route_is_denied_to_everyone(
    make_client: Callable[..., Any],
) -> None:
    client: TestClient = await make_client()

    async def sneaky(_: web.Request) -> web.Response:
        return web.json_response({"leaked": True})

    client.server.app.router._frozen = False
    client.server.app.router.add_get("/api/v1/sneaky", sneaky)
    await authorize(client, role="manager")
    response = await client.get("/api/v1/sneaky")
    assert (response.status, (await response.json())["error"]["code"]) == (
        403,
        "no_permission_declared",
    )


@pytest.mark.parametrize("role", ROLES)
async def test_role_by_route_matrix(make_client: Callable[..., Any], role: str) -> None:
    """Every protected route answers 403 exactly to the roles without its permission."""
    client: TestClient = await make_client()
    await authorize(client, role=role, till="T01", name=f"m-{role}")
    checked = 0
    for route in client.server.app.router.routes():
        operation = operation_of(route.handler)
        if operation is None or operation.permission in (PUBLIC, TILL) or route.method == "HEAD":
            continue
        path = operation.path.replace("{", "").replace("}", "")  # a made-up id for each part
        response = await client.request(route.method, path, json={})
        code = (await response.json()).get("error", {}).get("code")
        if may(role, operation.permission):
            assert response.status not in (401, 403), (role, operation, code)
        else:
            assert (response.status, code) == (403, "approval_required"), (role, operation)
        checked += 1
    assert checked > 25
    untouched = await client.get("/api/v1/staff")
    assert untouched.status == (200 if may(role, "staff.read") else 403)


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("cashier", "sale.create", True),
        ("cashier", "sale.return", False),
        ("cashier", "sale.void", False),
        ("cashier", "price.override", False),
        ("cashier", "drawer.open", False),
        ("cashier", "report.z", False),
        ("cashier", "catalog.write", False),
        ("supervisor", "sale.return", True),
        ("supervisor", "price.override", True),
        ("supervisor", "report.z", False),
        ("supervisor", "staff.write", False),
        ("manager", "report.z", True),
        ("manager", "hours.override", True),
        ("manager", "staff.write", True),
        ("technician", "till.manage", True),
        ("technician", "sale.create", False),
        ("technician", "catalog.write", False),
        ("manager", "no.such.permission", False),
    ],
)
def test_role_by_action_policy(role: str, permission: str, allowed: bool) -> None:
    assert may(role, permission) is allowed


async def test_an_unpaired_browser_cannot_sell_and_a_paired_one_sells_signed_in(
    make_client: Callable[..., Any],
) -> None:
    client = await manager_client(make_client)
    sale = {"id": new_id(), "lines": SALE_LINES, "tenders": [{"kind": "cash", "amount": 300}]}
    as_till(client)
    refused = await client.post("/api/v1/sales", json=sale)
    assert (refused.status, (await refused.json())["error"]["code"]) == (401, "unauthorized")

    as_manager(client)
    csrf = await pair(client, "T03")
    as_till(client)
    nobody = await client.post("/api/v1/sales", json=sale, headers={CSRF_HEADER: csrf})
    assert (nobody.status, (await nobody.json())["error"]["code"]) == (401, "sign_in_required")
    status, session = await sign_in(client, csrf, "C01", "1470")
    assert status == 200, session
    assert (session["till"], session["staff"], session["role"]) == ("T03", "C01", "cashier")
    assert "sale.create" in session["permissions"] and "sale.return" not in session["permissions"]

    await open_till(client, csrf)
    forged = await client.post("/api/v1/sales", json=sale)
    assert (forged.status, (await forged.json())["error"]["code"]) == (403, "csrf")
    cross = await client.post(
        "/api/v1/sales", json=sale, headers={CSRF_HEADER: csrf, "Origin": "http://evil.example"}
    )
    assert (cross.status, (await cross.json())["error"]["code"]) == (403, "cross_site")
    sold = await client.post("/api/v1/sales", json=sale, headers={CSRF_HEADER: csrf})
    assert sold.status == 201, await sold.text()
    body = await sold.json()
    assert (body["till"], body["staff"]) == ("T03", "C01")

    # the session is bound to its till: the same session cookie with another till's device fails
    as_manager(client)
    await pair(client, "T04")  # this browser is now T04; its C01 session belonged to T03
    as_till(client)
    moved = await client.get("/api/v1/session")
    assert (await moved.json())["staff"] is None

    out = await client.delete("/api/v1/session", headers={CSRF_HEADER: "wrong"})
    assert out.status == 403


async def test_five_wrong_pins_lock_and_the_lock_survives_a_restart_then_expires(
    make_client: Callable[..., Any], clock: FakeClock
) -> None:
    client = await manager_client(make_client, lock_after=5, lock_seconds=300)
    csrf = await pair(client, "T01")
    as_till(client)
    answers = [await sign_in(client, csrf, "C01", "9999") for _ in range(5)]
    unknown = await sign_in(client, csrf, "NOBODY", "9999")
    right_but_locked = await sign_in(client, csrf, "C01", "1470")
    for status, body in [*answers, unknown, right_but_locked]:
        assert (status, body["error"]["message"]) == (401, SIGN_IN_REFUSED)
        assert body["error"]["code"] == "sign_in_refused"
    failures = events(client, "auth.sign_in_failed")
    assert len(failures) == 7
    assert all(till == "T01" for till, _, _ in failures)
    assert (
        '"locks":1' in failures[4][2]
        and '"locked_until":"2026-11-23T02:05:00.000' in failures[4][2]
    )

    # a restart: a new server on the same ledger keeps the lock
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    device = cookies[TILL_COOKIE].value
    await client.close()
    again: TestClient = await make_client(lock_after=5, lock_seconds=300)
    again.session.cookie_jar.update_cookies({TILL_COOKIE: device})
    still = await sign_in(again, csrf, "C01", "1470")
    assert (still[0], still[1]["error"]["message"]) == (401, SIGN_IN_REFUSED)

    clock.advance(seconds=301)
    status, session = await sign_in(again, csrf, "C01", "1470")
    assert (status, session["staff"]) == (200, "C01")
    assert len(events(again, "auth.signed_in")) == 1

    # the next lock lasts twice as long
    for _ in range(5):
        await sign_in(again, csrf, "C01", "0000")
    clock.advance(seconds=301)
    assert (await sign_in(again, csrf, "C01", "1470"))[0] == 401
    clock.advance(seconds=300)
    assert (await sign_in(again, csrf, "C01", "1470"))[0] == 200


async def test_a_supervisor_approves_an_override_on_the_cashiers_till(
    make_client: Callable[..., Any],
) -> None:
    client = await manager_client(make_client)
    csrf = await pair(client, "T01")
    as_till(client)
    assert (await sign_in(client, csrf, "C01", "1470"))[0] == 200
    await open_till(client, csrf)
    override = {"unit_price": 200, "reason": "dented can"}
    sale = {
        "id": new_id(),
        "lines": [{"code": "6901234567892", "quantity": 1, "override": override}],
        "tenders": [{"kind": "cash", "amount": 200}],
    }
    headers = {CSRF_HEADER: csrf}
    alone = await client.post("/api/v1/sales", json=sale, headers=headers)
    assert (alone.status, (await alone.json())["error"]["code"]) == (403, "approval_required")
    own = await client.post(
        "/api/v1/sales", json=sale, headers=headers | {APPROVAL_HEADER: "C01:1470"}
    )
    assert (own.status, (await own.json())["error"]["code"]) == (403, "approval_refused")
    wrong = await client.post(
        "/api/v1/sales", json=sale, headers=headers | {APPROVAL_HEADER: "S01:1111"}
    )
    assert (wrong.status, (await wrong.json())["error"]["code"]) == (403, "approval_refused")
    approved = await client.post(
        "/api/v1/sales", json=sale, headers=headers | {APPROVAL_HEADER: "S01:2468"}
    )
    assert approved.status == 201, await approved.text()
    line = (await approved.json())["lines"][0]
    assert line["amount"] == 200 and line["discounts"][0]["kind"] == "override"
    assert line["discounts"][0]["approved_by"] == "S01"  # the sale itself says who allowed it
    approvals = events(client, "auth.approved")
    assert len(approvals) == 2  # C01 (right PIN, wrong role) and S01
    assert approvals[-1][1] == "S01" and '"for":"C01"' in approvals[-1][2]
    assert '"permission":"price.override"' in approvals[-1][2]


async def test_a_cashier_voids_small_sales_alone_and_large_ones_with_approval(
    make_client: Callable[..., Any],
) -> None:
    client = await manager_client(make_client, void_limit=500)
    csrf = await pair(client, "T01")
    as_till(client)
    assert (await sign_in(client, csrf, "C01", "1470"))[0] == 200
    await open_till(client, csrf)
    headers = {CSRF_HEADER: csrf}
    small, large = new_id(), new_id()
    for sale_id, quantity in ((small, 1), (large, 5)):
        body = {
            "id": sale_id,
            "lines": [{"code": "6901234567892", "quantity": quantity}],
            "tenders": [{"kind": "cash", "amount": 5000}],
        }
        assert (await client.post("/api/v1/sales", json=body, headers=headers)).status == 201
    void_small = await client.post(
        f"/api/v1/sales/{small}/void", json={"id": new_id(), "reason": "wrong"}, headers=headers
    )
    assert void_small.status == 201, await void_small.text()
    void_large = {"id": new_id(), "reason": "wrong"}
    refused = await client.post(f"/api/v1/sales/{large}/void", json=void_large, headers=headers)
    assert (refused.status, (await refused.json())["error"]["code"]) == (403, "approval_required")
    approved = await client.post(
        f"/api/v1/sales/{large}/void",
        json=void_large,
        headers=headers | {APPROVAL_HEADER: "S01:2468"},
    )
    assert approved.status == 201, await approved.text()


async def test_staff_records_hold_no_secrets_and_refuse_weak_pins(
    make_client: Callable[..., Any],
) -> None:
    client = await manager_client(make_client)
    new = {"name": "x", "role": "cashier"}
    weak = await client.put("/api/v1/staff/C02", json=new | {"pin": "1234"})
    assert (weak.status, (await weak.json())["error"]["code"]) == (400, "weak_pin")
    nopin = await client.put("/api/v1/staff/C02", json=new)
    assert (nopin.status, (await nopin.json())["error"]["code"]) == (400, "pin_required")
    listed = await (await client.get("/api/v1/staff")).json()
    assert {s["id"] for s in listed["staff"]} == {"C01", "S01"}
    assert "1470" not in str(listed) and "pin" not in str(listed["staff"][0].keys())
    conn = sqlite3.connect(client.server.app[LEDGER].path)
    try:
        journal = "".join(row[0] for row in conn.execute("SELECT data FROM journal"))
    finally:
        conn.close()
    # digests, salts and ids are random hex, where any four digits turn up by chance now and
    # then: the PINs must not appear anywhere else
    words = re.sub(r"[0-9a-f-]{16,}", "", journal)
    assert "1470" not in words and "2468" not in words
    token = await client.server.app[AUTH].create_token("x", "cashier", None, Actor())
    assert token not in journal


async def test_a_revoked_token_and_an_unpaired_till_stop_working(
    make_client: Callable[..., Any],
) -> None:
    client = await manager_client(make_client)
    csrf = await pair(client, "T01")
    as_manager(client)
    cashier_token = await client.server.app[AUTH].create_token("kiosk", "cashier", "K1", Actor())
    for _ in range(2):  # the second time from what the first kept
        alive = await client.get(
            "/api/v1/products", headers={"Authorization": f"Bearer {cashier_token}"}
        )
        assert alive.status == 200
    revoked = await client.delete("/api/v1/tokens/kiosk")
    assert revoked.status == 200
    dead = await client.get(
        "/api/v1/products", headers={"Authorization": f"Bearer {cashier_token}"}
    )
    assert dead.status == 401
    tills = await (await client.get("/api/v1/tills")).json()
    assert [t["id"] for t in tills["tills"]] == ["T01"]
    assert (await client.delete("/api/v1/tills/T01")).status == 200
    as_till(client)
    gone = await client.get("/api/v1/session", headers={CSRF_HEADER: csrf})
    assert gone.status == 200  # a normal answer for the UI: this browser must pair again
    assert await gone.json() == {"till": None, "staff": None, "name": None, "role": None,
                                 "permissions": [], "csrf": None}  # fmt: skip


async def test_who_a_request_is_is_kept_only_while_it_holds(
    make_client: Callable[..., Any], clock: FakeClock
) -> None:
    """The principal kept per credentials goes with an expiry, a sign-out or a kiosk change."""
    client = await manager_client(make_client)
    csrf = await pair(client, "T01")
    as_till(client)
    auth = client.server.app[AUTH]
    device = client.session.cookie_jar.filter_cookies(client.make_url("/"))[TILL_COOKIE].value
    assert auth.principal(bearer=None, device=device, session=None).kind == "till"

    status, _ = await sign_in(client, csrf, "C01", "1470")
    assert status == 200
    for _ in range(2):  # the second answer comes from what the first kept
        assert (await (await client.get("/api/v1/session")).json())["staff"] == "C01"
    clock.advance(hours=12, seconds=1)  # the session's end: nothing else changed
    assert (await (await client.get("/api/v1/session")).json())["staff"] is None

    status, _ = await sign_in(client, csrf, "C01", "1470")
    assert status == 200
    assert (await (await client.get("/api/v1/session")).json())["staff"] == "C01"
    out = await client.delete("/api/v1/session", headers={CSRF_HEADER: csrf})
    assert out.status == 200
    assert (await (await client.get("/api/v1/session")).json())["staff"] is None

    # the browser with nobody signed in was kept as a till: it becomes a kiosk's
    assert auth.principal(bearer=None, device=device, session=None).kind == "till"
    as_manager(client)
    made = await client.post("/api/v1/devices", json={"id": "T01", "type": "kiosk"})
    assert made.status == 201, await made.text()
    assert auth.principal(bearer=None, device=device, session=None).kind == "kiosk"


async def test_a_badge_signs_in_and_an_unknown_badge_gets_the_same_refusal(
    make_client: Callable[..., Any],
) -> None:
    client = await manager_client(make_client)
    with_badge = {"name": "C01", "role": "cashier", "badge": "QR-7731-0042"}
    assert (await client.put("/api/v1/staff/C01", json=with_badge)).status == 200
    taken = await client.put(
        "/api/v1/staff/S01", json={"name": "S01", "role": "supervisor", "badge": "QR-7731-0042"}
    )
    assert (taken.status, (await taken.json())["error"]["code"]) == (409, "badge_conflict")
    csrf = await pair(client, "T01")
    as_till(client)
    headers = {CSRF_HEADER: csrf}
    wrong = await client.post("/api/v1/session", json={"badge": "QR-0000-0000"}, headers=headers)
    assert (wrong.status, (await wrong.json())["error"]["message"]) == (401, SIGN_IN_REFUSED)
    right = await client.post("/api/v1/session", json={"badge": "QR-7731-0042"}, headers=headers)
    assert right.status == 200, await right.text()
    assert (await right.json())["staff"] == "C01"
    signed = events(client, "auth.signed_in")
    assert '"method":"badge"' in signed[-1][2]
    assert "QR-7731-0042" not in str(events(client, "staff.saved"))
