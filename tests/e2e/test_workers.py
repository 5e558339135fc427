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
        return ask(conn, method, path, token, body)
    finally:
        conn.close()


def ask(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    """Send one request on a kept connection (so to the process that holds it)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    raw = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=raw, headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def one_connection_per_process(port: int, processes: int) -> dict[int, http.client.HTTPConnection]:
    """Open connections until one is held by each process; close the others."""
    pinned: dict[int, http.client.HTTPConnection] = {}
    for _ in range(50):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        pid = ask(conn, "GET", "/healthz")[1]["pid"]
        if pid in pinned:
            conn.close()
        else:
            pinned[pid] = conn
        if len(pinned) == processes:
            return pinned
    raise AssertionError(f"only {len(pinned)} of {processes} processes took a connection")


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
    # cashiers of T0..T2, a manager, a cashier whose token is revoked while cached
    tokens, manager, doomed = asyncio.run(_prepare(settings, rows))
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

        # what each process keeps (products, who a token is) follows a change made through
        # the other: the next basket has the new price, the next request of a revoked token
        # is refused, in both
        pinned = one_connection_per_process(port, 2)
        basket = {"lines": [{"product": "BENCH0001"}]}
        for conn in pinned.values():  # both price it and know the tokens: all of it is kept
            status, priced = ask(conn, "POST", "/api/v1/baskets/price", tokens[1], basket)
            assert (status, priced["subtotal"]) != (200, 4_321)
            assert ask(conn, "GET", "/api/v1/products?limit=1", doomed)[0] == 200
        product = {
            "name_zh": "改价",
            "category": "drinks",
            "list_price": 4_321,
            "barcodes": [barcodes[0]],
        }
        changer = next(iter(pinned.values()))
        assert ask(changer, "PUT", "/api/v1/products/BENCH0001", manager, product)[0] == 200
        assert ask(changer, "DELETE", "/api/v1/tokens/doomed", manager)[0] == 200
        for conn in pinned.values():
            status, priced = ask(conn, "POST", "/api/v1/baskets/price", tokens[1], basket)
            assert (status, priced["subtotal"]) == (200, 4_321)
            assert ask(conn, "GET", "/api/v1/products?limit=1", doomed)[0] == 401
            conn.close()

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


async def _prepare(settings: Settings, rows: Any) -> tuple[list[str], str, str]:
    """The bench store (catalog, tills T0..T2 open, cashier tokens), a manager token and a
    cashier token named "doomed"."""
    tokens = await prepare_store(settings, rows)
    ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
    await ledger.start()
    try:
        auth = Auth(ledger, settings.auth, store_pepper(settings), utc_clock)
        manager = await auth.create_token("office", "manager", None, Actor())
        doomed = await auth.create_token("doomed", "cashier", "T1", Actor())
    finally:
        await ledger.stop()
    return tokens, manager, doomed
