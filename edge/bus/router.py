"""The device router: every message from a device goes to the use case that owns it.

`status` → device health; `evt/scan` → the product is looked up and pushed to the till or
kiosk the scanner is bound to; `evt/weight` → pushed to the bound till/kiosk and kept as the
scale's last weight; `evt/paper`, `evt/error` → health (a scale's error also withdraws its
weight); a kiosk's `evt/attendant` and `evt/bagging` → the attendant screen; `res/print` →
the print job. Duplicate event ids (QoS 1 is at-least-once) and malformed payloads are counted
and dropped; nothing here raises.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from edge.domain.barcode import VariableMeasureRule
from edge.domain.devices import Device
from edge.domain.errors import DomainError
from edge.ledger.ledger import Ledger
from edge.protocol.mqtt import MessageError, Topic, check_event, check_result, check_status
from edge.services.catalog import resolve_scan
from edge.services.device_center import DeviceCenter

log = logging.getLogger(__name__)

SEEN_IDS = 20000  # event ids remembered for duplicate detection
EVENT_SOURCES = {
    "scan": ("scanner", "kiosk"),
    "weight": ("scale", "kiosk"),
    "paper": ("printer",),
    "attendant": ("kiosk",),
    "bagging": ("kiosk",),
}


def till_channel(till: str) -> str:
    """Return the live channel of a till or kiosk."""
    return f"till:{till}"


class DeviceRouter:
    """Turns device messages into use-case calls and live pushes."""

    def __init__(
        self, ledger: Ledger, center: DeviceCenter, rules: Sequence[VariableMeasureRule]
    ) -> None:
        """Keep the services the router feeds."""
        self.ledger = ledger
        self.center = center
        self.health = center.health
        self.printing = center.printing
        self.hub = center.hub
        self.rules = rules
        self.counts = center.counts
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def drop(self, reason: str, topic: Topic | str, detail: object = "") -> None:
        """Count and log a dropped message."""
        self.counts[f"dropped_{reason}"] += 1
        log.info("dropped MQTT message on %s (%s) %s", topic, reason, detail)

    def duplicate(self, device: str, message_id: str) -> bool:
        """Tell whether an event id was seen already (and remember it)."""
        key = (device, message_id)
        if key in self._seen:
            self.counts["duplicates"] += 1
            return True
        self._seen[key] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        return False

    async def handle(self, topic: Topic, payload: dict[str, Any]) -> None:
        """Route one decoded message from a device (never raises)."""
        device = self.center.devices.get(topic.device)
        if device is None or device.type != topic.type:
            self.drop("unknown_device", topic)
            return
        try:
            if topic.channel == "status":
                self.health.status(device.id, payload, check_status(payload))
            elif topic.channel == "evt":
                await self._event(device, topic.name, check_event(topic.name, payload))
            elif topic.channel == "res":
                await self._result(device, topic.name, payload)
            else:
                self.drop("wrong_direction", topic)
                return
        except MessageError as err:
            self.drop("malformed", topic, err)
            return
        except Exception:
            self.counts["failed"] += 1
            log.exception("handling %s failed", topic)
            return
        self.counts["handled"] += 1

    async def _event(self, device: Device, kind: str, payload: dict[str, Any]) -> None:
        """Handle a device event."""
        if self.duplicate(device.id, payload["id"]):
            return
        sources = EVENT_SOURCES.get(kind)
        if sources is not None and device.type not in sources:
            raise MessageError(f"a {device.type} does not send {kind} events")
        self.health.seen(device.id)
        if kind == "scan":
            self.health.ok(device.id)
            await self._scan(device, payload)
        elif kind == "weight":
            self.health.ok(device.id)
            self._weight(device, payload)
        elif kind == "paper":
            self.health.paper(device.id, str(payload.get("state", "")))
        elif kind == "error":
            self._error(device, payload)
        elif kind == "attendant":
            self.health.attendant(device.id, payload)
        elif kind == "bagging":
            self.health.bagging(device.id, payload)

    async def _scan(self, device: Device, payload: dict[str, Any]) -> None:
        """Look a scanned code up and push the item to the bound till or kiosk."""
        till = device.till if device.type == "scanner" else device.id
        if till is None:
            self.drop("unbound", device.id, "scanner bound to no till")
            return
        message: dict[str, Any] = {
            "type": "scan",
            "device": device.id,
            "event": payload["id"],
            "code": payload["code"],
            "symbology": payload.get("symbology", ""),
        }
        try:
            result = await resolve_scan(self.ledger, payload["code"], self.rules)
        except DomainError as err:
            message["error"] = {"code": err.code, "message": err.message}
        else:
            product = result.product
            message["item"] = {
                "kind": result.kind,
                "code": result.code,
                "grams": result.grams,
                "embedded_price": result.embedded_price,
                "product": {
                    "id": product.id,
                    "name_zh": product.name_zh,
                    "name_en": product.name_en,
                    "unit": product.unit,
                    "list_price": product.list_price,
                    "member_price": product.member_price,
                    "sold_by_weight": product.sold_by_weight,
                    "age_restricted": product.age_restricted,
                },
            }
        self.counts["scans"] += 1
        self.hub.publish(till_channel(till), message)

    def _weight(self, device: Device, payload: dict[str, Any]) -> None:
        """Keep a scale's weight and push it to the bound till or kiosk."""
        reading = {
            "type": "weight",
            "device": device.id,
            "event": payload["id"],
            "grams": payload["grams"],
            "stable": payload["stable"],
            "tare_grams": payload.get("tare_grams", 0),
            "ts": payload["ts"],
        }
        self.center.weights[device.id] = reading
        self.counts["weights"] += 1
        till = device.till if device.type == "scale" else device.id
        if till is not None:
            self.hub.publish(till_channel(till), reading)

    def _error(self, device: Device, payload: dict[str, Any]) -> None:
        """Record a device error; a scale's error also withdraws its weight from its till."""
        code = str(payload.get("code", "error"))
        cleared = payload.get("cleared") is True
        self.health.error(device.id, code, cleared)
        if device.type != "scale" or cleared:
            return
        self.center.forget_weight(device.id)
        if device.till is not None:
            self.hub.publish(till_channel(device.till),
                             {"type": "weight_error", "device": device.id, "code": code[:40],
                              "event": payload["id"]})  # fmt: skip

    async def _result(self, device: Device, verb: str, payload: dict[str, Any]) -> None:
        """Handle a device's answer to a command."""
        command, ok, error = check_result(payload)
        self.health.seen(device.id)
        if verb == "print":
            if not await self.printing.answered(command, ok, error, device.id):
                self.counts["duplicates"] += 1
        elif not ok:
            log.warning("%s refused %s %s: %s", device.id, verb, command, error)
