"""The server's MQTT session: subscriptions, commands to devices, and the router's input.

The server connects as the store's privileged client (`edge-server`), subscribes to every
device's `status`, `evt/+` and `res/+`, and publishes `cmd/{verb}` to one device. Messages
arrive from paho's thread on the event loop; each is parsed, checked and routed in a task of
its own, so a slow lookup never blocks the next message. When the session (re)connects, the
print jobs still pending are sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from drivers.mqtt import MqttSession, SessionConfig
from edge.bus.control import BrokerController
from edge.bus.router import DeviceRouter
from edge.domain.devices import CONTROL, Device
from edge.protocol.mqtt import ROOT, MessageError, decode, encode, new_id, parse_topic, topic
from edge.services.device_center import DeviceCenter
from edge.services.readiness import Readiness

log = logging.getLogger(__name__)


class Bus:
    """The server's side of the device bus."""

    def __init__(
        self,
        config: SessionConfig,
        store: str,
        center: DeviceCenter,
        router: DeviceRouter,
        readiness: Readiness,
    ) -> None:
        """Keep the session settings and the services."""
        self.store = store
        self.center = center
        self.router = router
        self.printing = center.printing
        self.readiness = readiness
        base = f"{ROOT}/{store}/+/+"
        config.subscriptions = [
            (f"{base}/status", 1),
            (f"{base}/evt/+", 1),
            (f"{base}/res/+", 1),
            (f"{CONTROL}/response", 1),
        ]
        self.session = MqttSession(config, self._on_message, self._on_state)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last: dict[str, asyncio.Task[Any]] = {}  # each device's latest message
        self._sweeper: asyncio.Task[None] | None = None
        self.broker_port: int | None = None
        self.broker: Any = None  # the private broker child, when the server runs one
        self.controller = BrokerController(self.session)
        self._on_connect: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        """Load the device records and connect (in the background)."""
        await self.center.refresh()
        self.printing.sender = self.send
        self.center.sender = self.send
        self.readiness.set("broker", ok=False, detail="connecting")
        await self.session.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="print-timeouts")

    async def stop(self) -> None:
        """Disconnect and finish what is in flight."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        self.printing.sender = None
        self.center.sender = None
        await self.session.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def send(self, device: Device, verb: str, payload: dict[str, Any]) -> None:
        """Publish `cmd/{verb}` to a device and wait for the broker to take it."""
        message = {"id": payload.get("id") or new_id(), "ts": int(time.time() * 1000), **payload}
        await self.session.publish(
            topic(self.store, device.type, device.id, "cmd", verb), encode(message)
        )

    def printers(self) -> dict[str, Device]:
        """Return the printers known by id."""
        return {d.id: d for d in self.center.devices.values() if d.type == "printer"}

    def _spawn(self, work: Any) -> asyncio.Task[Any]:
        """Run a coroutine as a kept task."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def control(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run dynamic-security commands on the broker; return its responses."""
        return await self.controller.run(commands)

    def _on_message(self, text: str, raw: bytes, _retained: bool) -> None:
        """Parse a message from the broker and route it (on the event loop)."""
        if text.startswith(CONTROL):
            self.controller.response(raw)
            return
        self.router.counts["received"] += 1
        try:
            parsed = parse_topic(text)
            payload = decode(raw)
        except MessageError as err:
            self.router.drop("malformed", text, err)
            return
        if parsed.store != self.store:
            self.router.drop("other_store", text)
            return
        previous = self._last.get(parsed.device)
        task = self._spawn(self._route(previous, parsed, payload))
        self._last[parsed.device] = task
        task.add_done_callback(
            lambda done: (
                self._last.pop(parsed.device, None)
                if self._last.get(parsed.device) is done
                else None
            )
        )

    async def _route(
        self, previous: asyncio.Task[Any] | None, parsed: Any, payload: dict[str, Any]
    ) -> None:
        """Route one message after the device's previous one (a device's order is kept)."""
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await self.router.handle(parsed, payload)
        came_back = payload.get("state") == "online"
        if parsed.channel == "status" and parsed.type in ("printer", "gateway") and came_back:
            await self._resend(parsed.device if parsed.type == "printer" else None)

    def on_connect(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work()` after every (re)connection."""
        self._on_connect.append(work)

    async def _after_connect(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run one after-connect job, logging its failure."""
        try:
            await work()
        except Exception:
            log.exception("after connecting to the broker")

    def _on_state(self, connected: bool) -> None:
        """Follow the connection: readiness, and resend pending jobs after a reconnect."""
        if connected:
            self.readiness.set("broker", ok=True, detail="connected")
            self.center.records.files.control = self.control
            self._spawn(self._resend(None))
            for work in self._on_connect:
                self._spawn(self._after_connect(work))
        else:
            self.readiness.set("broker", ok=False, detail="disconnected; reconnecting")

    async def _resend(self, printer: str | None) -> None:
        """Send pending print jobs again."""
        try:
            sent = await self.printing.resend(self.printers(), printer)
        except Exception:
            log.exception("resending print jobs failed")
            return
        if sent:
            log.info("sent %d pending print job(s) again", sent)

    async def _sweep(self) -> None:
        """Mark unanswered print jobs failed, once a second."""
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.printing.expire()
            except Exception:
                log.exception("expiring print jobs failed")
