"""`edge gateway --config FILE`: run the drivers of the devices attached to this host.

One MQTT session for the whole gateway (its own login; its Last Will marks it lost, and the
server marks every device it bridges lost with it). Each device is published under its own
id: `status` retained, `evt/{kind}` for what its driver reports, and `cmd/{verb}` carried out
by its driver and answered on `res/{verb}`. A command id is carried out at most once: the
outcome of recent ids is kept on disk, so a command sent again (after a broker crash, a
server restart) gets its first answer back instead of a second receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.base import PROFILE_ROOT, DeviceError, Driver, DriverError
from drivers.done import DoneLog
from drivers.families import family, profile_for
from drivers.mqtt import MqttSession, SessionConfig
from edge.protocol.mqtt import (
    MessageError,
    check_command,
    decode,
    encode,
    new_id,
    parse_topic,
    topic,
    valid_id,
)

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 30.0
RESTART_DELAY = 10.0


class GatewayConfigError(DriverError):
    """The gateway's config file is wrong."""


@dataclass
class GatewayConfig:
    """What a gateway runs and where it connects."""

    id: str
    store: str
    host: str
    port: int
    password: str
    state_dir: Path
    devices: list[dict[str, Any]] = field(default_factory=list)
    profile_root: Path = PROFILE_ROOT


def read_password(table: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """Return the gateway's broker password: credential file, password_file, or env."""
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / "broker-password").is_file():
        return (Path(credentials) / "broker-password").read_text(encoding="utf-8").strip()
    if "password_file" in table:
        return Path(str(table["password_file"])).read_text(encoding="utf-8").strip()
    if env.get("EDGE_GATEWAY_PASSWORD"):
        return env["EDGE_GATEWAY_PASSWORD"]
    raise GatewayConfigError(
        "no broker password: set password_file or the broker-password credential"
    )


