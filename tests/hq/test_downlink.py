"""The catalog downlink against the real receiver: all-or-nothing, recorded, correctable.

HQ publishes changes (`edge hq publish` / `publish_changes`); the store's downlink applies them
in one ledger command with the back office's rules, or refuses them whole and says why while
it sells from its last good catalog. Transfers go from one store to another through HQ.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge.app import create_app
from edge.hq.receiver import publish_changes
from edge.ledger.schema import connect
from edge.services.store import init_store_ledger
from edge.settings import HqSettings, PathSettings, Secrets, Settings, StoreSettings
from edge.web.keys import LEDGER, UPLINK
from tests.hq.stores import Factory, drained, journal, sell, until, url_of
from tests.integration.checkout_store import stock_up
from tests.integration.conftest import authorize

FAST = {"catalog_interval_s": 1}
GOOD = [
    {"kind": "category", "body": {"id": "bakery", "name_zh": "面包", "name_en": "Bakery"}},
    {
        "kind": "product",
        "body": {
            "id": "BREAD",
            "name_zh": "吐司",
            "name_en": "Toast",
            "category": "bakery",
            "list_price": 890,
            "barcodes": ["6901234567007"],
        },
    },
    {"kind": "price", "body": {"product": "COKE", "list_price": 350, "member_price": 320}},
    {
        "kind": "promotion",
        "body": {
            "id": "BREAD10",
            "name_zh": "吐司九折",
            "kind": "percent_off",
            "percent_bp": 1000,
            "scope": {"products": ["BREAD"]},
        },
    },
    {"kind": "member", "body": {"id": "HQM1", "name": "王芳", "phone": "13900000001"}},
    {"kind": "staff", "body": {"id": "C77", "name": "新收银员", "role": "cashier"}},
]


def events(client: TestClient, *types: str) -> list[tuple[int, str, dict[str, Any]]]:
    """Return (seq, type, data) of the journal's events of `types`, in order."""
    conn = connect(client.server.app[LEDGER].path, read_only=True)
    try:
        marks = ",".join("?" * len(types))
        rows = conn.execute(
            f"SELECT seq, type, data FROM journal WHERE type IN ({marks}) ORDER BY seq", types
        ).fetchall()
        return [(int(s), str(t), json.loads(d)) for s, t, d in rows]
    finally:
        conn.close()


def downlink(client: TestClient) -> dict[str, Any]:
    """Return the store's downlink status."""
    status: dict[str, Any] = client.server.app[UPLINK].status()["downlink"]
    return status


async def publish(db: asyncpg.Pool, changes: list[dict[str, Any]], store: str | None = None) -> int:
    """Publish changes at HQ; return the last version."""
    async with db.acquire() as conn:
        versions = await publish_changes(conn, store, changes)
    return versions[-1]


async def test_hq_changes_are_applied_at_once_recorded_and_sold_at(
    store_factory: Factory, receiver: TestServer, db: asyncpg.Pool
) -> None:
    store = await store_factory(url_of(receiver), **FAST)
    head_before = store.server.app[LEDGER].head[0]
    version = await publish(db, GOOD)
    await until(lambda: downlink(store)["version"] == version)
    applied = [e for e in events(store, *ALL_TYPES) if e[0] > head_before]
    types = [t for _, t, _ in applied]
    assert types == [
        "catalog.category_saved",
        "catalog.product_saved",
        "catalog.product_saved",
        "catalog.promotion_saved",
        "member.saved",
        "staff.saved",
        "catalog.synced",
    ]
    seqs = [s for s, _, _ in applied]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # one command, nothing between
    synced = applied[-1][2]
    assert (synced["from_version"], synced["version"], synced["changes"]) == (0, version, 6)
    assert synced["outcomes"] == {"created": 5, "updated": 1}
    # the till sells at HQ's prices and promotion at once
    priced = await store.post(
        "/api/v1/baskets/price",
        json={
            "lines": [{"code": "6901234567007", "quantity": 1}, {"product": "COKE", "quantity": 1}]
        },
    )
    assert priced.status == 200, await priced.text()
    basket = await priced.json()
    assert basket["total"] == 890 - 89 + 350
    coke = await (await store.get("/api/v1/products/COKE")).json()
    assert (coke["list_price"], coke["member_price"], coke["name_zh"]) == (350, 320, "可乐")
    # HQ's staff member exists, without a PIN until the store sets one: no PIN signs in
    staff = await (await store.get("/api/v1/staff")).json()
    assert any(s["id"] == "C77" and s["role"] == "cashier" for s in staff["staff"])
    # nothing more to apply: the next syncs record nothing
    await asyncio.sleep(2.2)
    assert len(events(store, "catalog.synced")) == 1
    status = (await (await store.get("/api/v1/hq")).json())["downlink"]
    assert (status["state"], status["version"], status["rejected"]) == ("idle", version, None)
    scraped = await (await store.get("/metrics")).text()
    assert f"edge_hq_catalog_version {float(version)}" in scraped
    assert "edge_hq_catalog_rejected 0.0" in scraped
    # and the changes went up to HQ with the rest of the journal
    await drained(store)
    kinds = await db.fetch("SELECT type FROM hq_events WHERE type = 'catalog.synced'")
    assert len(kinds) == 1


