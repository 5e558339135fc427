"""A gateway with a real printer driver: sale → cmd/print → ESC/POS bytes at the simulator.

The server runs its private Mosquitto; the gateway connects with its own login and speaks for
the printer and the drawer attached to it; the printer is the TCP simulator, whose bytes are
parsed back. A command sent twice prints once; the gateway's Will marks its devices lost.
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
from edge.settings import Settings
from tests.conftest import STORE
from tests.integration.bus_store import add_device, bus_client, bus_of, until
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import FakeClock, authorize, clock, settings

pytestmark = pytest.mark.timeout(90)
__all__ = ["clock", "settings"]  # fixtures shared with the integration tests


async def start_gateway(client: TestClient, tmp_path: Path, printer_port: int) -> Gateway:
    """Add a gateway with a printer and a drawer on it, bound to T01, and run it."""
    _, password = await add_device(client, "gw-01", "gateway")
    await add_device(client, "printer-01", "printer", gateway="gw-01", till="T01")
    await add_device(client, "drawer-01", "drawer", gateway="gw-01", till="T01")
    port = bus_of(client).broker_port
    assert port is not None
    config = GatewayConfig(
        id="gw-01",
        store=STORE.id,
        host="127.0.0.1",
        port=port,
        password=password,
        state_dir=tmp_path / "gw-state",
        devices=[
            {"id": "printer-01", "type": "printer", "profile": "epson_tm_t88v",
             "host": f"127.0.0.1:{printer_port}"},
            {"id": "drawer-01", "type": "drawer", "via": "printer-01"},
        ],
    )  # fmt: skip
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
        gateway = await start_gateway(client, tmp_path, printer.port)
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
