"""A gateway with real drivers against the simulators, end to end through the server.

The server runs its private Mosquitto; the gateway connects with its own login and speaks for
the devices attached to it. Sale → cmd/print → ESC/POS bytes at the TCP printer simulator,
parsed back; a command sent twice prints once; the gateway's Will marks its devices lost. A
scan at the pty scanner simulator reaches the till's WebSocket as a priced item; a weight at
the pty scale simulator (Toledo 8217) prices a weighed line, and motion withdraws it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from drivers.gateway import Gateway, GatewayConfig
from drivers.sim import escpos_reader
from drivers.sim.printer import PrinterSimulator
from drivers.sim.scale import ScaleSimulator
from drivers.sim.scanner import ScannerSimulator
from edge.settings import Settings
from tests.conftest import STORE
from tests.integration.bus_store import add_device, bus_client, bus_of, until
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import FakeClock, authorize, clock, settings

pytestmark = pytest.mark.timeout(90)
__all__ = ["clock", "settings"]  # fixtures shared with the integration tests


async def start_gateway(
    client: TestClient, tmp_path: Path, devices: list[dict[str, Any]]
) -> Gateway:
    """Add a gateway and its devices (each bound to T01) to the store, and run it."""
    _, password = await add_device(client, "gw-01", "gateway")
    for device in devices:
        await add_device(client, device["id"], device["type"], gateway="gw-01", till="T01")
    port = bus_of(client).broker_port
    assert port is not None
    config = GatewayConfig(
        id="gw-01",
        store=STORE.id,
        host="127.0.0.1",
        port=port,
        password=password,
        state_dir=tmp_path / "gw-state",
        devices=devices,
    )
    gateway = Gateway(config)
    await gateway.start()
    return gateway


def device_state(client: TestClient, device: str) -> str:
    return next(d for d in bus_of(client).center.snapshot() if d["id"] == device)["state"]


async def test_a_sale_prints_through_the_gateway_once(
    aiohttp_client: Any, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    client = await bus_client(aiohttp_client, settings, clock)
    await authorize(client, role="manager", till="T01")
    await stock_up(client)
    with PrinterSimulator() as printer:
        gateway = await start_gateway(client, tmp_path, [
            {"id": "printer-01", "type": "printer", "profile": "epson_tm_t88v",
             "host": f"127.0.0.1:{printer.port}"},
            {"id": "drawer-01", "type": "drawer", "via": "printer-01"},
        ])  # fmt: skip
        try:
            await until(lambda: device_state(client, "printer-01") == "online", within=10)
            sale = {"id": new_id(), "lines": [{"code": "6901234567892", "quantity": 2}],
                    "tenders": [{"kind": "cash", "amount": 1000}]}  # fmt: skip
            response = await client.post("/api/v1/sales", json=sale)
            assert response.status == 201, await response.text()
            body = await response.json()
            await asyncio.to_thread(printer.wait_data, b"\x1dV", 10.0)  # the cut
            await asyncio.to_thread(printer.wait_data, b"\x1bp", 5.0)  # the drawer's own kick
            ops = escpos_reader.read(printer.data())
            assert [op.kind for op in ops].count("cut") == 1
            assert body["e_receipt_url"].split("/r/")[1] in escpos_reader.values(ops, "qr")[0]
            assert len(escpos_reader.values(ops, "drawer")) == 1, "the drawer was kicked twice"
            assert "6.00" in "\n".join(escpos_reader.lines(ops))

            async def job_state() -> str:
                listed = await (await client.get("/api/v1/print-jobs")).json()
                return str(listed["jobs"][0]["state"])

            for _ in range(100):
                if await job_state() == "printed":
                    break
                await asyncio.sleep(0.05)
            assert await job_state() == "printed"

            # the same command again (a resend after a crash): answered, not printed again
            job = (await (await client.get("/api/v1/print-jobs")).json())["jobs"][0]["job"]
            before = len(printer.jobs())
            device = bus_of(client).center.device("printer-01")
            await bus_of(client).send(device, "print", {"id": job, "document": {"version": 1}})
            await asyncio.sleep(1.0)
            assert len(printer.jobs()) == before, "a job id was printed twice"

            # a drawer command goes through the printer's kick port
            opened = await client.post("/api/v1/devices/drawer-01/commands/open", json={"pin": 2})
            assert opened.status == 202
            await until(lambda: printer.data().count(b"\x1bp\x00") == 2, within=5)
        finally:
            # an unclean end: the broker publishes the gateway's Will
            gateway.session._client._sock.close()  # type: ignore[union-attr]
            await until(lambda: device_state(client, "gw-01") == "lost", within=30)
            assert device_state(client, "printer-01") == "lost"
            await gateway.stop()


async def next_of(socket: Any, kind: str) -> dict[str, Any]:
    """Return the next live message of a type (others are skipped)."""
    while (message := await socket.receive_json(timeout=10))["type"] != kind:
        pass
    return dict(message)


async def test_scanner_and_scale_reach_the_till_through_the_gateway(
    aiohttp_client: Any, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    client = await bus_client(aiohttp_client, settings, clock)
    await authorize(client, role="manager", till="T01")
    await stock_up(client)
    with ScaleSimulator("toledo8217") as scale, ScannerSimulator(b"\r") as scanner:
        gateway = await start_gateway(client, tmp_path, [
            {"id": "scale-01", "type": "scale", "profile": "toledo8217", "port": scale.port},
            {"id": "scanner-01", "type": "scanner", "profile": "serial_cr",
             "port": scanner.port},
        ])  # fmt: skip
        try:
            for device in ("scale-01", "scanner-01"):
                await until(lambda d=device: device_state(client, d) == "online", within=10)
            socket = await client.ws_connect("/api/v1/live?channels=till:T01")
            await socket.receive_json(timeout=5)

            # a scan at the scanner: the till sees the item once, priced from the catalog
            await asyncio.to_thread(scanner.scan, "6901234567892")
            scan = await next_of(socket, "scan")
            assert scan["device"] == "scanner-01"
            assert scan["item"]["product"]["list_price"] == 300
            # a half code (no suffix before the gap) and a bad check digit never reach a till
            await asyncio.to_thread(scanner.send_raw, b"69012345")
            await asyncio.sleep(0.6)
            await asyncio.to_thread(scanner.scan, "6901234567893")
            await asyncio.to_thread(scanner.scan, "6901234567816")
            assert (await next_of(socket, "scan"))["code"] == "6901234567816"

            # a stable weight on the scale prices the weighed line
            scale.set_weight(1250)
            weight = await next_of(socket, "weight")
            assert (weight["device"], weight["grams"], weight["stable"]) == ("scale-01", 1250, True)
            basket = {"lines": [{"product": "APPLE", "scale": "scale-01"}]}
            priced = await client.post("/api/v1/baskets/price", json=basket)
            assert priced.status == 200, await priced.text()
            assert (await priced.json())["lines"][0]["amount"] == 1600  # 12.80/kg x 1.250 kg

            # the shopper lifts the bag: motion withdraws the weight until it settles again
            scale.set_motion(True)
            assert (await next_of(socket, "weight_error"))["code"] == "motion"
            moving = await client.post("/api/v1/baskets/price", json=basket)
            assert (moving.status, (await moving.json())["error"]["code"]) == (404, "no_weight")
            scale.set_weight(800)
            scale.set_motion(False)
            assert (await next_of(socket, "weight"))["grams"] == 800
            sale = {"id": new_id(), **basket, "tenders": [{"kind": "cash", "amount": 2000}]}
            made = await client.post("/api/v1/sales", json=sale)
            assert made.status == 201, await made.text()
            assert (await made.json())["lines"][0]["grams"] == 800
            await socket.close()
        finally:
            await gateway.stop()
