"""The store's forwarder against the real receiver (through a fault proxy where it matters)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestServer

from edge.hq.forwarder import Forwarder
from edge.hq.state import LinkState, load_state, save_state, state_path
from edge.web.keys import LEDGER, UPLINK
from tests.conftest import STORE
from tests.hq.conftest import STORE_KEY, stored
from tests.hq.faults import DROP_AFTER_COMMIT, HANG, RESET, FaultProxy
from tests.hq.stores import Factory, drained, hq_settings, journal, sell, until, url_of
from tests.ops.test_metrics import promtool


async def test_hq_ends_up_with_exactly_the_stores_journal(
    store_factory: Factory, receiver: TestServer, db: asyncpg.Pool
) -> None:
    store = await store_factory(url_of(receiver))
    await sell(store, 25)
    status = await drained(store)
    assert await stored(db) == journal(store)
    assert status["state"] in {"idle", "sending"}
    assert status["last_error"] is None
    answer = await store.get("/api/v1/hq")
    assert (await answer.json())["acked_seq"] == status["head_seq"]
    scraped = await (await store.get("/metrics")).text()
    assert "edge_hq_backlog_events 0.0" in scraped and "edge_hq_stopped 0.0" in scraped
    assert f"edge_hq_acked_seq {float(status['head_seq'])}" in scraped
    linted = await asyncio.to_thread(promtool, "check", "metrics", stdin=scraped)
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


async def test_a_restart_resumes_from_the_acknowledged_cursor(
    store_factory: Factory, receiver: TestServer, aiohttp_server: Any, db: asyncpg.Pool
) -> None:
    proxy = FaultProxy(url_of(receiver))
    front = await aiohttp_server(proxy.app(), auto_decompress=False)
    store = await store_factory(url_of(front))
    await sell(store, 5)
    acked = (await drained(store))["acked_seq"]
    ledger_path = store.server.app[LEDGER].path
    await store.close()
    assert load_state(state_path(ledger_path)).acked_seq == acked
    proxy.seen.clear()
    store = await store_factory(url_of(front))
    await sell(store, 5)
    await drained(store)
    first_ranges = [s.idempotency for s in proxy.seen if s.idempotency]
    assert first_ranges[0] is not None
    assert first_ranges[0].split(":")[1].startswith(f"{acked + 1}-")  # nothing resent
    assert await stored(db) == journal(store)


async def test_transient_failures_are_retried_and_retry_after_is_honoured(
    store_factory: Factory, receiver: TestServer, aiohttp_server: Any, db: asyncpg.Pool
) -> None:
    proxy = FaultProxy(
        url_of(receiver), plan=["503:2", "500", RESET, HANG, DROP_AFTER_COMMIT, "429:1"]
    )
    front = await aiohttp_server(proxy.app(), auto_decompress=False)
    store = await store_factory(url_of(front))
    await sell(store, 3)
    await drained(store, within=30)
    assert await stored(db) == journal(store)
    actions = [s.action for s in proxy.seen]
    assert actions[:6] == ["503:2", "500", RESET, HANG, DROP_AFTER_COMMIT, "429:1"]
    # Retry-After: 2 was waited for on the monotonic clock before the next attempt
    assert proxy.seen[1].at - proxy.seen[0].at >= 1.9
    assert proxy.seen[6].at - proxy.seen[5].at >= 0.9
    # the range whose answer was lost went again and HQ answered it as one it has
    assert proxy.seen[6].idempotency == proxy.seen[4].idempotency
    status = store.server.app[UPLINK].status()
    assert status["last_error"]["code"] == "proxy_429"
    assert status["batches"]["retry"] >= 5


async def test_a_refused_batch_stops_forwarding_but_not_selling_until_retried(
    store_factory: Factory, receiver: TestServer, aiohttp_server: Any, db: asyncpg.Pool
) -> None:
    proxy = FaultProxy(url_of(receiver), plan=["422"])
    front = await aiohttp_server(proxy.app(), auto_decompress=False)
    store = await store_factory(url_of(front))
    await sell(store, 2)
    uplink = store.server.app[UPLINK]
    await until(lambda: uplink.status()["stopped"] is not None)
    stop = uplink.status()["stopped"]
    assert (stop["seq"], stop["status"], stop["code"]) == (1, 422, "proxy_422")
    await sell(store, 2)  # the store sells on
    scraped = await (await store.get("/metrics")).text()
    assert "edge_hq_stopped 1.0" in scraped
    assert "edge_hq_backlog_events 0.0" not in scraped
    assert 'edge_hq_batches_total{outcome="stop"} 1.0' in scraped
    await asyncio.sleep(1.5)
    assert len(proxy.seen) == 1  # and forwards nothing more on its own
    assert await stored(db) == []
    # the operator's retry, through the API (a technician; a cashier may not)
    answer = await store.post("/api/v1/hq/retry")
    assert answer.status == 202, await answer.text()
    await drained(store)
    assert await stored(db) == journal(store)
    again = await store.post("/api/v1/hq/retry")
    assert (again.status, (await again.json())["error"]["code"]) == (409, "not_stopped")


async def test_edge_hq_retry_and_status_work_from_the_command_line(
    store_factory: Factory, receiver: TestServer, aiohttp_server: Any, db: asyncpg.Pool
) -> None:
    proxy = FaultProxy(url_of(receiver), plan=["401"])
    front = await aiohttp_server(proxy.app(), auto_decompress=False)
    store = await store_factory(url_of(front))
    await sell(store, 1)
    uplink = store.server.app[UPLINK]
    await until(lambda: uplink.status()["stopped"] is not None)
    db_path = str(store.server.app[LEDGER].path)

    def edge(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "edge", "hq", *args, "--db", db_path],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip

    shown = await asyncio.to_thread(edge, "status", "--json")
    assert shown.returncode == 2, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["stopped"]["code"] == "proxy_401"
    assert doc["backlog_events"] == doc["head_seq"] > 0
    assert doc["oldest_unsent_ts"] is not None
    text = await asyncio.to_thread(edge, "status")
    assert "STOPPED" in text.stdout and "edge hq retry" in text.stdout
    retried = await asyncio.to_thread(edge, "retry")
    assert retried.returncode == 0 and "retry requested from seq 1" in retried.stdout
    await drained(store)
    assert await stored(db) == journal(store)
    shown = await asyncio.to_thread(edge, "status", "--json")
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["backlog_events"] == 0


async def test_a_store_clock_hours_wrong_still_forwards(
    store_factory: Factory, receiver: TestServer, db: asyncpg.Pool, tmp_path: Path
) -> None:
    store = await store_factory("")  # no link of its own: this test runs one by hand
    await sell(store, 2)
    ledger = store.server.app[LEDGER]
    settings = hq_settings(tmp_path, url_of(receiver))
    slow = Forwarder(
        ledger_path=ledger.path, store=STORE.id, settings=settings.hq, key=STORE_KEY,
        head=lambda: ledger.head[0], wall=lambda: time.time() - 7200,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(slow.run(stop))
    try:
        await until(lambda: slow.state.acked_seq == ledger.head[0], within=15)
    finally:
        stop.set()
        await task
    assert abs(slow.state.skew_s - 7200) < 5  # learnt from HQ's Date header
    assert slow.state.stopped is None
    assert await stored(db) == journal(store)


async def test_hq_ahead_of_the_store_and_a_cursor_past_the_ledger_raise_alarms(
    store_factory: Factory, aiohttp_server: Any, receiver: TestServer, tmp_path: Path
) -> None:
    proxy = FaultProxy(url_of(receiver), plan=[])
    front = await aiohttp_server(proxy.app(), auto_decompress=False)
    store = await store_factory(url_of(front))
    await sell(store, 1)
    await drained(store)
    ledger_path = store.server.app[LEDGER].path
    head = store.server.app[LEDGER].head[0]
    await store.close()
    # the ledger was restored from an older backup: the cursor points past its end
    save_state(state_path(ledger_path), LinkState(acked_seq=head + 50))
    store = await store_factory(url_of(front))
    uplink = store.server.app[UPLINK]
    await until(lambda: uplink.status()["stopped"] is not None)
    assert uplink.status()["stopped"]["code"] == "cursor_ahead"
    await sell(store, 1)  # selling goes on


async def test_bad_answers_from_hq_are_retried_not_believed(
    store_factory: Factory, aiohttp_server: Any
) -> None:
    from aiohttp import web  # noqa: PLC0415

    answers = [
        web.json_response({"acked_seq": "all of it"}),
        web.json_response({"expected_seq": 10_000}, status=409),
    ]
    seen: list[float] = []

    async def scripted(_request: web.Request) -> web.Response:
        seen.append(time.monotonic())
        return answers.pop(0) if answers else web.json_response({"acked_seq": 0})

    app = web.Application()
    app.router.add_post("/v1/stores/{store}/batches", scripted)
    hq = await aiohttp_server(app)
    store = await store_factory(url_of(hq))
    await sell(store, 1)
    uplink = store.server.app[UPLINK]
    await until(lambda: uplink.status()["stopped"] is not None)
    status = uplink.status()
    assert status["stopped"]["code"] == "hq_ahead"  # HQ claims seqs the store never made
    assert status["acked_seq"] == 0
    assert len(seen) == 2


async def test_batches_stay_under_the_byte_cap_and_lose_nothing(
    store_factory: Factory, receiver: TestServer, aiohttp_server: Any, db: asyncpg.Pool
) -> None:
    store = await store_factory("")  # build a backlog first, with no link
    await sell(store, 600)
    await store.close()
    proxy = FaultProxy(url_of(receiver))
    front = await aiohttp_server(proxy.app(), auto_decompress=False)
    cap = 64 * 1024
    store = await store_factory(url_of(front), batch_bytes=cap)
    await drained(store, within=30)
    assert await stored(db) == journal(store)
    sizes = [s.size for s in proxy.seen]
    assert len(sizes) > 1 and max(sizes) <= cap, sizes  # cut by bytes, not by the 5,000 events
