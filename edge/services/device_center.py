"""The devices of the store as the rest of the server uses them.

Records (who is bound to which till), health, print jobs, the scales' last weights, and the
one way to send a command to a device. The bus plugs its sender in when it runs; without a
broker (`mqtt.broker = "off"`) commands answer `bus_offline` and nothing else changes.
After every committed sale the till's printer gets the receipt and its drawer opens when
cash was taken.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from typing import Any

from edge.domain.devices import Device
from edge.domain.errors import Conflict, DomainError, NotFound
from edge.domain.receipt_layout import money
from edge.protocol.chain import Event
from edge.services.catalog import Actor
from edge.services.device_health import DeviceHealth
from edge.services.devices import Devices
from edge.services.live import Hub
from edge.services.printing import CommandSender, PrintJobs

log = logging.getLogger(__name__)


TOTAL = {"zh-CN": "合计", "en": "TOTAL"}
CHANGE = {"zh-CN": "找零", "en": "CHANGE"}


class BusOffline(Conflict):
    """The store's broker is not configured or not connected."""

    code = "bus_offline"


class DeviceCenter:
    """Devices, their health and their commands."""

    def __init__(self, records: Devices, health: DeviceHealth, printing: PrintJobs,
                 hub: Hub) -> None:  # fmt: skip
        """Keep the services devices are made of."""
        self.records = records
        self.health = health
        self.printing = printing
        self.hub = hub
        self.devices: dict[str, Device] = {}
        self.weights: dict[str, dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self.sender: CommandSender | None = None
        self.locale = printing.context.locale
        self.exponent = 2
        printing.drawer_bound = lambda till: self.bound(till, "drawer") is not None

    async def refresh(self) -> None:
        """Reload the device records (after any change to them)."""
        devices = await self.records.devices()
        self.devices = {d.id: d for d in devices}
        self.health.know(devices)

    def bound(self, till: str | None, type_: str) -> Device | None:
        """Return the device of a type bound to a till or kiosk."""
        if till is None:
            return None
        for device in self.devices.values():
            if device.type == type_ and device.till == till:
                return device
        return None

    def weight(self, device_id: str) -> dict[str, Any] | None:
        """Return a scale's current weight: None after an error, or when the scale is not online.

        A weight may price goods, so one the scale has since taken back (motion, overload, a
        lost link) or one from a scale nobody hears any more is never handed out.
        """
        reading = self.weights.get(device_id)
        if reading is None or self.health.get(device_id).state != "online":
            return None
        return reading

    def forget_weight(self, device_id: str) -> None:
        """Drop a scale's weight (it reported an error)."""
        self.weights.pop(device_id, None)

    def device(self, device_id: str) -> Device:
        """Return a device by id (raises NotFound)."""
        device = self.devices.get(device_id)
        if device is None:
            raise NotFound(f"no device {device_id}", code="unknown_device")
        return device

    async def command(self, device_id: str, verb: str, payload: dict[str, Any]) -> str:
        """Send `cmd/{verb}` to a device; return its command id (raises BusOffline)."""
        device = self.device(device_id)
        if self.sender is None:
            raise BusOffline("the device bus is not running")
        command_id = uuid.uuid4().hex
        try:
            await self.sender(device, verb, {**payload, "id": command_id})
        except Exception as err:
            raise BusOffline(f"could not reach the broker: {err}") from err
        return command_id

    async def print_sale(self, sale_id: str, till: str | None, actor: Actor,
                         *, reprint: bool = False) -> dict[str, Any]:  # fmt: skip
        """Queue a sale's receipt on the till's printer (raises NotFound without one)."""
        printer = self.bound(till, "printer")
        if printer is None:
            raise NotFound(f"no printer is bound to {till}", code="no_printer")
        return await self.printing.queue_sale(sale_id, printer, actor, reprint=reprint)

    async def after_sale(self, event: Event) -> None:
        """Print a new sale's receipt on its till's printer; open the drawer for cash."""
        try:
            if self.bound(event.till, "printer") is not None:
                await self.print_sale(
                    event.data["sale"], event.till, Actor(event.staff, event.till)
                )
            drawer = self.bound(event.till, "drawer")
            if drawer is not None and any(t["kind"] == "cash" for t in event.data["tenders"]):
                await self.command(drawer.id, "open", {"pin": 2})
            await self.show(event.till, self.sale_lines(event.data))
        except DomainError as err:
            log.warning("after sale %s: %s", event.data.get("sale"), err)

    async def show(self, till: str | None, lines: list[str]) -> None:
        """Put lines on the till's customer display, if it has one (never raises)."""
        display = self.bound(till, "display")
        if display is None:
            return
        try:
            await self.command(display.id, "show", {"lines": [line[:40] for line in lines]})
        except DomainError as err:
            log.info("display %s: %s", display.id, err)

    def basket_lines(self, priced: dict[str, Any]) -> list[str]:
        """Return what the customer display shows while scanning: the last item, the total."""
        last = priced["lines"][-1] if priced.get("lines") else None
        first = ""
        if last is not None:
            name = last["name_zh"] if self.locale == "zh-CN" else last["name_en"]
            first = f"{name} {money(last['amount'], self.exponent)}"
        return [first, f"{TOTAL[self.locale]} {money(priced['total'], self.exponent)}"]

    def sale_lines(self, sale: dict[str, Any]) -> list[str]:
        """Return what the customer display shows after a sale: total and change."""
        return [
            f"{TOTAL[self.locale]} {money(sale['total'], self.exponent)}",
            f"{CHANGE[self.locale]} {money(sale.get('change', 0), self.exponent)}",
        ]

    def snapshot(self) -> list[dict[str, Any]]:
        """Return every device with its health."""
        return [self.health.view(device) for device in sorted(self.devices.values(),
                                                              key=lambda d: d.id)]  # fmt: skip

    def alerts(self) -> list[dict[str, Any]]:
        """Return the device alerts of the store."""
        return self.health.alerts(self.devices.values())
