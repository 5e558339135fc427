"""`edge devices …`, `edge gateway` and the device part of `edge config check`.

`edge devices` works on the ledger directly, so it runs while the server is stopped (at
provisioning time); with the server running use the devices API (it refuses with the
server's pid otherwise). Broker logins change on the broker itself when it runs (an external
Mosquitto reached as the server's login), else in the document it loads at start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from drivers.families import check_all_profiles
from drivers.gateway import GatewayConfigError, load_config, run_gateway
from drivers.mqtt import MqttSession, SessionConfig
from edge.bus.broker import broker_files, server_password
from edge.bus.control import RESPONSES, BrokerController
from edge.domain.devices import SERVER_USER, Device
from edge.domain.errors import DomainError
from edge.ledger.ledger import Ledger
from edge.services.catalog import Actor
from edge.services.devices import Devices
from edge.settings import Settings, load_settings

EXIT_OK, EXIT_FAIL = 0, 1
T = TypeVar("T")


@contextlib.asynccontextmanager
async def _broker_control(settings: Settings, devices: Devices) -> AsyncIterator[None]:
    """Reach a running external broker as the server's login, when there is one."""
    mqtt = settings.mqtt
    if mqtt.broker != "external":
        yield
        return
    controller: BrokerController | None = None

    def on_message(topic: str, raw: bytes, _retained: bool) -> None:
        if controller is not None and topic == RESPONSES:
            controller.response(raw)

    session = MqttSession(
        SessionConfig(
            client_id=f"{SERVER_USER}-cli",
            host=mqtt.host,
            port=mqtt.port,
            username=SERVER_USER,
            password=server_password(settings.mqtt_dir, settings.secrets.broker_password),
            subscriptions=[(RESPONSES, 1)],
            session_expiry_s=60,
        ),
        on_message,
        lambda _connected: None,
    )
    controller = BrokerController(session)
    await session.start()
    try:
        await asyncio.wait_for(session.ever_connected.wait(), 3)
        devices.files.control = controller.run
    except TimeoutError:
        print(f"broker {mqtt.host}:{mqtt.port} not reachable: its document is written instead")
    try:
        yield
    finally:
        await session.stop()


def _with_devices(args: argparse.Namespace, work: Callable[[Devices], Awaitable[T]]) -> T:
    """Run `work(devices)` against the ledger (the server must not be running)."""
    settings = load_settings(Path(args.config) if args.config else None)

    async def run() -> T:
        ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
        await ledger.start()
        try:
            devices = Devices(ledger, settings.store.id, broker_files(settings))
            async with _broker_control(settings, devices):
                return await work(devices)
        finally:
            await ledger.stop()

    return asyncio.run(run())


def cmd_devices_add(args: argparse.Namespace) -> int:
    """Create a device and print its broker login once."""
    device = Device(args.id, args.type, args.gateway, args.till, args.label or "")
    try:
        _, password = _with_devices(args, lambda d: d.add(device, Actor()))
    except DomainError as err:
        print(f"refused: {err.message}")
        return EXIT_FAIL
    print(f"device {args.id} ({args.type}) added")
    print(f"  username {args.id}")
    print(f"  password {password}   (shown once: put it in the device's credentials now)")
    return EXIT_OK


def cmd_devices_list(args: argparse.Namespace) -> int:
    """List the device records."""
    records: list[dict[str, Any]] = _with_devices(args, lambda d: d.records())
    if args.json:
        print(json.dumps(records, ensure_ascii=False))
        return EXIT_OK
    print(f"{'id':<20} {'type':<9} {'till':<8} {'gateway':<12} label")
    for r in records:
        print(f"{r['id']:<20} {r['type']:<9} {r['till'] or '-':<8} {r['gateway'] or '-':<12} "
              f"{r['label']}")  # fmt: skip
    return EXIT_OK


def cmd_devices_rm(args: argparse.Namespace) -> int:
    """Remove a device."""
    try:
        _with_devices(args, lambda d: d.remove(args.id, Actor()))
    except DomainError as err:
        print(f"refused: {err.message}")
        return EXIT_FAIL
    print(f"device {args.id} removed; its login no longer works")
    return EXIT_OK


def cmd_devices_rotate(args: argparse.Namespace) -> int:
    """Give a device a new password and print it once."""
    try:
        password = _with_devices(args, lambda d: d.rotate(args.id, Actor()))
    except DomainError as err:
        print(f"refused: {err.message}")
        return EXIT_FAIL
    print(f"device {args.id}: new password {password}   (shown once; the old one stopped working)")
    return EXIT_OK


def cmd_devices_bind(args: argparse.Namespace) -> int:
    """Bind a device to a till or kiosk (or unbind it with --till none)."""
    till = None if args.till.lower() == "none" else args.till
    try:
        _with_devices(args, lambda d: d.update(args.id, {"till": till}, Actor()))
    except DomainError as err:
        print(f"refused: {err.message}")
        return EXIT_FAIL
    print(f"device {args.id} bound to {till or 'nothing'}")
    return EXIT_OK


def cmd_gateway(args: argparse.Namespace) -> int:
    """Run the drivers of this host's devices until stopped."""
    try:
        config = load_config(Path(args.config))
    except (GatewayConfigError, OSError) as err:
        print(f"edge gateway: {err}")
        return EXIT_FAIL
    asyncio.run(run_gateway(config))
    return EXIT_OK


def check_profiles() -> bool:
    """Print every profile in firmware-config/ with its problems; tell whether all are good."""
    report = check_all_profiles()
    if not report:
        print("  (no profiles)")
    for name, problems in report.items():
        print(f"  {name:<40} {'OK' if not problems else 'BAD'}")
        for problem in problems:
            print(f"      {problem}")
    return all(not problems for problems in report.values())


def add_device_commands(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Register `edge devices …` and `edge gateway`."""
    devices = sub.add_parser("devices", help="devices and their broker logins")
    devices_sub = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    adder = add("add", cmd_devices_add, "add a device; print its login once", devices_sub)
    adder.add_argument("--id", required=True)
    adder.add_argument(
        "--type", required=True,
        choices=["scale", "scanner", "printer", "drawer", "display", "kiosk", "gateway"],
    )  # fmt: skip
    adder.add_argument("--till", default=None, help="the till or kiosk it serves")
    adder.add_argument("--gateway", default=None, help="the gateway that bridges it")
    adder.add_argument("--label", default=None)
    lister = add("list", cmd_devices_list, "list devices", devices_sub)
    lister.add_argument("--json", action="store_true")
    remover = add("rm", cmd_devices_rm, "remove a device", devices_sub)
    remover.add_argument("id")
    rotator = add("rotate", cmd_devices_rotate, "new password for a device", devices_sub)
    rotator.add_argument("id")
    binder = add("bind", cmd_devices_bind, "bind a device to a till or kiosk", devices_sub)
    binder.add_argument("id")
    binder.add_argument("--till", required=True, help="till or kiosk id, or none")
    for command in (adder, lister, remover, rotator, binder):
        command.add_argument("--config")
    gateway = add("gateway", cmd_gateway, "run the drivers of this host's devices")
    gateway.add_argument("--config", required=True, help="the gateway's TOML file")
