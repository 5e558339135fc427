"""A broker kill -9 loses no print job and processes no scan twice.

Mosquitto keeps its queue in memory and writes it only periodically, so after a kill -9 the
command queued for the printer is gone: the job must come back from the server's own record
(pending until `res/print`), be sent again after the reconnect, and be printed once because
the printer side drops a job id it has already printed.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.settings import Settings
from edge.web.keys import LEDGER
from tests.integration.bus_store import Device, bus_client, bus_of, connect, until
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import FakeClock, authorize, clock, settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
__all__ = ["clock", "settings"]  # fixtures shared with the integration tests


class Printer:
    """The printer's side: remembers job ids, prints each once, answers when told."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.deliveries: list[str] = []
        self.printed: list[str] = []
        self.answering = asyncio.Event()
        self.answers: set[asyncio.Task[None]] = set()
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            topic, command = await self.device.received.get()
            if not topic.endswith("/cmd/print"):
                continue
            self.deliveries.append(command["id"])
            if command["id"] not in self.printed:
                self.printed.append(command["id"])
            self.answers.add(asyncio.create_task(self._answer(command["id"])))

    async def _answer(self, job: str) -> None:
        await self.answering.wait()
        await self.device.result("print", job)


async def test_broker_kill_loses_no_print_job_and_no_scan_is_handled_twice(
    aiohttp_client: Any, settings: Settings, clock: FakeClock
) -> None:
    client: TestClient = await bus_client(aiohttp_client, settings, clock, print_timeout_s=120)
    await authorize(client, role="manager", till="T01")
    await stock_up(client)
    printer = Printer(await connect(client, "printer-01", "printer", till="T01"))
    scanner = await connect(client, "scanner-01", "scanner", till="T01")
    socket = await client.ws_connect("/api/v1/live")
    await socket.receive_json(timeout=5)

    sale = {"id": new_id(), "lines": [{"code": "6901234567892", "quantity": 1}],
            "tenders": [{"kind": "cash", "amount": 300}]}  # fmt: skip
    response = await client.post("/api/v1/sales", json=sale)
    assert response.status == 201, await response.text()
    await until(lambda: printer.deliveries, within=10)
    job = printer.deliveries[0]
    pending = await (await client.get("/api/v1/print-jobs?state=pending")).json()
    assert [j["job"] for j in pending["jobs"]] == [job]

    scan_id = await scanner.event("scan", code="6901234567816", symbology="EAN13")
    assert (await socket.receive_json(timeout=5))["event"] == scan_id

    broker = bus_of(client).broker
    os.kill(broker.pid, signal.SIGKILL)  # no clean exit: the broker's queue is lost
    await until(lambda: broker.restarts == 1, within=20)
    await until(lambda: bus_of(client).session.connected, within=20)
    await until(lambda: scanner.session.connected, within=20)

    # the scanner never got its PUBACK in this story: it sends the same event again
    await scanner.event("scan", id=scan_id, code="6901234567816", symbology="EAN13")
    later = await scanner.event("scan", code="6901234567892", symbology="EAN13")
    assert (await socket.receive_json(timeout=10))["event"] == later, "a scan was pushed twice"
    assert bus_of(client).router.counts["duplicates"] >= 1

    await until(lambda: len(printer.deliveries) >= 2, within=20)  # sent again from the record
    printer.answering.set()
    jobs: list[dict[str, Any]] = []

    async def printed() -> bool:
        nonlocal jobs
        jobs = (await (await client.get("/api/v1/print-jobs")).json())["jobs"]
        return bool(jobs) and jobs[0]["state"] == "printed"

    for _ in range(100):
        if await printed():
            break
        await asyncio.sleep(0.1)
    assert [(j["job"], j["state"]) for j in jobs] == [(job, "printed")]
    assert printer.printed == [job], "a receipt was printed twice"
    assert set(printer.deliveries) == {job}
    conn = client.server.app[LEDGER]
    assert (await conn.verify()).ok
    printer.task.cancel()
    await socket.close()
    await scanner.stop()
    await printer.device.stop()