ALL_TYPES = (
    "catalog.category_saved",
    "catalog.product_saved",
    "catalog.promotion_saved",
    "member.saved",
    "staff.saved",
    "staff.pin_set",
    "catalog.synced",
    "catalog.sync_rejected",
    "transfer.announced",
    "transfer.confirmed",
)


async def test_a_bad_change_is_refused_whole_and_a_correction_applies_the_set(
    store_factory: Factory, receiver: TestServer, db: asyncpg.Pool, tmp_path: Path
) -> None:
    store = await store_factory(url_of(receiver), **FAST)
    before = events(store, *ALL_TYPES)
    bad = [
        {"kind": "product", "body": {"id": "JAM", "name_zh": "果酱", "list_price": 1590}},
        # Coke's barcode: a clash only the store's catalog can see
        {
            "kind": "product",
            "body": {
                "id": "SODA",
                "name_zh": "汽水",
                "list_price": 250,
                "barcodes": ["6901234567892"],
            },
        },
        {"kind": "price", "body": {"product": "GHOST", "list_price": 100}},
        {"kind": "member", "body": {"id": "X", "phone": "not-a-phone"}},
    ]
    version = await publish(db, bad)
    await until(lambda: downlink(store)["rejected"] is not None)
    after = events(store, *ALL_TYPES)
    added = after[len(before) :]
    assert [t for _, t, _ in added] == ["catalog.sync_rejected"]  # nothing else applied
    refusal = added[0][2]
    assert (refusal["from_version"], refusal["version"]) == (0, version)
    named = {(p["kind"], p["entity"]) for p in refusal["problems"]}
    assert named == {("member", "member:X")}  # checked on its own first: refused before the ledger
    # the store sells on, from its last good catalog
    await sell(store, 1)
    jam = await store.get("/api/v1/products/JAM")
    assert jam.status == 404
    # HQ corrects the member; now the set reaches the ledger, where the clash and the unknown
    # product are found — still refused whole, with both named
    version = await publish(db, [{"kind": "member", "body": {"id": "X", "phone": "13900000002"}}])
    await until(lambda: (downlink(store)["rejected"] or {}).get("version") == version)
    refusal = events(store, "catalog.sync_rejected")[-1][2]
    named = {(p["kind"], p["entity"], p["path"]) for p in refusal["problems"]}
    assert ("product", "product:SODA", "barcodes[0]") in named
    assert ("price", "product:GHOST", "unknown_product") in named
    assert all(p["entity"] != "member:X" for p in refusal["problems"])
    assert (await store.get("/api/v1/products/JAM")).status == 404
    # the same refusal is recorded once, however often the store asks again
    await asyncio.sleep(2.2)
    assert len(events(store, "catalog.sync_rejected")) == 2
    scraped = await (await store.get("/metrics")).text()
    assert "edge_hq_catalog_rejected 1.0" in scraped
    status = await asyncio.to_thread(hq_status, store)
    assert status.returncode == 2, status.stdout + status.stderr
    assert "CATALOG REFUSED" in status.stdout
    # HQ publishes corrected records: they supersede the bad ones and the whole set applies
    version = await publish(
        db,
        [
            {"kind": "product", "body": {"id": "SODA", "name_zh": "汽水", "list_price": 250}},
            {"kind": "product", "body": {"id": "GHOST", "name_zh": "幽灵", "list_price": 100}},
        ],
    )
    await until(lambda: downlink(store)["version"] == version)
    assert downlink(store)["rejected"] is None
    for pid in ("JAM", "SODA", "GHOST"):
        assert (await store.get(f"/api/v1/products/{pid}")).status == 200
    synced = events(store, "catalog.synced")[-1][2]
    # the bad member, SODA with Coke's barcode and GHOST's price gave way to later records
    assert (synced["changes"], synced["superseded"]) == (7, 3)
    status = await asyncio.to_thread(hq_status, store)
    assert status.returncode == 0, status.stdout + status.stderr


