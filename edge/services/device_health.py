"""Device health: who is online, when each device was last heard, paper, kiosk calls.

Kept in memory: after a restart it is rebuilt in a second from the broker's retained `status`
messages, which are the devices' own statement of their state (a Last Will for the ones that
died). A gateway's Will marks every device it bridges lost. Changes are pushed on the `devices`
channel (the back office) and kiosk calls on the `attendant` channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.domain.devices import Device
from edge.services.live import Hub

ATTENDANT_REASONS = ("age_check", "weight_mismatch", "void", "help", "payment", "other")


# Conditions of normal use that need nobody: goods moving on a scale, an empty platform after
# tare, a label read badly once. Any other error code is an alert until it clears.
PASSING_ERRORS = frozenset({"motion", "under_zero", "garbled"})


@dataclass
class Health:
    """What is known about one device right now."""

    state: str = "unknown"  # online | offline | lost | unknown (never heard)
    since: str | None = None
    last_seen: str | None = None
    model: str = ""
    fw: str = ""
    paper: str | None = None  # printers: ok | near_end | out
    error: str | None = None  # the last error event's code, cleared by a good event
    attendant: list[dict[str, Any]] = field(default_factory=list)  # kiosks: open calls
    bagging: dict[str, Any] | None = None  # kiosks: the last bagging-area check


class DeviceHealth:
    """Health of every device of the store."""

    def __init__(self, hub: Hub, clock: Callable[[], datetime]) -> None:
        """Keep the hub for pushes and the clock."""
        self.hub = hub
        self.clock = clock
        self._health: dict[str, Health] = {}
        self._gateways: dict[str, set[str]] = {}

    def know(self, devices: Iterable[Device]) -> None:
        """Learn which devices each gateway bridges."""
        self._gateways = {}
        for device in devices:
            if device.gateway:
                self._gateways.setdefault(device.gateway, set()).add(device.id)

    def get(self, device_id: str) -> Health:
        """Return (creating) one device's health."""
        health = self._health.get(device_id)
        if health is None:
            health = self._health[device_id] = Health()
        return health

    def seen(self, device_id: str) -> Health:
        """Note that a device was heard from now."""
        health = self.get(device_id)
        health.last_seen = self.clock().isoformat()
        return health

    def status(self, device_id: str, payload: dict[str, Any], state: str) -> None:
        """Apply a `status` message (and a gateway's to the devices it bridges)."""
        health = self.seen(device_id) if state == "online" else self.get(device_id)
        self._set_state(device_id, health, state)
        health.model = str(payload.get("model", health.model))[:60]
        health.fw = str(payload.get("fw", health.fw))[:40]
        if state != "online":
            for attached in self._gateways.get(device_id, ()):
                self._set_state(attached, self.get(attached), "lost" if state == "lost" else state)

    def _set_state(self, device_id: str, health: Health, state: str) -> None:
        """Change a state and tell the back office."""
        if health.state != state:
            health.state = state
            health.since = self.clock().isoformat()
            self.hub.publish("devices", {"type": "device", "device": device_id, "state": state})

    def paper(self, device_id: str, state: str) -> None:
        """Apply a printer's paper state."""
        health = self.seen(device_id)
        if state in ("ok", "near_end", "out") and health.paper != state:
            health.paper = state
            self.hub.publish("devices", {"type": "paper", "device": device_id, "paper": state})

    def error(self, device_id: str, code: str, cleared: bool = False) -> None:
        """Apply a device's error event (`cleared`: the condition is over)."""
        health = self.seen(device_id)
        if cleared:
            if health.error == code[:40]:
                self.ok(device_id)
            return
        if health.error != code[:40]:
            health.error = code[:40]
            self.hub.publish("devices", {"type": "error", "device": device_id, "code": code[:40]})

    def ok(self, device_id: str) -> None:
        """Clear a device's error: it reported a good reading (a weight, a scan) or said so."""
        health = self.get(device_id)
        if health.error is not None:
            health.error = None
            self.hub.publish("devices", {"type": "error", "device": device_id, "code": None})

    def attendant(self, kiosk: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply a kiosk's call for an attendant (or its clearing) and push it."""
        health = self.seen(kiosk)
        call = {
            "id": str(payload["id"]),
            "reason": str(payload.get("reason", "other"))
            if payload.get("reason") in ATTENDANT_REASONS
            else "other",
            "detail": str(payload.get("detail", ""))[:200],
            "at": self.clock().isoformat(),
        }
        if payload.get("state") == "cleared":
            health.attendant = [c for c in health.attendant if c["id"] != payload.get("call")]
        elif len(health.attendant) < 20:
            health.attendant.append(call)
        message = {"type": "kiosk", "kiosk": kiosk, **self.kiosk_view(kiosk)}
        self.hub.publish("attendant", message)
        return message

    def bagging(self, kiosk: str, payload: dict[str, Any]) -> None:
        """Apply a kiosk's bagging-area check and push it."""
        health = self.seen(kiosk)
        health.bagging = {
            key: payload[key]
            for key in ("expected_grams", "actual_grams", "ok")
            if isinstance(payload.get(key), int | bool)
        }
        self.hub.publish("attendant", {"type": "kiosk", "kiosk": kiosk, **self.kiosk_view(kiosk)})

    def clear_call(self, kiosk: str, call: str) -> bool:
        """Close an attendant call (the attendant approved); tell whether it was open."""
        health = self.get(kiosk)
        before = len(health.attendant)
        health.attendant = [c for c in health.attendant if c["id"] != call]
        self.hub.publish("attendant", {"type": "kiosk", "kiosk": kiosk, **self.kiosk_view(kiosk)})
        return len(health.attendant) < before

    def kiosk_view(self, kiosk: str) -> dict[str, Any]:
        """Return what the attendant screen shows of a kiosk."""
        health = self.get(kiosk)
        return {
            "state": health.state,
            "calls": list(health.attendant),
            "bagging": health.bagging,
            "last_seen": health.last_seen,
        }

    def view(self, device: Device) -> dict[str, Any]:
        """Return a device record with its health."""
        health = self.get(device.id)
        return {
            "id": device.id,
            "type": device.type,
            "gateway": device.gateway,
            "till": device.till,
            "label": device.label,
            "state": health.state,
            "since": health.since,
            "last_seen": health.last_seen,
            "model": health.model,
            "fw": health.fw,
            "paper": health.paper,
            "error": health.error,
        }

    def alerts(self, devices: Iterable[Device]) -> list[dict[str, Any]]:
        """Return what needs someone's attention: devices not online, printers short of paper."""
        alerts = []
        for device in devices:
            health = self.get(device.id)
            if health.state in ("offline", "lost"):
                alerts.append(
                    {"device": device.id, "kind": health.state, "since": health.since,
                     "severity": "critical" if health.state == "lost" else "warning"}
                )  # fmt: skip
            if health.error is not None and health.error not in PASSING_ERRORS:
                alerts.append(
                    {"device": device.id, "kind": "error", "code": health.error, "since": None,
                     "severity": "warning"}
                )  # fmt: skip
            if health.paper in ("out", "near_end"):
                alerts.append(
                    {"device": device.id, "kind": f"paper_{health.paper}", "since": None,
                     "severity": "critical" if health.paper == "out" else "warning"}
                )  # fmt: skip
        return alerts

    def counts(self) -> dict[str, int]:
        """Return how many devices are in each state."""
        counts: dict[str, int] = {}
        for health in self._health.values():
            counts[health.state] = counts.get(health.state, 0) + 1
        return counts
