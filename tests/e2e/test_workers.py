"""`edge serve` with two worker processes on one port and one ledger file, as a store runs it."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from edge.bench.checkout import catalog_rows, free_port, prepare_store, sale_body
from edge.ledger.ledger import Ledger, utc_clock
from edge.ledger.verify import verify_file
from edge.services.auth import Auth, store_pepper
from edge.services.catalog import Actor
from edge.settings import HttpSettings, PathSettings, Settings, load_settings, render_toml
from tests.conftest import STORE

SALES = 240
THREADS = 12


def request(
    port: int, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        raw = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=raw, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def wait_ready(port: int, child: subprocess.Popen[bytes], seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AssertionError(f"server exited: {child.communicate()}")
        try:
            status, body = request(port, "GET", "/readyz")
            if status == 200:
                return body  # type: ignore[no-any-return]
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("never ready")


def test_two_workers_share_the_port_and_the_ledger(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(
        store=STORE,
        paths=PathSettings(data_dir=tmp_path / "data"),
        http=HttpSettings(host="127.0.0.1", port=port, workers=2),
    )
    config = tmp_path / "edge.toml"
    config.write_text(render_toml(settings), encoding="utf-8")
    settings = load_settings(config, env={})
    rows, barcodes = catalog_rows()
    tokens, manager = asyncio.run(_prepare(settings, rows))  # cashiers of T0..T2, a manager
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    child = subprocess.Popen(
        [sys.executable, "-m", "edge", "serve", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        ready = wait_ready(port, child)
        while "workers" not in ready["checks"]:  # a worker answered: ask until the primary does
            ready = wait_ready(port, child)
        assert ready["checks"]["workers"] == {"ok": True, "detail": "1 of 1 workers serving"}
        pids = {request(port, "GET", "/healthz")[1]["pid"] for _ in range(40)}
        assert len(pids) == 2, pids  # new connections reach both processes
        time.sleep(1)  # the processes republish their counts of the connections just closed
        kept = _kept_connections(port, 20)  # tills that keep their connections: spread evenly
        assert sorted(kept.values()) in ([10, 10], [9, 11]), kept

        # a price change made through one process prices the next basket in both
        product = {
            "name_zh": "改价",
            "category": "drinks",
            "list_price": 4_321,
            "barcodes": [barcodes[0]],
        }
        assert request(port, "PUT", "/api/v1/products/BENCH0001", manager, product)[0] == 200
        for _ in range(10):
            status, priced = request(
                port, "POST", "/api/v1/baskets/price", tokens[1],
                {"lines": [{"product": "BENCH0001"}]},
            )  # fmt: skip
            assert (status, priced["subtotal"]) == (200, 4_321)

        def sell(n: int) -> tuple[int, Any]:
            body = sale_body(str(uuid.uuid4()), barcodes[n % 50 :])
            return request(port, "POST", "/api/v1/sales", tokens[1 + n % 2], body)

        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(sell, range(SALES)))
        assert [status for status, _ in answers] == [201] * SALES
        receipts = sorted(body["receipt_no"] for _, body in answers)
        assert receipts == list(range(1, SALES + 1))  # gapless across both processes

        # a worker that dies is started again by the primary
        (worker,) = pids - {child.pid}
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        seen: set[int] = set()
        while time.monotonic() < deadline and not seen - {child.pid, worker}:
            time.sleep(0.2)
            with contextlib.suppress(OSError):
                seen.add(request(port, "GET", "/healthz")[1]["pid"])
        assert seen - {child.pid, worker}, seen
    finally:
        child.send_signal(signal.SIGTERM)
        _out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert b"started worker 1" in err
    assert b"starting it again" in err
    verified = verify_file(settings.ledger_path)
    assert verified.ok
    conn = sqlite3.connect(settings.ledger_path)
    try:
        assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == SALES
    finally:
        conn.close()


def _kept_connections(port: int, count: int) -> dict[int, int]:
    """Open `count` connections one after the other, keep them; return how many per pid."""
    conns = []
    held: dict[int, int] = {}
    try:
        for _ in range(count):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conns.append(conn)
            conn.request("GET", "/healthz")
            pid = json.loads(conn.getresponse().read())["pid"]
            held[pid] = held.get(pid, 0) + 1
    finally:
        for conn in conns:
            conn.close()
    return held


async def _prepare(settings: Settings, rows: Any) -> tuple[list[str], str]:
    """The bench store (catalog, tills T0..T2 open, cashier tokens) and a manager token."""
    tokens = await prepare_store(settings, rows)
    ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
    await ledger.start()
    try:
        auth = Auth(ledger, settings.auth, store_pepper(settings), utc_clock)
        manager = await auth.create_token("office", "manager", None, Actor())
    finally:
        await ledger.stop()
    return tokens, manager