def load_config(path: Path, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and check a gateway config file (raises GatewayConfigError)."""
    env = os.environ if env is None else env
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise GatewayConfigError(f"{path}: {err}") from err
    table = data.get("gateway", {})
    problems = [
        f"gateway.{key} must be an id"
        for key in ("id", "store")
        if not isinstance(table.get(key), str) or not valid_id(table[key])
    ]
    devices = data.get("device", [])
    seen: set[str] = set()
    for index, device in enumerate(devices):
        where = f"device[{index}]"
        if not isinstance(device.get("id"), str) or not valid_id(device["id"]):
            problems.append(f"{where}.id must be an id")
        elif device["id"] in seen:
            problems.append(f"{where}.id {device['id']} is listed twice")
        else:
            seen.add(device["id"])
        if device.get("type") not in ("scale", "scanner", "printer", "drawer", "display"):
            problems.append(f"{where}.type must be scale, scanner, printer, drawer or display")
    if problems:
        raise GatewayConfigError("; ".join(problems))
    root = Path(str(table.get("profiles", PROFILE_ROOT)))
    return GatewayConfig(
        id=table["id"],
        store=table["store"],
        host=str(table.get("host", "127.0.0.1")),
        port=int(table.get("port", 1883)),
        password=read_password(table, env),
        state_dir=Path(str(table.get("state_dir", f"/var/lib/edge-gateway/{table['id']}"))),
        devices=devices,
        profile_root=root,
    )


class Gateway:
    """The drivers of one host, bridged to the store's MQTT bus."""

    def __init__(self, config: GatewayConfig) -> None:
        """Keep the config; nothing runs until `start()`."""
        self.config = config
        self.drivers: dict[str, Driver] = {}
        self.online: set[str] = set()
        self.done = DoneLog(config.state_dir / "commands.jsonl")
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        subscriptions = [
            (topic(config.store, d["type"], d["id"], "cmd", "+"), 1) for d in config.devices
        ]
        self.session = MqttSession(
            SessionConfig(
                client_id=config.id,
                host=config.host,
                port=config.port,
                username=config.id,
                password=config.password,
                subscriptions=subscriptions,
                will=(self._topic("gateway", config.id, "status"), encode({"state": "lost"})),
            ),
            self._on_message,
            self._on_state,
        )

    def _topic(self, type_: str, device: str, channel: str, name: str = "") -> str:
        """Return one of our topics."""
        return topic(self.config.store, type_, device, channel, name)

    def _types(self) -> dict[str, str]:
        """Return each device's type."""
        return {d["id"]: d["type"] for d in self.config.devices}

    async def start(self) -> None:
        """Create the drivers, connect, start each driver (retrying the ones that fail)."""
        await asyncio.to_thread(self.done.load)
        for device in self.config.devices:
            profile = profile_for(device["type"], device, self.config.profile_root)
            self.drivers[device["id"]] = family(device["type"]).create(
                device["id"], device, profile, dict(self.drivers)
            )
        await self.session.start()
        for device_id in self.drivers:
            self._spawn(self._run_driver(device_id))

    async def stop(self) -> None:
        """Say goodbye (offline, retained), stop the drivers, disconnect."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        goodbye = [
            (self._topic(self._types()[d], d, "status"), encode({"state": "offline", "ts": _ms()}))
            for d in self.drivers
        ]
        goodbye.append(
            (self._topic("gateway", self.config.id, "status"),
             encode({"state": "offline", "ts": _ms()}))
        )  # fmt: skip
        await self.session.stop(goodbye)
        for driver in self.drivers.values():
            with contextlib.suppress(DriverError):
                await driver.stop()

    def _spawn(self, work: Any) -> asyncio.Task[Any]:
        """Run a coroutine as a kept task."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_driver(self, device_id: str) -> None:
        """Start a driver (again and again until it starts), then forward its events."""
        driver = self.drivers[device_id]
        while True:
            try:
                await driver.start()
                break
            except DriverError as err:
                log.warning("%s did not start: %s; retrying in %s s", device_id, err, RESTART_DELAY)
                await self._event(
                    device_id, "error", {"code": "start_failed", "detail": str(err)[:200]}
                )
                await asyncio.sleep(RESTART_DELAY)
        self.online.add(device_id)
        await self._status(device_id)
        while True:
            event = await driver.events.get()
            await self._event(device_id, event.kind, dict(event.data))

    async def _status(self, device_id: str) -> None:
        """Publish a device's retained online status."""
        driver = self.drivers[device_id]
        payload = {"state": "online", "ts": _ms(), **driver.describe()}
        self.session.publish_nowait(
            self._topic(self._types()[device_id], device_id, "status"), encode(payload), retain=True
        )

    async def _event(self, device_id: str, kind: str, data: dict[str, Any]) -> None:
        """Publish a device event (paho keeps it while the broker is away)."""
        payload = {"id": new_id(), "ts": _ms(), **data}
        self.session.publish_nowait(
            self._topic(self._types()[device_id], device_id, "evt", kind), encode(payload)
        )

    def _on_state(self, connected: bool) -> None:
        """After each connection: gateway and devices say they are online (retained)."""
        if not connected:
            return
        self.session.publish_nowait(
            self._topic("gateway", self.config.id, "status"),
            encode({"state": "online", "ts": _ms(), "model": "store-edge gateway"}),
            retain=True,
        )
        for device_id in self.online:
            self._spawn(self._status(device_id))

    def _on_message(self, text: str, raw: bytes, _retained: bool) -> None:
        """Take a command for one of our devices."""
        try:
            parsed = parse_topic(text)
            payload = decode(raw)
            command_id = check_command(payload)
        except MessageError as err:
            log.warning("dropped command on %s: %s", text, err)
            return
        if parsed.channel != "cmd" or parsed.device not in self.drivers:
            log.warning("dropped message for %s", text)
            return
        self._spawn(self._command(parsed.device, parsed.type, parsed.name, command_id, payload))

    async def _command(
        self, device_id: str, type_: str, verb: str, command_id: str, payload: dict[str, Any]
    ) -> None:
        """Carry out a command once; answer every copy of it with the same result."""
        if command_id in self._running:
            return  # the first copy is still running; its answer goes out when it ends
        result = self.done.get(command_id)
        if result is None:
            self._running.add(command_id)
            try:
                await asyncio.to_thread(self.done.started, command_id)
                result = await self._carry_out(device_id, verb, payload)
                await asyncio.to_thread(self.done.finished, command_id, result)
            finally:
                self._running.discard(command_id)
        answer = {"id": command_id, **result}
        self.session.publish_nowait(self._topic(type_, device_id, "res", verb), encode(answer))

    async def _carry_out(
        self, device_id: str, verb: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Run a driver command with a time limit; return the result fields."""
        try:
            extra = await asyncio.wait_for(
                self.drivers[device_id].command(verb, payload), COMMAND_TIMEOUT
            )
        except DeviceError as err:
            return {"ok": False, "error": err.code[:64]}
        except TimeoutError:
            return {"ok": False, "error": "timeout"}
        except DriverError as err:
            log.warning("%s %s failed: %s", device_id, verb, err)
            return {"ok": False, "error": "device_error"}
        return {"ok": True, **dict(extra)}


def _ms() -> int:
    """Return milliseconds since the epoch."""
    return int(time.time() * 1000)


async def run_gateway(config: GatewayConfig) -> None:
    """Run a gateway until SIGINT/SIGTERM."""
    gateway = Gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await gateway.start()
    try:
        await stop.wait()
    finally:
        await gateway.stop()
