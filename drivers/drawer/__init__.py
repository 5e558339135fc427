"""Cash drawers: a drawer hangs off a receipt printer's kick-out connector.

Config: {"id": "drawer-01", "type": "drawer", "via": "printer-01"} (the printer must be listed
before the drawer in the gateway config) and optionally "pin": 2 or 5. A drawer needs no
profile; one may give `pin` too. Command `open` {"pin"?} kicks it through the printer's link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from drivers.base import DeviceError, Driver, ProfileError
from drivers.printer import PrinterDriver
from drivers.printer.link import PeerTransport

__all__ = ["DrawerDriver", "check_profile", "create"]


def check_profile(profile: Mapping[str, Any]) -> list[str]:
    """Return every problem of a drawer profile (it may be empty; `pin` must be 2 or 5)."""
    problems = []
    if "pin" in profile and profile["pin"] not in (2, 5):
        problems.append("pin must be 2 or 5")
    if "model" in profile and not isinstance(profile["model"], str):
        problems.append("model must be text")
    return problems


class DrawerDriver(Driver):
    """A cash drawer opened through the printer it is wired to."""

    family: ClassVar[str] = "drawer"

    def __init__(
        self, device_id: str, profile: Mapping[str, Any], printer: PrinterDriver, pin: int | None
    ) -> None:
        """Keep the printer that carries the kick and the pin to pulse."""
        super().__init__(device_id, profile, PeerTransport(printer.device_id))
        self.printer = printer
        self.pin = pin

    async def stop(self) -> None:
        """Nothing to release: the printer owns the link."""

    async def command(self, verb: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Carry out `open`: pulse the drawer pin through the printer."""
        if verb != "open":
            raise DeviceError("unsupported", f"a drawer cannot {verb!r}")
        pin = payload.get("pin", self.pin)
        if pin is not None and (isinstance(pin, bool) or pin not in (2, 5)):
            raise DeviceError("invalid_pin", "pin must be 2 or 5")
        return {"pin": await self.printer.kick(pin)}

    def describe(self) -> dict[str, Any]:
        """Return the status fields: the model and the printer it hangs off."""
        model = str(self.profile.get("model", "cash drawer"))
        return {"model": model, "fw": "", "via": self.printer.device_id}


def create(
    device_id: str,
    config: Mapping[str, Any],
    profile: Mapping[str, Any],
    peers: Mapping[str, Driver],
) -> DrawerDriver:
    """Return a drawer driver on the printer named by config["via"] (raises ProfileError)."""
    problems = check_profile(profile)
    via = config.get("via")
    printer = peers.get(via) if isinstance(via, str) else None
    if not isinstance(printer, PrinterDriver):
        problems.append(f"via must name a printer created before the drawer (got {via!r})")
    pin = config.get("pin", profile.get("pin"))
    if pin is not None and pin not in (2, 5):
        problems.append("pin must be 2 or 5")
    if problems or not isinstance(printer, PrinterDriver):
        raise ProfileError(f"{device_id}: " + "; ".join(problems))
    return DrawerDriver(device_id, profile, printer, pin)
