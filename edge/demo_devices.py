"""The demo store's devices: records and logins, simulators, and a gateway that runs them.

A demo gateway (`gw-demo`) bridges the simulated devices of till T01 — a receipt printer on a
local TCP port (the simulator records what it prints), a cash drawer on its kick port, a
Toledo 8217 scale and a CR-terminated serial scanner on ptys — and a self-checkout kiosk
`kiosk-01` gets a login of its own, a scanner and a scale for its produce and bagging area
(`scale-k1`, `scanner-k1`, on the same gateway). A small control panel on 127.0.0.1 scans
codes and puts weight on the scales; what follows goes the real way (driver → gateway →
MQTT → server).
Passwords are made once per demo data directory and kept beside the ledger (mode 0600), so a
restarted demo reconnects with the same logins.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from drivers.gateway import Gateway, GatewayConfig
from drivers.sim.panel import Panel, Simulators
from drivers.sim.printer import PrinterSimulator
from drivers.sim.scale import ScaleSimulator
from drivers.sim.scanner import ScannerSimulator
from edge.bus.broker import broker_files
from edge.domain.devices import Device
from edge.domain.errors import NotFound
from edge.ledger.ledger import Ledger
from edge.services.catalog import Actor
from edge.services.devices import Devices
from edge.settings import Settings

log = logging.getLogger(__name__)

GATEWAY = "gw-demo"
DEMO_DEVICES = (
    Device(GATEWAY, "gateway", label="演示网关 Demo gateway"),
    Device("printer-01", "printer", GATEWAY, "T01", "T01 小票打印机 receipt printer"),
    Device("drawer-01", "drawer", GATEWAY, "T01", "T01 钱箱 cash drawer"),
    Device("scale-01", "scale", GATEWAY, "T01", "T01 电子秤 scale"),
    Device("scanner-01", "scanner", GATEWAY, "T01", "T01 扫码枪 scanner"),
    Device("kiosk-01", "kiosk", label="自助收银 1 Self-checkout 1"),
    Device("scale-k1", "scale", GATEWAY, "kiosk-01", "自助收银 1 称重/装袋秤 bagging scale"),
    Device("scanner-k1", "scanner", GATEWAY, "kiosk-01", "自助收银 1 扫码器 scanner"),
)
LOGINS = (GATEWAY, "kiosk-01")  # the devices that connect by themselves
ACTOR = Actor(staff="demo")


def _secret_file(settings: Settings, device: str) -> Path:
    """Return where the demo keeps a device's password."""
    return settings.mqtt_dir / f"demo-{device}.password"


async def seed_demo_devices(settings: Settings) -> dict[str, str]:
    """Create the demo's device records (once) and return the logins of those that connect."""
    ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
    await ledger.start()
    passwords: dict[str, str] = {}
    try:
        devices = Devices(ledger, settings.store.id, broker_files(settings))
        for device in DEMO_DEVICES:
            try:
                await devices.get(device.id)
            except NotFound:
                _, password = await devices.add(device, ACTOR)
            else:
                file = _secret_file(settings, device.id)
                if file.is_file():
                    passwords[device.id] = file.read_text(encoding="utf-8").strip()
                    continue
                password = await devices.rotate(device.id, ACTOR)
            if device.id in LOGINS:
                file = _secret_file(settings, device.id)
                file.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(password + "\n")
                passwords[device.id] = password
    finally:
        await ledger.stop()
    return {k: v for k, v in passwords.items() if k in LOGINS}


@contextlib.asynccontextmanager
async def running_demo_devices(
    settings: Settings, broker_port: int, passwords: dict[str, str]
) -> AsyncIterator[dict[str, Any]]:
    """Run the simulators, their panel and the demo gateway; yield what demo.json says."""
    with contextlib.ExitStack() as sims:
        printer = sims.enter_context(PrinterSimulator())
        scale = sims.enter_context(ScaleSimulator("toledo8217"))
        scanner = sims.enter_context(ScannerSimulator(b"\r"))
        kiosk_scale = sims.enter_context(ScaleSimulator("toledo8217"))
        kiosk_scanner = sims.enter_context(ScannerSimulator(b"\r"))
        config = GatewayConfig(
            id=GATEWAY,
            store=settings.store.id,
            host="127.0.0.1",
            port=broker_port,
            password=passwords[GATEWAY],
            state_dir=settings.mqtt_dir / "gateway-state",
            devices=[
                {"id": "printer-01", "type": "printer", "profile": "epson_tm_t88v",
                 "host": f"127.0.0.1:{printer.port}"},
                {"id": "drawer-01", "type": "drawer", "via": "printer-01"},
                {"id": "scale-01", "type": "scale", "profile": "toledo8217", "port": scale.port},
                {"id": "scanner-01", "type": "scanner", "profile": "serial_cr",
                 "port": scanner.port},
                {"id": "scale-k1", "type": "scale", "profile": "toledo8217",
                 "port": kiosk_scale.port},
                {"id": "scanner-k1", "type": "scanner", "profile": "serial_cr",
                 "port": kiosk_scanner.port},
            ],
        )  # fmt: skip
        panel = Panel(
            Simulators(scanner=scanner, scale=scale, printer=printer,
                       kiosk_scanner=kiosk_scanner, kiosk_scale=kiosk_scale)
        )  # fmt: skip
        panel_url = await panel.start()
        gateway = Gateway(config)
        await gateway.start()
        try:
            yield {
                "gateway": {"id": GATEWAY, "username": GATEWAY, "password": passwords[GATEWAY]},
                "simulators": {
                    "panel": panel_url,
                    "printer-01": {"tcp": f"127.0.0.1:{printer.port}"},
                    "scale-01": {"pty": scale.port, "protocol": "toledo8217"},
                    "scanner-01": {"pty": scanner.port, "suffix": "CR"},
                    "scale-k1": {"pty": kiosk_scale.port, "protocol": "toledo8217"},
                    "scanner-k1": {"pty": kiosk_scanner.port, "suffix": "CR"},
                },
                "printer": printer,
                "scale": scale,
                "scanner": scanner,
                "kiosk_scale": kiosk_scale,
                "kiosk_scanner": kiosk_scanner,
            }
        finally:
            await gateway.stop()
            await panel.stop()


def describe_devices(passwords: dict[str, str]) -> list[dict[str, Any]]:
    """Return the demo's devices for demo.json (with the logins of those that connect)."""
    return [
        {"id": d.id, "type": d.type, "till": d.till, "gateway": d.gateway, "label": d.label,
         **({"username": d.id, "password": passwords[d.id]} if d.id in passwords else {})}
        for d in DEMO_DEVICES
    ]  # fmt: skip