def hq_status(store: TestClient) -> subprocess.CompletedProcess[str]:
    """Run `edge hq status` on the store's ledger."""
    path = store.server.app[LEDGER].path
    return subprocess.run(
        [sys.executable, "-m", "edge", "hq", "status", "--db", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


class FakeHq:
    """An HQ whose catalog answers are scripted (bad ones included); batches wait."""

    def __init__(self, answers: list[tuple[int, Any, dict[str, str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/stores/{store}/batches", self.batches)
        app.router.add_get("/v1/stores/{store}/catalog", self.catalog)
        return app

    async def batches(self, request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "busy", "message": "later"}}, status=503,
                                 headers={"Retry-After": "60"})  # fmt: skip

    async def catalog(self, request: web.Request) -> web.Response:
        self.asked.append(request.query_string)
        status, body, headers = self.answers.pop(0) if self.answers else (200, "[]", {})
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=status, text=text, headers=headers,
                            content_type="application/json")  # fmt: skip


async def test_bad_answers_from_hq_change_nothing_and_are_reported(
    store_factory: Factory, aiohttp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    product = {"id": "JAM", "name_zh": "果酱", "list_price": 1590}
    answers: list[tuple[int, Any, dict[str, str]]] = [
        (200, "{not json", {}),
        (200, {"version": 5, "changes": [{"version": 5, "kind": "product", "body": product},
                                         {"version": 4, "kind": "product", "body": product}],
               "more": False}, {}),  # versions going backwards
        (200, {"changes": [], "more": False}, {}),  # no version
        (200, {"version": 2, "changes": "nope", "more": False}, {}),
        (500, "boom", {}),
        (401, {"error": {"code": "bad_signature", "message": "stale"}}, {}),
        (200, {"version": 3, "changes": [{"version": 3, "kind": "product", "body": product}],
               "more": False}, {}),
    ]  # fmt: skip
    hq = FakeHq(answers)
    server = await aiohttp_server(hq.app())
    store = await store_factory(url_of(server), catalog_interval_s=1, backoff_max_s=1)
    head = store.server.app[LEDGER].head[0]
    caplog.set_level(logging.WARNING, logger="edge.hq.downlink")
    shown: set[str] = set()

    def progressed() -> bool:
        error = downlink(store)["last_error"]
        if error:
            shown.add(error["code"])
        return downlink(store)["version"] == 3

    await until(progressed, within=30)
    # every failure is logged with its code; the status shows the last one until a sync works
    # (a retry may come within the status poll's 50 ms: full jitter can draw a delay near 0)
    logged = {
        str(record.args[0])
        for record in caplog.records
        if record.name == "edge.hq.downlink"
        and record.msg.startswith("HQ catalog sync failed")
        and isinstance(record.args, tuple)
    }
    assert logged >= {"bad_downlink", "http_500", "bad_signature"}
    assert shown and shown <= logged
    # nothing but the good answer reached the ledger: two events (product, synced)
    assert store.server.app[LEDGER].head[0] == head + 2
    assert hq.asked[0] == "since=0" and hq.asked[-1] == "since=0"
    assert downlink(store)["state"] == "idle" and downlink(store)["last_error"] is None
    await sell(store, 1)


async def second_store(
    aiohttp_client: Any, tmp_path: Path, url: str, db: asyncpg.Pool, store_id: str
) -> TestClient:
    """Start another store (its own ledger and key) linked to the same HQ."""
    key = f"{store_id}-key-long-enough-for-hq"
    await db.execute("INSERT INTO hq_stores(store, key) VALUES ($1, $2)", store_id, key)
    settings = Settings(
        store=StoreSettings(id=store_id, name=store_id, currency="CNY", timezone="Asia/Shanghai"),
        paths=PathSettings(data_dir=tmp_path / store_id),
        hq=HqSettings(url=url, timeout_s=1, backoff_max_s=1, idle_s=1, catalog_interval_s=1),
        secrets=Secrets(hq_key=key),
    )
    await init_store_ledger(settings)
    client: TestClient = await aiohttp_client(create_app(settings))
    await authorize(client)
    await stock_up(client, promotion=False, member=False)
    return client


async def stock_of(client: TestClient, product: str) -> int:
    """Return a product's stock on hand."""
    answer = await client.get(f"/api/v1/stock?product={product}")
    assert answer.status == 200, await answer.text()
    doc = await answer.json()
    rows = [row for row in doc["stock"] if row["product"] == product]
    return int(rows[0]["on_hand"]) if rows else 0


async def test_a_transfer_goes_through_hq_and_comes_back_with_its_discrepancies(
    store_factory: Factory,
    receiver: TestServer,
    db: asyncpg.Pool,
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    sender = await store_factory(url_of(receiver), **FAST)
    other = await second_store(aiohttp_client, tmp_path, url_of(receiver), db, "S-TWO")
    for client in (sender, other):
        answer = await client.post(
            "/api/v1/stock/receipts",
            json={"id": str(uuid.uuid4()), "items": [{"product": "MILK", "quantity": 50}]},
        )
        assert answer.status == 201, await answer.text()
    transfer = str(uuid.uuid4())
    sent = await sender.post(
        "/api/v1/transfers/out",
        json={"id": transfer, "to_store": "S-TWO",
              "lines": [{"product": "MILK", "quantity": 12}, {"product": "COKE", "quantity": 6}]},
    )  # fmt: skip
    assert sent.status == 201, await sent.text()
    assert await stock_of(sender, "MILK") == 38
    # HQ routes it to S-TWO's downlink: goods in transit there
    path = f"/api/v1/transfers/{transfer}"

    async def arrived() -> dict[str, Any]:
        for _ in range(200):
            answer = await other.get(path)
            if answer.status == 200:
                return dict(await answer.json())
            await asyncio.sleep(0.1)
        raise AssertionError("the transfer never reached S-TWO")

    incoming = await arrived()
    assert (incoming["direction"], incoming["other_store"], incoming["status"]) == (
        "in", "S-TEST", "in_transit",
    )  # fmt: skip
    # S-TWO counts what came: two bottles of milk short
    got = await other.post(
        f"{path}/receive",
        json={"lines": [{"product": "MILK", "quantity": 10}, {"product": "COKE", "quantity": 6}]},
    )
    assert got.status == 200, await got.text()
    assert await stock_of(other, "MILK") == 60
    # the receipt goes back through HQ: the sender sees what arrived and the difference
    for _ in range(200):
        state = await (await sender.get(path)).json()
        if state["status"] == "received":
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "received", state
    assert state["discrepancies"] == [
        {"product": "MILK", "sent": 12, "received": 10, "difference": -2}
    ]
    row = await db.fetchrow("SELECT from_store, received FROM hq_transfers WHERE id = $1", transfer)
    assert row is not None and row["from_store"] == "S-TEST"
    assert row["received"] is not None
    confirmed = events(sender, "transfer.confirmed")
    assert [d["transfer"] for _, _, d in confirmed] == [transfer]
    # both journals reach HQ whole, and routing happened once however often batches were sent
    await drained(sender)
    await drained(other)
    routed = await db.fetch("SELECT store, kind FROM hq_catalog ORDER BY version")
    assert [(r["store"], r["kind"]) for r in routed] == [
        ("S-TWO", "transfer"), ("S-TEST", "transfer_receipt"),
    ]  # fmt: skip
    assert journal(sender)[-1][0] >= confirmed[0][0]
