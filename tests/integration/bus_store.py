"""A store server with its private Mosquitto, and device-side MQTT clients for tests."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from drivers.mqtt import MqttSession, SessionConfig
from edge.app import create_app
from edge.bus.bus import Bus
from edge.protocol.mqtt import encode, topic
from edge.settings import MqttSettings, Settings
from edge.web.keys import BUS
from tests.conftest import STORE


def bus_settings(settings: Settings, **mqtt: Any) -> Settings:
    """Return the test store's settings with a private broker on a free port."""
    return Settings(
        store=settings.store,
        paths=settings.paths,
        mqtt=MqttSettings(broker="embedded", port=0, **mqtt),
    )


async def bus_client(
    aiohttp_client: Any, settings: Settings, clock: Any, **mqtt: Any
) -> TestClient:
    """Start a server with its private broker; wait until its session is connected."""
    client: TestClient = await aiohttp_client(
        create_app(bus_settings(settings, **mqtt), clock=clock)
    )
    await asyncio.wait_for(bus_of(client).session.ever_connected.wait(), 10)
    return client


def bus_of(client: TestClient) -> Bus:
    """Return the server's running bus."""
    bus = client.server.app[BUS]
    assert isinstance(bus, Bus)
    return bus


class Device:
    """A device's side of the bus: its own credentials, its topics, what it received."""

    def __init__(self, port: int, type_: str, device_id: str, password: str) -> None:
        self.type = type_
        self.id = device_id
        self.received: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.states: list[bool] = []
        cmd = topic(STORE.id, type_, device_id, "cmd", "+")
        self.session = MqttSession(
            SessionConfig(
                client_id=device_id,
                host="127.0.0.1",
                port=port,
                username=device_id,
                password=password,
                subscriptions=[(cmd, 1)],
                will=(topic(STORE.id, type_, device_id, "status"), b'{"state":"lost"}'),
            ),
            self._message,
            self._state,
        )
        self.online = False
        self._tasks: set[asyncio.Task[None]] = set()

    def _state(self, connected: bool) -> None:
        """Like a real device: say it is online again after every reconnection."""
        self.states.append(connected)
        if connected and self.online:
            task = asyncio.get_running_loop().create_task(self.status("online"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _message(self, text: str, raw: bytes, _retained: bool) -> None:
        self.received.put_nowait((text, json.loads(raw)))

    async def start(self, online: bool = True) -> Device:
        await self.session.start()
        await asyncio.wait_for(self.session.ever_connected.wait(), 10)
        if online:
            await self.status("online")
            self.online = True
        return self

    async def status(self, state: str) -> None:
        await self.session.publish(
            topic(STORE.id, self.type, self.id, "status"),
            encode({"state": state, "ts": now_ms(), "model": "test", "fw": "1"}),
            retain=True,
        )

    async def event(self, kind: str, **data: Any) -> str:
        message_id = data.pop("id", None) or uuid.uuid4().hex
        await self.session.publish(
            topic(STORE.id, self.type, self.id, "evt", kind),
            encode({"id": message_id, "ts": now_ms(), **data}),
        )
        return message_id

    async def result(self, verb: str, command: str, ok: bool = True, error: str = "") -> None:
        body: dict[str, Any] = {"id": command, "ok": ok}
        if error:
            body["error"] = error
        await self.session.publish(topic(STORE.id, self.type, self.id, "res", verb), encode(body))

    async def raw(self, text: str, payload: bytes) -> None:
        await self.session.publish(text, payload)

    async def next(self, within: float = 5.0) -> tuple[str, dict[str, Any]]:
        return await asyncio.wait_for(self.received.get(), within)

    async def stop(self) -> None:
        await self.session.stop()


def now_ms() -> int:
    return int(time.time() * 1000)


async def add_device(
    client: TestClient, device_id: str, type_: str, **fields: Any
) -> tuple[str, str]:
    """Add a device through the API; return (username, password)."""
    response = await client.post("/api/v1/devices", json={"id": device_id, "type": type_, **fields})
    assert response.status == 201, await response.text()
    body = await response.json()
    return body["username"], body["password"]


async def connect(client: TestClient, device_id: str, type_: str, **fields: Any) -> Device:
    """Add a device and connect it."""
    _, password = await add_device(client, device_id, type_, **fields)
    port = bus_of(client).broker_port
    assert port is not None
    return await Device(port, type_, device_id, password).start()


async def until(check: Callable[[], Any], within: float = 5.0) -> Any:
    """Wait until `check()` is truthy; return its value."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")
